"""Exceptions that carry a reason a person can act on."""


class InputError(Exception):
    """Bad input (unreadable path, no usable series, ...): the CLI exits 2 with this message."""

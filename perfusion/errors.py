"""The one exception of the library: a reason a radiologist can read."""


class PerfusionError(Exception):
    """The study cannot be analysed (too few frames, no AIF, excessive motion, ...)."""

"""The service's perfusion settings: a ``[perfusion]`` table in the TOML settings file, or
``STROKEALERT_PERFUSION__<FIELD>`` environment variables, checked against every field of
:class:`perfusion.PerfusionConfig` (units as documented there: s, mm, mL, HU)."""

from __future__ import annotations

import dataclasses
import difflib
import json
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError

from strokealert.config import Settings
from strokealert.errors import InputError

if TYPE_CHECKING:
    from perfusion.config import PerfusionConfig


def perfusion_config(settings: Settings) -> PerfusionConfig:
    """``settings.perfusion`` as a :class:`PerfusionConfig` (defaults for what is not set).

    Raises :class:`InputError` naming the field for an unknown field or a value of the wrong
    type or range. Values from the environment arrive as text and are read as JSON when they
    are JSON (``0.3``, ``true``, ``[4, 6, 8, 10]``); the others stay text (``bcsvd``).
    """
    from perfusion.config import PerfusionConfig

    known = {f.name for f in dataclasses.fields(PerfusionConfig)}
    values: dict[str, Any] = {}
    for name, value in settings.perfusion.items():
        field_name = name.lower()
        if field_name not in known:
            close = difflib.get_close_matches(field_name, sorted(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise InputError(f"unknown perfusion setting {name!r}{hint}")
        values[field_name] = _from_text(value) if isinstance(value, str) else value
    try:
        return TypeAdapter(PerfusionConfig).validate_python(values)
    except ValidationError as exc:
        reasons = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'perfusion'}: {error['msg']}"
            for error in exc.errors())
        raise InputError(f"invalid perfusion setting: {reasons}") from None


def _from_text(text: str) -> Any:
    """JSON when ``text`` is JSON, else ``text`` itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text

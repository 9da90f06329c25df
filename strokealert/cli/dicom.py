"""DICOM commands: ``serve``, ``send``, ``studies``."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Registers the DICOM commands (filled in by the receiver work)."""

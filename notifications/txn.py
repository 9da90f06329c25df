"""Transactions that SQLite may refuse for a moment (another connection is writing)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import OperationalError

T = TypeVar("T")


def retry_on_busy(work: Callable[[], T], attempts: int = 20) -> T:
    """Run ``work`` (one whole transaction) again when SQLite reports the database busy."""
    for attempt in range(attempts):
        try:
            return work()
        except OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or attempt == attempts - 1:
                raise
            threading.Event().wait(0.01 * (attempt + 1))
    raise AssertionError("unreachable")

"""Time source of the engine and relay; tests inject a :class:`FakeClock` to fast-forward."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    """Wall-clock UTC time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that only moves when told to (thread-safe)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 3, 14, 2, 49, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float = 0.0, minutes: float = 0.0) -> datetime:
        """Move forward by ``seconds`` + ``minutes``; returns the new time."""
        with self._lock:
            self._now += timedelta(seconds=seconds, minutes=minutes)
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when

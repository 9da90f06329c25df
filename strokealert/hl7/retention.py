"""Retention of stored HL7 messages: raw messages (they carry PHI) received more than
``hl7_retention_days`` ago are deleted, every ``retention_interval_s``.

What a message brought to a case stays: the case's times, the timeline events with their values
and outcomes, and the audit entries; only a timeline event's link to the deleted message is
cleared. The duplicate check then no longer knows the deleted control IDs, so a sender resending
a message older than the retention has it applied again, like a new one (the same times change
nothing; a differing time beside a hand entry is shown as a conflict, as always).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from strokealert.config import Settings
from strokealert.db.models.hl7 import Hl7Message, TimelineEvent

log = logging.getLogger(__name__)

PURGE_CHUNK = 500
"""Messages deleted per transaction."""
FIRST_PURGE_S = 60.0
"""The first purge after a start waits at most this long (seconds)."""


def purge_messages(factory: sessionmaker[Session], cutoff: datetime) -> int:
    """Delete the messages received before ``cutoff`` (UTC), in chunks; returns how many."""
    removed = 0
    while True:
        with factory.begin() as session:
            ids = list(session.scalars(select(Hl7Message.id)
                                       .where(Hl7Message.received_at < cutoff)
                                       .order_by(Hl7Message.id).limit(PURGE_CHUNK)))
            if not ids:
                break
            session.execute(update(TimelineEvent).where(TimelineEvent.message_id.in_(ids))
                            .values(message_id=None))
            session.execute(delete(Hl7Message).where(Hl7Message.id.in_(ids)))
            removed += len(ids)
    if removed:
        log.info("hl7 retention: deleted %d messages received before %s", removed,
                 cutoff.isoformat())
    return removed


class Hl7Retention:
    """A ``strokealert serve`` component: a thread that runs :func:`purge_messages` with the
    cutoff ``hl7_retention_days`` before now, first within ``FIRST_PURGE_S`` of the start, then
    every ``retention_interval_s`` seconds."""

    def __init__(self, settings: Settings, factory: sessionmaker[Session]) -> None:
        self.factory = factory
        self.retention_days = settings.hl7_retention_days
        self.interval_s = settings.retention_interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def purge(self) -> int:
        """Purge now; returns how many messages were deleted (0 when the database failed)."""
        cutoff = datetime.now(UTC) - timedelta(days=self.retention_days)
        try:
            return purge_messages(self.factory, cutoff)
        except Exception:
            log.exception("hl7 retention: the purge failed; it is retried in %.0f s",
                          self.interval_s)
            return 0

    def _run(self) -> None:
        wait = min(FIRST_PURGE_S, self.interval_s)
        while not self._stop.wait(wait):
            started = time.monotonic()
            self.purge()
            wait = max(0.0, self.interval_s - (time.monotonic() - started))

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="hl7-retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

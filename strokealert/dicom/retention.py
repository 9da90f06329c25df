"""Retention: received images older than the configured age are deleted, files and rows.

Series and studies left without images go too; quarantined objects older than the cutoff as
well. Completion events stay (they are the pipeline's history and carry no pixel data).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from strokealert.db.models.ingest import Instance, QuarantinedFile, Series, Study
from strokealert.dicom.store import ImageStore

log = logging.getLogger(__name__)

PURGE_CHUNK = 1000
FIRST_PURGE_S = 60.0  # the first purge after a start waits at most this long


class Retention:
    """When and what to purge: images older than ``retention_days``, every ``interval_s``
    seconds (the first one at most ``FIRST_PURGE_S`` after the start)."""

    def __init__(self, factory: sessionmaker[Session], store: ImageStore,
                 retention_days: float, interval_s: float) -> None:
        self.factory = factory
        self.store = store
        self.retention_days = retention_days
        self.interval_s = interval_s
        self.next_at = time.time() + min(FIRST_PURGE_S, interval_s)  # epoch s

    def due(self, now: float) -> bool:
        return now >= self.next_at

    def purge(self) -> int:
        """Purge now; returns how many images were removed."""
        self.next_at = time.time() + self.interval_s
        cutoff = datetime.now(UTC) - timedelta(days=self.retention_days)
        return purge_expired(self.factory, self.store, cutoff)


def purge_expired(factory: sessionmaker[Session], store: ImageStore, cutoff: datetime) -> int:
    """Delete instances received before ``cutoff`` (UTC); returns how many were removed."""
    removed = 0
    while True:
        with factory.begin() as session:
            rows = session.execute(select(Instance.id, Instance.path, Instance.series_id)
                                   .where(Instance.received_at < cutoff)
                                   .limit(PURGE_CHUNK)).all()
            if not rows:
                break
            for _row_id, path, _series_id in rows:
                store.remove_instance(Path(path))
            session.execute(delete(Instance).where(Instance.id.in_([r[0] for r in rows])))
            for series_id in {r[2] for r in rows}:
                left = session.scalar(select(func.count(Instance.id))
                                      .where(Instance.series_id == series_id))
                if left:
                    session.execute(update(Series).where(Series.id == series_id)
                                    .values(instance_count=left))
                else:
                    session.execute(delete(Series).where(Series.id == series_id))
            removed += len(rows)
    with factory.begin() as session:
        empty = select(Study.id).where(~select(Series.id).where(Series.study_id == Study.id)
                                       .exists())
        session.execute(delete(Study).where(Study.id.in_(empty)))
        old = session.execute(select(QuarantinedFile.id, QuarantinedFile.path)
                              .where(QuarantinedFile.received_at < cutoff)).all()
        for _row_id, path in old:
            Path(path).unlink(missing_ok=True)
            Path(path).with_suffix(".reason.txt").unlink(missing_ok=True)
        if old:
            session.execute(delete(QuarantinedFile)
                            .where(QuarantinedFile.id.in_([r[0] for r in old])))
    if removed:
        log.info("retention: purged %d images received before %s", removed, cutoff.isoformat())
    return removed

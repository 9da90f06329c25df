"""The pipeline dispatcher wakes on a completion event committed by another connection."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from strokealert import db
from strokealert.config import Settings
from strokealert.db.models.ingest import CompletionEvent
from strokealert.pipeline.component import PipelineComponent


class RecordingExecutor:
    """An executor that only remembers what it was given (the dispatcher is under test)."""

    def __init__(self) -> None:
        self.submitted: list[int] = []

    def submit(self, job_id: int) -> None:
        self.submitted.append(job_id)

    def in_flight(self) -> set[int]:
        return set()

    def shutdown(self) -> None:
        pass


def test_completion_insert_notifies_the_dispatcher(postgres_url: str, tmp_path: Path) -> None:
    """PostgreSQL only: the completion_events trigger NOTIFYs (SQLite keeps the callbacks)."""
    db.upgrade(postgres_url)
    migrated_url = postgres_url
    listener_engine, writer_engine = db.make_engine(migrated_url), db.make_engine(migrated_url)
    factory = db.make_session_factory(listener_engine)
    settings = Settings(database_url=migrated_url, data_dir=tmp_path / "var")
    dispatcher = PipelineComponent(settings, factory, executor=RecordingExecutor(), poll_s=30.0)
    dispatcher.start()
    try:
        time.sleep(1.0)  # the first pass is over; the dispatcher idles on its 30 s poll
        with db.make_session_factory(writer_engine).begin() as session:  # "the ingest process"
            event = CompletionEvent(level="series", study_instance_uid="1.2.3",
                                    series_instance_uid="1.2.3.4", reason="count",
                                    instance_count=40, created_at=datetime.now(UTC))
            session.add(event)
        committed = time.monotonic()
        consumed = None
        while consumed is None and time.monotonic() - committed < 5.0:
            time.sleep(0.01)
            with factory() as session:
                consumed = session.scalar(select(CompletionEvent.consumed_at)
                                          .where(CompletionEvent.id == event.id))
        assert consumed is not None, "the dispatcher was not woken"
        print(f"\ncompletion commit -> consumed by the dispatcher (poll 30 s): "
              f"{(time.monotonic() - committed) * 1000:.0f} ms")
        assert time.monotonic() - committed < 2.0
    finally:
        dispatcher.stop()
        listener_engine.dispose()
        writer_engine.dispose()

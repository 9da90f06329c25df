"""The PPV floor: judged once enough positive calls are confirmed; falling below it opens one
episode with one operational alert; back above it closes the episode; the next fall opens a
new one. Unconfirmed positive calls never count."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from notifications.clock import FakeClock
from notifications.models import Alert
from strokealert.config import Settings
from strokealert.db.models.monitoring import Episode
from strokealert.monitoring.fingerprint import InputValues
from strokealert.pipeline.monitor import MonitoringSweep, check_alarms
from tests.monitoring.conftest import add_case, confirm, lvo_block

START = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)


def test_ppv_below_the_floor_alerts_once_per_episode(
        tmp_path: Path, sqlite_url: str, factory: sessionmaker[Session],
        clock: FakeClock) -> None:
    settings = Settings(database_url=sqlite_url, data_dir=tmp_path,
                        monitoring={"ppv_floor": 0.5, "ppv_min_confirmed": 10})

    def call(truth: bool | None) -> list[Episode]:
        now = clock.advance(minutes=60)
        with factory.begin() as session:
            case = add_case(session, lvo_block(positive=True), InputValues(), now)
            if truth is not None:
                confirm(session, case, now, lvo=truth)
            return check_alarms(session, settings, factory, "lvo", now)

    for _ in range(20):  # unconfirmed positives: nothing to judge
        assert call(None) == []
    # 9 confirmed false positives: PPV 0 but below the 10 needed to judge.
    assert [call(False) for _ in range(9)] == [[]] * 9
    opened = call(False)  # the 10th: PPV 0/10 < 0.5
    assert [(e.kind, e.value) for e in opened] == [("ppv_floor", 0.0)]
    assert [call(False) for _ in range(3)] == [[]] * 3  # still the same episode
    for _ in range(14):  # 14 true of 27 confirmed: PPV 0.52, back above the floor
        assert call(True) == []
    with factory() as session:
        first = session.scalars(select(Episode)).one()
        assert first.closed_at is not None and first.open_key is None
    reopened = [e for _ in range(3) for e in call(False)]  # 14/30 = 0.47 again
    assert len(reopened) == 1
    with factory() as session:
        assert len(list(session.scalars(select(Alert)))) == 2  # one per episode


def test_the_periodic_sweep_judges_confirmations_that_came_without_a_check(
        tmp_path: Path, sqlite_url: str, factory: sessionmaker[Session],
        clock: FakeClock) -> None:
    """Final reports over HL7 confirm cases without re-checking the alarms; the service's
    sweep does, once per episode, and its thread starts and stops on request."""
    settings = Settings(database_url=sqlite_url, data_dir=tmp_path,
                        monitoring={"ppv_floor": 0.5, "ppv_min_confirmed": 10,
                                    "sweep_interval_s": 0.05})
    with factory.begin() as session:
        for _ in range(12):
            now = clock.advance(minutes=30)
            confirm(session, add_case(session, lvo_block(positive=True), InputValues(), now),
                    now, lvo=False)
    sweep = MonitoringSweep(settings, factory)
    assert [(e.kind, e.value) for e in sweep.sweep()] == [("ppv_floor", 0.0)]
    sweep.start()
    try:
        clock.advance(minutes=5)
        time.sleep(0.3)  # several sweeps: the episode is open, nothing more is sent
    finally:
        sweep.stop()
    with factory() as session:
        assert len(list(session.scalars(select(Episode)))) == 1
        assert len(list(session.scalars(select(Alert)))) == 1

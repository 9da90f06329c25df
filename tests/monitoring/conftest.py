"""Fixtures: a migrated SQLite database, and helpers that write cases, fingerprints and
confirmations through the project's own functions (no images)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from notifications.clock import FakeClock
from strokealert import alerting, db
from strokealert.cases import upsert_case_from_analysis
from strokealert.db.models.cases import Case
from strokealert.monitoring import confirmations, fingerprint


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'monitoring.sqlite3'}"
    db.upgrade(url)
    return url


@pytest.fixture
def clock(request: pytest.FixtureRequest) -> Iterator[FakeClock]:
    """The alerting fake clock, from the test module's ``START``."""
    fake = FakeClock(request.module.START)
    alerting.set_clock(fake)
    yield fake
    alerting.set_clock(None)


@pytest.fixture
def factory(sqlite_url: str) -> Iterator[sessionmaker[Session]]:
    engine = db.make_engine(sqlite_url)
    yield db.make_session_factory(engine)
    engine.dispose()


def lvo_block(*, positive: bool, manual_review: bool = False,
              model: str = "lvo-cnn@3") -> dict[str, Any]:
    return {"status": "ok", "error": None, "probability": 0.9 if positive else 0.1,
            "suspected": positive, "threshold": 0.5, "side": "left" if positive else "none",
            "site": "M1" if positive else None, "model": model,
            "manual_review": manual_review, "key_images": []}


def add_case(session: Session, block: dict[str, Any], values: fingerprint.InputValues,
             at: datetime, *, alerted: bool = True) -> Case:
    """A case decided from ``block`` (through the pipeline's upsert) with its fingerprint."""
    uid = f"2.25.{uuid.uuid4().int}"[:64]
    level = "critical" if block.get("suspected") else "none"
    case = upsert_case_from_analysis(
        session, study=None, site="Test CT",
        result={"schema": "strokealert.analysis/1", "study_instance_uid": uid, "series": [],
                "perfusion": {"status": "not_run"}, "lvo": block,
                "alert": {"level": level, "reasons": []}})
    case.created_at = at
    if alerted and block.get("suspected"):
        case.alert_sent_at = at
    fingerprint.record(session, case_id=case.id, analysis="lvo", series_uid=uid + ".1",
                       values=values, call=fingerprint.call_of("lvo", block), analysed_at=at,
                       computed_at=at)
    return case


def confirm(session: Session, case: Case, at: datetime, **finding: Any) -> None:
    confirmations.record(session, case.id, confirmations.Finding(**finding),
                         reader="dr.reader", role="radiologist", source="manual", at=at)

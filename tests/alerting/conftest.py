"""Fixtures: strokealert's alerting (Settings → channels, relay, engine) on a migrated database.

The provider fakes and the stroke team are the library tests' (tests/notifications/stroke_team.py).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from notifications.clock import FakeClock
from notifications.directory import load_directory
from notifications.models import OutboxMessage
from strokealert import alerting, db
from strokealert.config import Settings
from tests.notifications import stroke_team as team

rsa_pem, fakes = team.rsa_pem, team.fakes  # the shared fixtures


def make_settings(url: str, data_dir: Path, fakes: team.Fakes, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        database_url=url, data_dir=data_dir, public_url=team.PUBLIC_URL,
        secret_key=team.SIGNING_SECRET,
        webhook_url=f"{fakes.webhook.url}/hooks/stroke", webhook_secret=team.WEBHOOK_SECRET,
        escalation_policy="stroke", notify_timeout_s=1.0, notify_max_attempts=6,
        fcm_credentials_file=fakes.credentials, fcm_endpoint=fakes.fcm.url,
        twilio_account_sid=fakes.twilio.account_sid, twilio_auth_token=fakes.twilio.auth_token,
        twilio_from_number=team.TWILIO_FROM, twilio_base_url=fakes.twilio.url,
        smtp_host="127.0.0.1", smtp_port=fakes.smtp.port, smtp_sender="alerts@hospital.example",
        scheduler_interval_s=0.2)
    values.update(overrides)
    return Settings(**values)


@dataclass
class Service:
    """strokealert's alerting on a migrated database, built but with no threads running."""

    settings: Settings
    engine: Engine
    factory: sessionmaker[Session]
    component: alerting.AlertingComponent
    fakes: team.Fakes

    def drain(self) -> int:
        assert self.component.relay is not None
        return self.component.relay.drain()

    def raise_alert(self, case_id: str = "case-1", **kw: Any) -> str:
        values: dict[str, Any] = dict(
            level="critical", kind="new", title="LVO suspected: left M1",
            body="Core 21 mL, Tmax>6 s 102 mL, mismatch 4.8", site="Main campus CT2",
            url=f"{team.PUBLIC_URL}/cases/{case_id}", key_images=["lvo_mip.png"])
        values.update(kw)
        with self.factory.begin() as session:
            return alerting.raise_alert(session, self.settings, case_id=case_id, **values)

    def rows(self, **where: Any) -> list[OutboxMessage]:
        return team.outbox_rows(self.factory, **where)


@pytest.fixture
def service(migrated_url: str, tmp_path: Path, fakes: team.Fakes) -> Iterator[Service]:
    settings = make_settings(migrated_url, tmp_path / "var", fakes)
    engine = db.make_engine(migrated_url)
    factory = db.make_session_factory(engine)
    with factory.begin() as session:
        load_directory(session, copy.deepcopy(team.STROKE_TEAM), FakeClock().now())
    component = alerting.AlertingComponent(settings, factory)
    component.build()
    result = Service(settings, engine, factory, component, fakes)
    yield result
    result.component.stop()
    engine.dispose()


@pytest.fixture
def fake_clock() -> Iterator[FakeClock]:
    """The clock of every notifier the service builds while the test runs."""
    clock = FakeClock()
    alerting.set_clock(clock)
    yield clock
    alerting.set_clock(None)

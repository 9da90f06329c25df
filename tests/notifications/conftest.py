"""Fixtures: provider fakes, a fake clock, and the service's alerting on a migrated database."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeFcm, FakeSmtp, FakeTwilio, FakeWebhook
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from notifications.clock import FakeClock
from notifications.directory import load_directory
from notifications.models import OutboxMessage
from strokealert import alerting, db
from strokealert.config import Settings

PUBLIC_URL = "https://strokealert.example.org"
WEBHOOK_SECRET = "webhook-secret"
TWILIO_FROM = "+15550009999"

# The README's worked example: a stroke team.
STROKE_TEAM: dict[str, Any] = {
    "people": [
        {"name": "Dr Ada Okafor", "roles": ["neurologist"], "time_zone": "America/New_York",
         "devices": [{"token": "tok-ada", "platform": "android"}],
         "contacts": [{"type": "sms", "address": "+15550000001"}],
         "rules": [{"channel": "push", "after_minutes": 0},
                   {"channel": "sms", "after_minutes": 2}]},
        {"name": "Dr Ben Laine", "roles": ["neurologist"],
         "devices": [{"token": "tok-ben", "platform": "ios"}],
         "contacts": [{"type": "sms", "address": "+15550000002"}]},
        {"name": "Dr Cyd Ramos", "roles": ["neuro-interventionalist"],
         "devices": [{"token": "tok-cyd", "platform": "android"}],
         "contacts": [{"type": "sms", "address": "+15550000003"}]},
        {"name": "Dr Dev Patel", "roles": ["radiologist"],
         "contacts": [{"type": "email", "address": "dev.patel@hospital.example"},
                      {"type": "sms", "address": "+15550000004"}],
         "rules": [{"channel": "email", "after_minutes": 0},
                   {"channel": "sms", "after_minutes": 2}]},
        {"name": "Eve Tran", "roles": ["ct-technologist"],
         "devices": [{"token": "tok-eve", "platform": "android"}],
         "contacts": [{"type": "mms", "address": "+15550000005"}],
         "rules": [{"channel": "push", "after_minutes": 0},
                   {"channel": "mms", "after_minutes": 2}]},
    ],
    "schedules": [
        {"name": "stroke-neurology", "time_zone": "America/New_York",
         "rotations": [{"name": "daily", "start": "2026-03-01T08:00", "shift_hours": 24,
                        "participants": ["Dr Ada Okafor", "Dr Ben Laine"]}]},
    ],
    "policies": [
        {"name": "stroke", "repeat": 1, "steps": [
            {"delay_minutes": 5,
             "targets": [{"schedule": "stroke-neurology"}, {"role": "ct-technologist"}]},
            {"delay_minutes": 5,
             "targets": [{"role": "neuro-interventionalist"}, {"role": "radiologist"}]},
        ]},
    ],
}


@dataclass
class Fakes:
    fcm: FakeFcm
    twilio: FakeTwilio
    webhook: FakeWebhook
    smtp: FakeSmtp
    credentials: Path


@pytest.fixture(scope="session")
def rsa_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.fixture
def fakes(tmp_path: Path, rsa_pem: str) -> Iterator[Fakes]:
    fcm, twilio, webhook, smtp = FakeFcm(), FakeTwilio(), FakeWebhook(), FakeSmtp()
    for fake in (fcm, twilio, webhook):
        fake.hang_s = 1.6
    credentials = fcm.service_account(tmp_path / "firebase.json", pem=rsa_pem)
    yield Fakes(fcm, twilio, webhook, smtp, credentials)
    for closeable in (fcm, twilio, webhook, smtp):
        closeable.close()


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    fake = FakeClock()
    alerting.set_clock(fake)
    yield fake
    alerting.set_clock(None)


def make_settings(url: str, data_dir: Path, fakes: Fakes, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        database_url=url, data_dir=data_dir, public_url=PUBLIC_URL, secret_key="test-key",
        webhook_url=f"{fakes.webhook.url}/hooks/stroke", webhook_secret=WEBHOOK_SECRET,
        escalation_policy="stroke", notify_timeout_s=1.0, notify_max_attempts=6,
        fcm_credentials_file=fakes.credentials, fcm_endpoint=fakes.fcm.url,
        twilio_account_sid=fakes.twilio.account_sid, twilio_auth_token=fakes.twilio.auth_token,
        twilio_from_number=TWILIO_FROM, twilio_base_url=fakes.twilio.url,
        smtp_host="127.0.0.1", smtp_port=fakes.smtp.port, smtp_sender="alerts@hospital.example",
        scheduler_interval_s=0.2)
    values.update(overrides)
    return Settings(**values)


@dataclass
class Stack:
    """The service's alerting on a migrated database, built but with no threads running."""

    settings: Settings
    engine: Engine
    factory: sessionmaker[Session]
    component: alerting.AlertingComponent
    clock: FakeClock
    fakes: Fakes

    def restart(self, **kwargs: Any) -> alerting.AlertingComponent:
        """Throw the component away (a crash loses its memory) and build a fresh one."""
        self.component.stop()
        self.component = alerting.AlertingComponent(self.settings, self.factory, **kwargs)
        self.component.build()
        return self.component

    def drain(self) -> int:
        assert self.component.relay is not None
        return self.component.relay.drain()

    def advance(self, minutes: float = 0.0, seconds: float = 0.0) -> None:
        """Fast-forward: move the clock, wake the engine, send whatever became due."""
        self.clock.advance(minutes=minutes, seconds=seconds)
        self.component.tick()
        self.drain()

    def raise_alert(self, case_id: str = "case-1", kind: str = "new", **kw: Any) -> str:
        values = dict(level="critical", title="LVO suspected: left M1",
                      body="Core 21 mL, Tmax>6 s 102 mL, mismatch 4.8",
                      site="Main campus CT2", url=f"{PUBLIC_URL}/cases/{case_id}",
                      key_images=["lvo_mip.png"])
        values.update(kw)
        with self.factory.begin() as session:
            return alerting.raise_alert(session, case_id=case_id, kind=kind, **values)

    def rows(self, **where: Any) -> list[OutboxMessage]:
        with self.factory() as session:
            query = select(OutboxMessage).order_by(OutboxMessage.id)
            for name, value in where.items():
                query = query.where(getattr(OutboxMessage, name) == value)
            return list(session.scalars(query))


@pytest.fixture
def stack(migrated_url: str, tmp_path: Path, fakes: Fakes, clock: FakeClock) -> Iterator[Stack]:
    settings = make_settings(migrated_url, tmp_path / "var", fakes)
    engine = db.make_engine(migrated_url)
    factory = db.make_session_factory(engine)
    with factory.begin() as session:
        load_directory(session, copy.deepcopy(STROKE_TEAM), clock.now())
    component = alerting.AlertingComponent(settings, factory)
    component.build()
    result = Stack(settings, engine, factory, component, clock, fakes)
    yield result
    result.component.stop()
    engine.dispose()

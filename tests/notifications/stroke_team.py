"""The README's worked example (a stroke team) and the provider fakes it is paged through.

Shared by the library's tests (tests/notifications) and the service's (tests/alerting), whose
conftest files import the ``rsa_pem`` and ``fakes`` fixtures from here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from notifications.models import OutboxMessage
from tests.notifications.fakes import FakeFcm, FakeSmtp, FakeTwilio, FakeWebhook

PUBLIC_URL = "https://strokealert.example.org"
WEBHOOK_SECRET = "webhook-secret"
SIGNING_SECRET = "test-key"
TWILIO_FROM = "+15550009999"

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


def rsa_private_key_pem() -> str:
    """A fresh RSA key (PKCS#8 PEM) for the fake Firebase service account."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@contextmanager
def running_fakes(folder: Path, pem: str) -> Iterator[Fakes]:
    """Every provider fake on loopback (hanging 1.6 s when told to hang), closed afterwards."""
    fcm, twilio, webhook, smtp = FakeFcm(), FakeTwilio(), FakeWebhook(), FakeSmtp()
    for fake in (fcm, twilio, webhook):
        fake.hang_s = 1.6
    credentials = fcm.service_account(folder / "firebase.json", pem=pem)
    try:
        yield Fakes(fcm, twilio, webhook, smtp, credentials)
    finally:
        for closeable in (fcm, twilio, webhook, smtp):
            closeable.close()


def outbox_rows(factory: sessionmaker[Session], **where: Any) -> list[OutboxMessage]:
    """Outbox rows in id order, filtered by column values (``status="sent"``)."""
    with factory() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        for name, value in where.items():
            query = query.where(getattr(OutboxMessage, name) == value)
        return list(session.scalars(query))


@pytest.fixture(scope="session")
def rsa_pem() -> str:
    return rsa_private_key_pem()


@pytest.fixture
def fakes(tmp_path: Path, rsa_pem: str) -> Iterator[Fakes]:
    with running_fakes(tmp_path, rsa_pem) as running:
        yield running

"""Fixtures: provider fakes, a fake clock, and the notifications library on its own tables.

Nothing here imports ``strokealert``: the library is built from its own parts, the way a host
application would build it (tests/alerting covers strokealert's wiring).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from notifications.channels import Channel
from notifications.channels.console import ConsoleChannel
from notifications.channels.fcm import FcmChannel
from notifications.channels.smtp import SmtpChannel
from notifications.channels.twilio_sms import TwilioChannel
from notifications.channels.webhook import WebhookChannel
from notifications.clock import FakeClock
from notifications.directory import load_directory
from notifications.engine import AlertSpec, Notifier
from notifications.inbound import TwilioInbound
from notifications.models import OutboxMessage
from notifications.relay import Links, Relay
from notifications.scheduler import EscalationScheduler
from notifications.schema import metadata
from tests.notifications import stroke_team
from tests.notifications.stroke_team import (
    PUBLIC_URL,
    SIGNING_SECRET,
    STROKE_TEAM,
    TWILIO_FROM,
    WEBHOOK_SECRET,
    Fakes,
    outbox_rows,
)

rsa_pem, fakes = stroke_team.rsa_pem, stroke_team.fakes  # the shared fixtures

__all__ = ["PUBLIC_URL", "SIGNING_SECRET", "STROKE_TEAM", "TWILIO_FROM", "WEBHOOK_SECRET",
           "Library", "Stack"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def library_engine(url: str) -> Engine:
    """An engine on ``url`` with the library's tables (SQLite: WAL and a busy timeout)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
    else:
        engine = create_engine(url, pool_pre_ping=True)
    metadata.create_all(engine)
    return engine


class RecordingWaker:
    """A host's waker in miniature: remembers what the engine announced, wakes the relay."""

    def __init__(self) -> None:
        self.announced: list[str] = []
        self.relay: Relay | None = None

    def notify(self, session: Session, channel: str) -> None:
        self.announced.append(channel)
        if self.relay is not None:
            relay = self.relay
            event.listen(session, "after_commit", lambda _s: relay.wake(), once=True)


@dataclass
class Library:
    """Channels, relay, engine and (when started) scheduler, as a host builds them."""

    factory: sessionmaker[Session]
    fakes: Fakes
    clock: FakeClock
    relay_poll_s: float = 5.0
    channels: dict[str, Channel] = field(init=False)
    relay: Relay = field(init=False)
    notifier: Notifier = field(init=False)
    waker: RecordingWaker = field(init=False)
    scheduler: EscalationScheduler | None = None

    def __post_init__(self) -> None:
        fakes = self.fakes
        callback = f"{PUBLIC_URL}/api/notifications/twilio/status"
        self.channels = {
            "console": ConsoleChannel(),
            "push": FcmChannel(str(fakes.credentials), timeout_s=1.0, endpoint=fakes.fcm.url),
            "email": SmtpChannel("127.0.0.1", fakes.smtp.port, "alerts@hospital.example",
                                 timeout_s=1.0),
            "webhook": WebhookChannel(WEBHOOK_SECRET, timeout_s=1.0),
            **{kind: TwilioChannel(fakes.twilio.account_sid, fakes.twilio.auth_token,
                                   TWILIO_FROM, channel=kind, status_callback=callback,
                                   timeout_s=1.0, base_url=fakes.twilio.url)
               for kind in ("sms", "mms")}}
        self.relay = Relay(self.factory, self.channels, Links(PUBLIC_URL, SIGNING_SECRET),
                           self.clock, max_attempts=6, lease_s=60.0, poll_s=self.relay_poll_s)
        self.waker = RecordingWaker()
        self.waker.relay = self.relay
        self.notifier = Notifier(factory=self.factory, policy="stroke",
                                 channels=frozenset({"push", "sms", "mms", "email"}),
                                 webhook_url=f"{fakes.webhook.url}/hooks/stroke",
                                 clock=self.clock, waker=self.waker)

    @property
    def inbound(self) -> TwilioInbound:
        return TwilioInbound(self.notifier, self.fakes.twilio.auth_token)

    def start(self, scheduler_interval_s: float = 0.2) -> None:
        """Relay thread and escalation scheduler, as a host's service runs them."""
        self.relay.start()
        engine = self.factory.kw["bind"]
        self.scheduler = EscalationScheduler(engine, self.notifier.tick,
                                             interval_s=scheduler_interval_s)
        self.scheduler.start()

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()
            self.scheduler = None
        self.relay.stop()
        for channel in self.channels.values():
            close = getattr(channel, "close", None)
            if close is not None:
                close()
        self.channels.clear()  # stopping twice closes nothing twice


@dataclass
class Stack:
    """The library on a fresh database, built but with no threads running."""

    engine: Engine
    factory: sessionmaker[Session]
    component: Library
    clock: FakeClock
    fakes: Fakes

    def restart(self, **kwargs: Any) -> Library:
        """Throw the library's objects away (a crash loses their memory) and build fresh ones."""
        self.component.stop()
        self.component = Library(self.factory, self.fakes, self.clock, **kwargs)
        return self.component

    @property
    def notifier(self) -> Notifier:
        return self.component.notifier

    def drain(self) -> int:
        return self.component.relay.drain()

    def advance(self, minutes: float = 0.0, seconds: float = 0.0) -> None:
        """Fast-forward: move the clock, wake the engine, send whatever became due."""
        self.clock.advance(minutes=minutes, seconds=seconds)
        self.component.notifier.tick()
        self.drain()

    def raise_alert(self, case_id: str = "case-1", kind: str = "new", **kw: Any) -> str:
        values: dict[str, Any] = dict(
            level="critical", title="LVO suspected: left M1",
            body="Core 21 mL, Tmax>6 s 102 mL, mismatch 4.8", site="Main campus CT2",
            url=f"{PUBLIC_URL}/cases/{case_id}", key_images=("lvo_mip.png",))
        values.update(kw)
        values["key_images"] = tuple(values["key_images"])
        with self.factory.begin() as session:
            return self.notifier.raise_alert(session, AlertSpec(case_id=case_id, kind=kind,
                                                                **values))

    def rows(self, **where: Any) -> list[OutboxMessage]:
        return outbox_rows(self.factory, **where)


@pytest.fixture
def stack(database_url: str, fakes: Fakes, clock: FakeClock) -> Iterator[Stack]:
    engine = library_engine(database_url)
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory.begin() as session:
        load_directory(session, copy.deepcopy(STROKE_TEAM), clock.now())
    result = Stack(engine, factory, Library(factory, fakes, clock), clock, fakes)
    yield result
    result.component.stop()
    engine.dispose()

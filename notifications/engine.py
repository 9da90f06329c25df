"""The escalation engine: raise alerts, page along a policy, acknowledge, report history.

Everything is planned into the outbox inside the caller's transaction; the relay sends it.
A page of a person writes one outbox row per notification rule, due ``after_minutes`` after the
page (push now, SMS two minutes later, ...). An acknowledgement cancels the rows not yet due,
stops the escalation and broadcasts "<name> is on the way" to everyone already paged.
:meth:`Notifier.tick` moves due escalations to their next step; it only reads the database,
so it re-plans correctly after any restart.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import CursorResult, Result, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from notifications.clock import Clock, SystemClock
from notifications.directory import resolve_targets, with_reachability
from notifications.models import (
    Acknowledgement,
    Alert,
    DeliveryAttempt,
    Escalation,
    OutboxMessage,
    Person,
    Policy,
)
from notifications.payload import ack_payload, alert_payload
from notifications.txn import retry_on_busy
from notifications.wake import ESCALATION_CHANNEL, OUTBOX_CHANNEL, Waker

log = logging.getLogger(__name__)

SENT_OR_IN_FLIGHT = ("sent", "sending")
PHONE_CONTACTS = ("voice", "sms", "mms")
"""Contact types a call may ring, in order of preference."""
UNANSWERED = ("busy", "no-answer", "failed", "canceled")
"""Twilio's final call statuses for a call nobody took."""
NOT_DELIVERED = ("failed", "undelivered")
"""Twilio message statuses (delivery receipts) that mean the text never reached the phone."""
STATES = ("queued", "sending", "sent", "delivered", "read", "failed", "cancelled")


def delivery_state(status: str, provider_status: str | None) -> str:
    """What happened to a delivery, one of :data:`STATES`: the outbox status, refined by the
    provider's receipt (Twilio message / call status) once the provider took it."""
    if status == "pending":
        return "queued"
    if status != "sent":
        return status  # sending, failed, cancelled
    receipt = (provider_status or "").lower()
    if receipt == "read":
        return "read"
    if receipt in ("delivered", "completed", "in-progress"):  # a call answered counts
        return "delivered"
    if receipt in NOT_DELIVERED or receipt in UNANSWERED:
        return "failed"
    return "sent"


def _cursor(result: Result[Any]) -> CursorResult[Any]:
    """An UPDATE's result, which carries ``rowcount``."""
    assert isinstance(result, CursorResult)
    return result


@dataclass(frozen=True)
class AlertSpec:
    """What the host application alerts about (finding text only: no PHI)."""

    case_id: str
    level: str
    kind: str
    title: str
    body: str
    site: str
    url: str
    key_images: tuple[str, ...] = ()


@dataclass
class Notifier:
    """The engine, bound to a host database (session factory) and configuration.

    ``channels`` names the channels that can actually send (``push``, ``sms``, ``mms``,
    ``email``, ``voice``); a person's rule for any other channel is routed to ``console`` so it
    is never silently dropped. ``webhook_url`` receives every alert; ``console`` logs every
    alert. ``waker`` is told, in the writing transaction, when outbox rows or escalations
    change. A page call that is not answered (busy, no answer, failed) is placed again
    ``call_retry_s`` seconds later, up to ``call_attempts`` calls in all.
    """

    factory: sessionmaker[Session]
    policy: str | None = None
    channels: frozenset[str] = frozenset()
    webhook_url: str | None = None
    console: bool = True
    clock: Clock = field(default_factory=SystemClock)
    waker: Waker | None = None
    call_attempts: int = 3
    call_retry_s: float = 60.0

    # ---------------------------------------------------------------- raising
    def raise_alert(self, session: Session, spec: AlertSpec) -> str:
        """Write the alert and its outbox rows in ``session``'s transaction; returns alert id."""
        now = self.clock.now()
        alert = Alert(id=str(uuid.uuid4()), case_id=spec.case_id, level=spec.level,
                      kind=spec.kind, title=spec.title, body=spec.body, site=spec.site,
                      url=spec.url, key_images=list(spec.key_images), created_at=now)
        payload = self._payload(alert, spec.kind)  # validates level, kind, size
        session.add(alert)
        session.flush()
        escalation = session.scalar(select(Escalation).where(Escalation.case_id == spec.case_id))
        restart = spec.kind in ("new", "escalation")
        if escalation is not None and (spec.kind == "update" or escalation.status == "active"):
            restart = False
        if escalation is None or restart:
            self._start_escalation(session, alert, escalation, now)
        else:
            if escalation.status == "active":
                escalation.alert_id = alert.id
                escalation.updated_at = now
            self._notify_paged(session, alert, payload, purpose="update", step="update", now=now)
        self._broadcast(session, alert, payload, step="all", now=now)
        session.flush()
        self._announce(session, OUTBOX_CHANNEL, ESCALATION_CHANNEL)
        return alert.id

    def _announce(self, session: Session, *channels: str) -> None:
        if self.waker is not None:
            for channel in channels:
                self.waker.notify(session, channel)

    @staticmethod
    def _payload(alert: Alert, kind: str) -> dict[str, Any]:
        return alert_payload(alert_id=alert.id, case_id=alert.case_id, level=alert.level,
                             kind=kind, title=alert.title, body=alert.body, site=alert.site,
                             created_at=alert.created_at, url=alert.url)

    def _start_escalation(self, session: Session, alert: Alert, escalation: Escalation | None,
                          now: datetime) -> None:
        policy = self._policy(session)
        if escalation is None:
            escalation = Escalation(case_id=alert.case_id, created_at=now, version=0)
            session.add(escalation)
        escalation.alert_id, escalation.policy = alert.id, policy.name if policy else None
        escalation.status, escalation.step, escalation.cycle = "active", 0, 0
        escalation.updated_at = now
        escalation.next_due_at = None
        if policy is None or not policy.steps:
            log.warning("no escalation policy %r: alert %s goes to broadcast channels only",
                        self.policy, alert.id)
            session.flush()
            return
        self._page_step(session, alert, policy, escalation, at=now, kind=alert.kind)
        escalation.next_due_at = now + timedelta(minutes=policy.steps[0]["delay_minutes"])
        session.flush()

    def _policy(self, session: Session) -> Policy | None:
        if not self.policy:
            return None
        return session.scalar(select(Policy).where(Policy.name == self.policy))

    def _page_step(self, session: Session, alert: Alert, policy: Policy,
                   escalation: Escalation, at: datetime, kind: str) -> None:
        step = policy.steps[escalation.step]
        payload = self._payload(alert, kind)
        people = resolve_targets(session, step["targets"], at)
        if not people:
            log.warning("alert %s: step %d of policy %r names nobody on call", alert.id,
                        escalation.step + 1, policy.name)
        for person in people:
            self._page_person(session, alert, person, payload, purpose="page",
                              step=f"c{escalation.cycle}s{escalation.step}", at=at,
                              immediate_only=False)

    def _page_person(self, session: Session, alert: Alert, person: Person,
                     payload: dict[str, Any], *, purpose: str, step: str, at: datetime,
                     immediate_only: bool) -> int:
        """Outbox rows for ``person`` by their rules (only the first rule if immediate_only)."""
        rules = sorted(person.rules, key=lambda r: r.after_minutes) or []
        if immediate_only:
            rules = rules[:1]
        written = 0
        for rule in rules:
            due = at if immediate_only else at + timedelta(minutes=rule.after_minutes)
            for channel, address, key in self._addresses(person, rule.channel):
                written += self._add_row(session, alert, payload, purpose=purpose, step=step,
                                         person=person, recipient_key=key, channel=channel,
                                         address=address, due=due, now=at)
        if not written:  # nobody may be silently unreachable
            written += self._add_row(session, alert, payload, purpose=purpose, step=step,
                                     person=person, recipient_key=f"p{person.id}",
                                     channel="console", address="unreachable", due=at, now=at)
        return written

    def _addresses(self, person: Person, wanted: str) -> list[tuple[str, str, str]]:
        """(channel, address, recipient key) for a rule's channel; console if not configured."""
        if wanted == "push":
            found = [("push", d.token, f"p{person.id}/d{d.id}") for d in person.devices
                     if d.active]
        elif wanted == "voice":  # one call: the voice number, else the first phone number
            phones = sorted((c for c in person.contacts if c.channel in PHONE_CONTACTS),
                            key=lambda c: (PHONE_CONTACTS.index(c.channel), c.id))
            found = [("voice", c.address, f"p{person.id}/c{c.id}") for c in phones[:1]]
        else:
            kinds = ("sms", "mms") if wanted in ("sms", "mms") else (wanted,)
            found = [(c.channel, c.address, f"p{person.id}/c{c.id}") for c in person.contacts
                     if c.channel in kinds]
        routed = []
        for channel, address, key in found:
            if channel == "mms" and "mms" not in self.channels and "sms" in self.channels:
                channel = "sms"
            if channel not in self.channels:
                routed.append(("console", f"{channel}:{address[-4:]}", key))
            else:
                routed.append((channel, address, key))
        return routed

    def _add_row(self, session: Session, alert: Alert, payload: dict[str, Any], *,
                 purpose: str, step: str, person: Person | None, recipient_key: str,
                 channel: str, address: str, due: datetime, now: datetime) -> int:
        key = f"{alert.id}|{recipient_key}|{channel}|{step}"  # unique by construction
        session.add(OutboxMessage(
            dedupe_key=key, alert_id=alert.id, case_id=alert.case_id, purpose=purpose,
            person_id=person.id if person else None,
            recipient=person.name if person else channel, channel=channel, address=address,
            step=step, payload=payload, status="pending", attempts=0, due_at=due,
            next_attempt_at=due, created_at=now, updated_at=now))
        return 1

    def _broadcast(self, session: Session, alert: Alert, payload: dict[str, Any], *, step: str,
                   now: datetime) -> None:
        if self.webhook_url:
            self._add_row(session, alert, payload, purpose="broadcast", step=step, person=None,
                          recipient_key="webhook", channel="webhook", address=self.webhook_url,
                          due=now, now=now)
        if self.console:
            self._add_row(session, alert, payload, purpose="broadcast", step=step, person=None,
                          recipient_key="console", channel="console", address="log",
                          due=now, now=now)

    def _paged_people(self, session: Session, case_id: str) -> list[Person]:
        ids = session.scalars(
            select(OutboxMessage.person_id).where(
                OutboxMessage.case_id == case_id, OutboxMessage.purpose == "page",
                OutboxMessage.status.in_(SENT_OR_IN_FLIGHT),
                OutboxMessage.person_id.is_not(None)).distinct())
        return list(session.scalars(select(Person).options(*with_reachability())
                                    .where(Person.id.in_(list(ids))).order_by(Person.id)))

    def _notify_paged(self, session: Session, alert: Alert, payload: dict[str, Any], *,
                      purpose: str, step: str, now: datetime, skip: str | None = None) -> None:
        for person in self._paged_people(session, alert.case_id):
            if person.name != skip:
                self._page_person(session, alert, person, payload, purpose=purpose, step=step,
                                  at=now, immediate_only=True)

    # ------------------------------------------------------------- escalating
    def tick(self) -> int:
        """Advance every due escalation by as many steps as are due; returns steps taken."""
        now = self.clock.now()
        with self.factory() as session:
            due = list(session.scalars(
                select(Escalation.id).where(Escalation.status == "active",
                                            Escalation.next_due_at <= now)))
        steps = 0
        for escalation_id in due:
            steps += retry_on_busy(partial(self._advance, escalation_id, now))
        return steps

    def _advance(self, escalation_id: int, now: datetime) -> int:
        """Move one escalation; 0 if another engine moved it first (its rows already exist)."""
        try:
            return self._advance_once(escalation_id, now)
        except IntegrityError:  # the same (alert, recipient, channel, step) rows: theirs win
            log.info("escalation %s was advanced by another engine", escalation_id)
            return 0

    def _advance_once(self, escalation_id: int, now: datetime) -> int:
        with self.factory.begin() as session:
            escalation = session.get(Escalation, escalation_id)
            if escalation is None or escalation.status != "active" \
                    or escalation.next_due_at is None or escalation.next_due_at > now:
                return 0
            version = escalation.version
            policy = session.scalar(select(Policy).where(Policy.name == escalation.policy))
            alert = session.get(Alert, escalation.alert_id)
            assert alert is not None
            state = (escalation.step, escalation.cycle, escalation.status,
                     escalation.next_due_at)
            taken = 0
            step, cycle, status = state[:3]
            due_at: datetime | None = state[3]
            while status == "active" and due_at is not None and due_at <= now:
                if policy is None or not policy.steps:
                    status, due_at = "exhausted", None
                    break
                step += 1
                if step >= len(policy.steps):
                    step, cycle = 0, cycle + 1
                if cycle > policy.repeat:
                    status, due_at = "exhausted", None
                    break
                escalation.step, escalation.cycle = step, cycle
                self._page_step(session, alert, policy, escalation, at=due_at, kind="escalation")
                due_at = due_at + timedelta(minutes=policy.steps[step]["delay_minutes"])
                taken += 1
            # Optimistic lock: another engine that moved this escalation first wins.
            result = _cursor(session.execute(
                update(Escalation).where(Escalation.id == escalation_id,
                                         Escalation.version == version)
                .values(step=step, cycle=cycle, status=status, next_due_at=due_at,
                        version=version + 1, updated_at=now)
                .execution_options(synchronize_session=False)))
            if result.rowcount != 1:
                session.rollback()
                return 0
            if status == "exhausted":
                log.warning("case %s: escalation exhausted without acknowledgement",
                            escalation.case_id)
            if taken:
                self._announce(session, OUTBOX_CHANNEL)
        return taken

    def next_due(self) -> datetime | None:
        """The earliest time an escalation moves next (for the scheduler's wake-up)."""
        with self.factory() as session:
            return session.scalar(select(Escalation.next_due_at).where(
                Escalation.status == "active", Escalation.next_due_at.is_not(None))
                .order_by(Escalation.next_due_at).limit(1))

    # -------------------------------------------------------- acknowledging
    def acknowledge(self, session: Session, *, case_id: str | None = None,
                    alert_id: str | None = None, by: str, via: str) -> bool:
        """Stop the case's escalation for everyone and broadcast "<by> is on the way".

        Returns False when there is nothing to acknowledge (unknown, or already acknowledged).
        """
        if not by.strip():
            raise ValueError("an acknowledgement needs the name of who acknowledges")
        if case_id is None:
            if alert_id is None:
                raise ValueError("acknowledge needs a case_id or an alert_id")
            alert_row = session.get(Alert, alert_id)
            if alert_row is None:
                return False
            case_id = alert_row.case_id
        now = self.clock.now()
        escalation = session.scalar(select(Escalation).where(Escalation.case_id == case_id))
        if escalation is None or escalation.status == "acknowledged":
            return False
        result = _cursor(session.execute(
            update(Escalation).where(Escalation.id == escalation.id,
                                     Escalation.version == escalation.version)
            .values(status="acknowledged", next_due_at=None, version=escalation.version + 1,
                    updated_at=now).execution_options(synchronize_session=False)))
        if result.rowcount != 1:
            return False
        session.refresh(escalation)
        session.execute(
            update(OutboxMessage).where(OutboxMessage.case_id == case_id,
                                        OutboxMessage.purpose.in_(("page", "update")),
                                        OutboxMessage.status == "pending")
            .values(status="cancelled", updated_at=now,
                    last_error=f"acknowledged by {by}")
            .execution_options(synchronize_session=False))
        alert = session.get(Alert, escalation.alert_id)
        assert alert is not None
        session.add(Acknowledgement(case_id=case_id, alert_id=alert.id, by=by, via=via, at=now))
        payload = ack_payload(alert_id=alert.id, case_id=case_id, by=by, via=via, at=now,
                              site=alert.site, url=alert.url)
        self._notify_paged(session, alert, payload, purpose="ack", step="ack", now=now, skip=by)
        self._broadcast(session, alert, payload, step="ack", now=now)
        session.flush()
        self._announce(session, OUTBOX_CHANNEL, ESCALATION_CHANNEL)
        return True

    def _paged_phone(self, session: Session, phone: str) -> OutboxMessage | None:
        """The latest page to ``phone`` whose case is still escalating."""
        return session.scalar(
            select(OutboxMessage)
            .join(Escalation, Escalation.case_id == OutboxMessage.case_id)
            .where(OutboxMessage.address == phone, OutboxMessage.purpose == "page",
                   OutboxMessage.person_id.is_not(None), Escalation.status == "active")
            .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()).limit(1))

    def acknowledge_from_phone(self, session: Session, phone: str, via: str = "sms") -> bool:
        """An SMS reply: acknowledge the latest active case this number was paged for."""
        row = self._paged_phone(session, phone)
        if row is None:
            return False
        return self.acknowledge(session, case_id=row.case_id, by=row.recipient, via=via)

    def pass_from_phone(self, session: Session, phone: str) -> bool:
        """An SMS reply ``2``: pass the latest active case this number was paged for on."""
        row = self._paged_phone(session, phone)
        return row is not None and self.pass_on(session, row.case_id, row.person_id)

    def pass_on(self, session: Session, case_id: str, person_id: int | None) -> bool:
        """The paged person cannot take the case: cancel their pending pages for it and move
        the escalation to its next step now (the scheduler wakes on the announcement)."""
        now = self.clock.now()
        escalation = session.scalar(select(Escalation).where(Escalation.case_id == case_id))
        if escalation is None or escalation.status != "active":
            return False
        result = _cursor(session.execute(
            update(Escalation).where(Escalation.id == escalation.id,
                                     Escalation.version == escalation.version)
            .values(next_due_at=now, version=escalation.version + 1, updated_at=now)
            .execution_options(synchronize_session=False)))
        if result.rowcount != 1:
            return False
        person = session.get(Person, person_id) if person_id is not None else None
        if person is not None:
            session.execute(
                update(OutboxMessage).where(OutboxMessage.case_id == case_id,
                                            OutboxMessage.person_id == person.id,
                                            OutboxMessage.purpose == "page",
                                            OutboxMessage.status == "pending")
                .values(status="cancelled", updated_at=now,
                        last_error=f"passed on by {person.name}")
                .execution_options(synchronize_session=False))
            log.info("case %s passed on by %s", case_id, person.name)
        self._announce(session, OUTBOX_CHANNEL, ESCALATION_CHANNEL)
        return True

    def call_row(self, session: Session, call_sid: str) -> OutboxMessage | None:
        """The voice delivery a Twilio call sid belongs to."""
        return session.scalar(select(OutboxMessage).where(OutboxMessage.provider_id == call_sid,
                                                          OutboxMessage.channel == "voice"))

    def record_call_status(self, session: Session, call_sid: str, status: str) -> bool:
        """A call's final status; an unanswered page call of a still-escalating case is placed
        again ``call_retry_s`` later while calls remain. False if the call is unknown."""
        row = self.call_row(session, call_sid)
        if row is None:
            return False
        now = self.clock.now()
        row.provider_status, row.updated_at = status[:32], now
        active = session.scalar(select(Escalation.id).where(
            Escalation.case_id == row.case_id, Escalation.status == "active"))
        if status in UNANSWERED and row.purpose == "page" and row.status == "sent" \
                and active is not None:
            session.add(DeliveryAttempt(outbox_id=row.id, number=row.attempts, outcome=status,
                                        provider_id=call_sid, error=f"call {status}",
                                        started_at=now, finished_at=now))
            if row.attempts < self.call_attempts:
                row.status, row.last_error = "pending", f"call {status}: calling again"
                row.next_attempt_at = now + timedelta(seconds=self.call_retry_s)
                self._announce(session, OUTBOX_CHANNEL)
            else:
                row.status, row.last_error = "failed", f"call {status} {row.attempts} times"
        session.flush()
        if row.status == "failed":
            self.escalate_unreachable(session, {row.case_id})
        return True

    # --------------------------------------------------------------- history
    def history(self, session: Session, case_id: str) -> list[dict[str, Any]]:
        """Alerts of a case, oldest first, each with its deliveries (``state`` one of
        :data:`STATES`, and every try) and acks."""
        alerts = list(session.scalars(select(Alert).where(Alert.case_id == case_id)
                                      .order_by(Alert.created_at, Alert.id)))
        out: list[dict[str, Any]] = []
        for alert in alerts:
            rows = list(session.scalars(select(OutboxMessage).where(
                OutboxMessage.alert_id == alert.id).order_by(OutboxMessage.due_at,
                                                              OutboxMessage.id)))
            attempts: dict[int, list[DeliveryAttempt]] = {}
            if rows:
                for attempt in session.scalars(select(DeliveryAttempt).where(
                        DeliveryAttempt.outbox_id.in_([r.id for r in rows]))
                        .order_by(DeliveryAttempt.id)):
                    attempts.setdefault(attempt.outbox_id, []).append(attempt)
            acks = session.scalars(select(Acknowledgement).where(
                Acknowledgement.alert_id == alert.id).order_by(Acknowledgement.at))
            out.append({
                "alert_id": alert.id, "case_id": alert.case_id, "level": alert.level,
                "kind": alert.kind, "title": alert.title, "body": alert.body,
                "site": alert.site, "url": alert.url, "created_at": alert.created_at,
                "deliveries": [{
                    "channel": r.channel, "recipient": r.recipient, "purpose": r.purpose,
                    "step": r.step, "status": r.status,
                    "state": delivery_state(r.status, r.provider_status),
                    "provider_id": r.provider_id,
                    "provider_status": r.provider_status, "attempts": r.attempts,
                    "due_at": r.due_at, "sent_at": r.sent_at, "last_error": r.last_error,
                    "tries": [{"number": a.number, "outcome": a.outcome, "error": a.error,
                               "started_at": a.started_at, "finished_at": a.finished_at}
                              for a in attempts.get(r.id, [])],
                } for r in rows],
                "acks": [{"by": a.by, "via": a.via, "at": a.at} for a in acks],
            })
        return out

    def record_provider_status(self, session: Session, provider_id: str, status: str) -> bool:
        """A delivery receipt (e.g. Twilio status callback); a text that was not delivered
        fails its delivery (and may escalate, see :meth:`escalate_unreachable`). False if the
        id is unknown."""
        rows = list(session.scalars(select(OutboxMessage)
                                    .where(OutboxMessage.provider_id == provider_id)))
        now = self.clock.now()
        for row in rows:
            row.provider_status, row.updated_at = status[:32], now
            if status in NOT_DELIVERED and row.status == "sent":
                row.status, row.last_error = "failed", f"provider: {status}"
        session.flush()
        self.escalate_unreachable(session, {r.case_id for r in rows if r.status == "failed"})
        return bool(rows)

    def escalate_unreachable(self, session: Session, case_ids: set[str]) -> int:
        """Move each case's escalation to its next step now when every page of its current
        step failed (nobody there can be reached); returns escalations moved."""
        moved = 0
        now = self.clock.now()
        for case_id in sorted(case_ids):
            escalation = session.scalar(select(Escalation).where(
                Escalation.case_id == case_id, Escalation.status == "active"))
            if escalation is None or escalation.next_due_at is None:
                continue
            statuses = set(session.scalars(select(OutboxMessage.status).where(
                OutboxMessage.case_id == case_id, OutboxMessage.purpose == "page",
                OutboxMessage.person_id.is_not(None),
                OutboxMessage.step == f"c{escalation.cycle}s{escalation.step}")))
            if "failed" not in statuses or not statuses <= {"failed", "cancelled"}:
                continue
            result = _cursor(session.execute(
                update(Escalation).where(Escalation.id == escalation.id,
                                         Escalation.version == escalation.version)
                .values(next_due_at=now, version=escalation.version + 1, updated_at=now)
                .execution_options(synchronize_session=False)))
            if result.rowcount == 1:
                log.warning("case %s: every page of step %d failed; escalating now", case_id,
                            escalation.step + 1)
                moved += 1
        if moved:
            self._announce(session, ESCALATION_CHANNEL)
        return moved

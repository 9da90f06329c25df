"""The outbox relay: claims due rows, sends them through their channel, records every attempt.

Exactly once per (alert, recipient, channel, step):

* a row is claimed (``sending``, a lease, a claim token) in its own committed transaction;
* the outcome is recorded only where the claim token still matches;
* a ``sending`` row whose lease ran out (the relay died, or the provider timed out) is *in
  doubt*: the channel's ``reconcile`` asks the provider first and only resends when the provider
  has no record (channels without a lookup resend with the same idempotency key / collapse id).

Retries back off exponentially with full jitter (``backoff_base_s · 2^(attempt-1)``, capped),
or follow the provider's ``Retry-After``.
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, sessionmaker

from notifications.channels import (
    Channel,
    ChannelError,
    Delivery,
    InDoubtError,
    PermanentError,
    RetryableError,
    SendResult,
)
from notifications.clock import Clock, SystemClock
from notifications.models import Alert, DeliveryAttempt, DeviceToken, OutboxMessage
from notifications.payload import is_alert, with_image
from notifications.signing import signed_url
from notifications.txn import retry_on_busy

log = logging.getLogger(__name__)

MIN_SLEEP_S = 0.01
"""The relay thread's shortest sleep between passes, in seconds."""


IMAGE_CHANNELS = ("push", "sms", "email", "webhook")
"""Channels whose alert payload carries ``image_url`` (MMS attaches the images instead)."""


@dataclass(frozen=True)
class Links:
    """Signed, short-lived links: key images (each signed for the channel it went out on,
    ``via``, and for per-person channels the outbox row, ``to``, so a fetch names its
    recipient), and one-tap acknowledgement for push/e-mail. Lifetimes in seconds."""

    public_url: str
    secret: str
    media_ttl_s: int = 1800
    ack_ttl_s: int = 3600

    def image_url(self, alert_id: str, index: int, now: datetime, via: str,
                  to: int | None = None) -> str:
        exp = int(now.timestamp()) + self.media_ttl_s
        params = {"via": via} if to is None else {"via": via, "to": str(to)}
        return signed_url(self.public_url, f"/alerts/{alert_id}/images/{index}", self.secret,
                          exp, **params)

    def media_urls(self, alert_id: str, count: int, now: datetime,
                   to: int | None = None) -> tuple[str, ...]:
        return tuple(self.image_url(alert_id, index, now, "mms", to) for index in range(count))

    def ack_url(self, alert_id: str, person_id: int, now: datetime) -> str:
        exp = int(now.timestamp()) + self.ack_ttl_s
        return signed_url(self.public_url, f"/alerts/{alert_id}/ack", self.secret, exp,
                          person=str(person_id))


class Relay:
    """Sends due outbox rows; :meth:`run_once` is one pass, :meth:`start` runs a thread.

    The thread sleeps until :meth:`wake` (subscribe it to the host's wake-ups on
    ``OUTBOX_CHANNEL``), until the next row falls due (a retry, an SMS fallback), or at most
    ``poll_s`` seconds: the fallback poll.
    """

    def __init__(self, factory: sessionmaker[Session], channels: dict[str, Channel],
                 links: Links | None = None, clock: Clock | None = None, *,
                 batch: int = 500, lease_s: float = 120.0, max_attempts: int = 10,
                 backoff_base_s: float = 2.0, backoff_cap_s: float = 300.0,
                 poll_s: float = 5.0, rng: random.Random | None = None,
                 on_failed: Callable[[Session, set[str]], object] | None = None) -> None:
        """``on_failed`` is called, in the recording transaction, with the case ids whose
        pages just failed for good (the engine escalates when nobody can be reached)."""
        self.factory = factory
        self.on_failed = on_failed
        self.channels = channels
        self.links = links
        self.clock = clock or SystemClock()
        self.batch, self.lease_s, self.max_attempts = batch, lease_s, max_attempts
        self.backoff_base_s, self.backoff_cap_s = backoff_base_s, backoff_cap_s
        self.poll_s = poll_s
        self.rng = rng or random.Random()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------- threading
    def wake(self, *_: object) -> None:
        """Look for due rows now (any arguments, e.g. a notification payload, are ignored)."""
        self._wake.set()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="notify-relay", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                while self.run_once() and not self._stop.is_set():
                    pass
                sleep_s = self.sleep_s()
            except Exception:
                log.exception("relay pass failed; retrying")
                sleep_s = self.poll_s
            self._wake.wait(max(MIN_SLEEP_S, sleep_s))
            self._wake.clear()

    def sleep_s(self) -> float:
        """Seconds until the next row falls due (0 if one is due), at most ``poll_s``."""
        with self.factory() as session:
            due: datetime | None = session.scalar(select(func.min(case(
                (OutboxMessage.status == "pending", OutboxMessage.next_attempt_at),
                else_=OutboxMessage.lease_until))).where(
                    OutboxMessage.status.in_(("pending", "sending"))))
        if due is None:
            return self.poll_s
        if due.tzinfo is None:  # SQLite gives back a bare value for an aggregate
            due = due.replace(tzinfo=UTC)
        return min(self.poll_s, max(0.0, (due - self.clock.now()).total_seconds()))

    # ------------------------------------------------------------------ work
    def backoff_s(self, attempts: int) -> float:
        """Full-jitter exponential backoff before attempt ``attempts + 1``, in seconds."""
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * 2.0 ** max(0, attempts - 1))
        return ceiling * (0.5 + 0.5 * self.rng.random())

    def drain(self, max_passes: int = 1000) -> int:
        """Passes until nothing is due now; returns rows handled."""
        handled = 0
        for _ in range(max_passes):
            n = self.run_once()
            if not n:
                break
            handled += n
        return handled

    def _due(self, now: datetime) -> ColumnElement[bool]:
        return or_(and_(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now),
                   and_(OutboxMessage.status == "sending", OutboxMessage.lease_until < now))

    def _claim(self, now: datetime) -> tuple[str, list[OutboxMessage], set[int]]:
        token = str(uuid.uuid4())

        def work() -> tuple[list[OutboxMessage], set[int]]:
            with self.factory.begin() as session:
                candidates = session.execute(
                    select(OutboxMessage.id, OutboxMessage.status).where(self._due(now))
                    .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                    .limit(self.batch)).all()
                if not candidates:
                    return [], set()
                in_doubt = {row.id for row in candidates if row.status == "sending"}
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_([row.id for row in candidates]), self._due(now))
                    .values(status="sending", claim=token,
                            lease_until=now + timedelta(seconds=self.lease_s),
                            attempts=OutboxMessage.attempts + 1, updated_at=now)
                    .execution_options(synchronize_session=False))
                rows = list(session.scalars(select(OutboxMessage)
                                            .where(OutboxMessage.claim == token)
                                            .order_by(OutboxMessage.id)))
                session.expunge_all()
                return rows, in_doubt & {r.id for r in rows}

        rows, in_doubt = retry_on_busy(work)
        return token, rows, in_doubt

    def _delivery(self, row: OutboxMessage, key_images: dict[str, int],
                  now: datetime) -> Delivery:
        """The row rendered for its channel: key-image links signed now (none once revoked)."""
        media: tuple[str, ...] = ()
        ack_url = None
        payload = row.payload
        images = key_images.get(row.alert_id, 0)
        if self.links is not None and is_alert(payload):
            to = row.id if row.person_id is not None and row.channel != "push" else None
            if row.channel == "mms":
                media = self.links.media_urls(row.alert_id, images, now, to)
            elif row.channel in IMAGE_CHANNELS:
                payload = with_image(payload, self.links.image_url(
                    row.alert_id, 0, now, row.channel, to) if images else None)
        if self.links is not None and row.person_id is not None \
                and row.purpose in ("page", "update"):
            ack_url = self.links.ack_url(row.alert_id, row.person_id, now)
        return Delivery(outbox_id=row.id, dedupe_key=row.dedupe_key, channel=row.channel,
                        recipient=row.recipient, address=row.address, payload=payload,
                        ref=str(row.id), media_urls=media, ack_url=ack_url)

    def run_once(self) -> int:
        """Claim one batch of due rows, send them, record the outcomes; returns rows handled."""
        now = self.clock.now()
        token, rows, in_doubt = self._claim(now)
        if not rows:
            return 0
        with self.factory() as session:
            alert_ids = {r.alert_id for r in rows}
            key_images = {a.id: 0 if a.images_revoked_at else len(a.key_images or [])
                          for a in session.scalars(select(Alert).where(Alert.id.in_(alert_ids)))}
        deliveries = {r.id: self._delivery(r, key_images, now) for r in rows}
        outcomes: dict[int, tuple[str, SendResult | ChannelError]] = {}
        to_send: dict[str, list[Delivery]] = {}
        for row in rows:
            channel = self.channels.get(row.channel)
            delivery = deliveries[row.id]
            if channel is None:
                outcomes[row.id] = ("sent", PermanentError(f"channel {row.channel!r} not set up"))
                continue
            if row.id in in_doubt:
                try:
                    provider_id = channel.reconcile(delivery)
                except ChannelError as exc:
                    outcomes[row.id] = ("reconcile", exc)
                    continue
                if provider_id is not None:
                    outcomes[row.id] = ("reconciled", SendResult(provider_id))
                    continue
            to_send.setdefault(row.channel, []).append(delivery)
        for name, results in self._send_channels(to_send).items():
            for delivery, result in zip(to_send[name], results, strict=True):
                outcomes[delivery.outbox_id] = ("sent", result)
        retry_on_busy(lambda: self._record(token, rows, outcomes, now))
        return len(rows)

    def _send_channels(self, to_send: dict[str, list[Delivery]]
                       ) -> dict[str, list[SendResult | ChannelError]]:
        """Each channel's batch by its ``send_many``, the channels side by side (one thread
        each): an alert's SMS and voice call do not wait for its push. A channel object is
        only ever used by one thread at a time."""
        if len(to_send) <= 1:
            return {name: self.channels[name].send_many(batch)
                    for name, batch in to_send.items()}
        with ThreadPoolExecutor(max_workers=len(to_send),
                                thread_name_prefix="notify-send") as pool:
            futures = {name: pool.submit(self.channels[name].send_many, batch)
                       for name, batch in to_send.items()}
            return {name: future.result() for name, future in futures.items()}

    def _record(self, token: str, rows: list[OutboxMessage],
                outcomes: dict[int, tuple[str, SendResult | ChannelError]],
                started: datetime) -> None:
        """Write every outcome in one transaction, only for rows this claim still owns."""
        finished = self.clock.now()
        updates: list[dict[str, object]] = []
        attempts: list[dict[str, object]] = []
        dead_tokens: list[tuple[str, str]] = []
        for row in rows:
            how, result = outcomes[row.id]
            values: dict[str, object] = {
                "oid": row.id, "status": "sending", "provider_id": row.provider_id,
                "sent_at": row.sent_at, "lease_until": None, "last_error": None,
                "next_attempt_at": row.next_attempt_at}
            error = None
            if isinstance(result, SendResult):
                outcome = "reconciled" if how == "reconciled" else "sent"
                values.update(status="sent", provider_id=result.provider_id, sent_at=finished)
            elif how == "reconcile" or isinstance(result, InDoubtError):
                outcome, error = "in_doubt", str(result)
                # stays ``sending``: reconciled with the provider once this lease ends
                values.update(lease_until=finished + timedelta(
                    seconds=self.backoff_s(row.attempts)), last_error=error)
            elif isinstance(result, RetryableError) and row.attempts < self.max_attempts:
                outcome, error = "retry", str(result)
                delay = result.retry_after_s or self.backoff_s(row.attempts)
                values.update(status="pending", last_error=error,
                              next_attempt_at=finished + timedelta(seconds=delay))
            else:
                outcome, error = "failed", str(result)
                values.update(status="failed", last_error=error)
                if isinstance(result, PermanentError) and result.deactivate_token:
                    dead_tokens.append((row.address, error[:64]))
                log.error("notification %s to %s via %s failed: %s", row.id, row.recipient,
                          row.channel, error)
            updates.append(values)
            attempts.append({"outbox_id": row.id, "number": row.attempts, "outcome": outcome,
                             "provider_id": values["provider_id"] if outcome in (
                                 "sent", "reconciled") else None,
                             "error": error, "started_at": started, "finished_at": finished})
        with self.factory.begin() as session:
            owned = set(session.scalars(
                select(OutboxMessage.id).where(OutboxMessage.claim == token).with_for_update()))
            lost = [u["oid"] for u in updates if u["oid"] not in owned]
            if lost:
                log.error("notifications %s: claim lost before recording", lost)
            mine = [u for u in updates if u["oid"] in owned]
            if mine:
                outbox = OutboxMessage.__table__
                assert isinstance(outbox, Table)
                session.connection().execute(
                    update(outbox)
                    .where(outbox.c.id == bindparam("oid"), outbox.c.claim == token)
                    .values(status=bindparam("status"), provider_id=bindparam("provider_id"),
                            sent_at=bindparam("sent_at"), lease_until=bindparam("lease_until"),
                            last_error=bindparam("last_error"),
                            next_attempt_at=bindparam("next_attempt_at"), claim=None,
                            updated_at=finished), mine)
                session.execute(insert(DeliveryAttempt),
                                [a for a in attempts if a["outbox_id"] in owned])
            for address, reason in dead_tokens:
                session.execute(update(DeviceToken).where(DeviceToken.token == address)
                                .values(active=False, deactivated_reason=reason))
            failed_pages = {row.case_id for row, values in zip(rows, updates, strict=True)
                            if values["status"] == "failed" and row.purpose == "page"
                            and row.id in owned}
            if failed_pages and self.on_failed is not None:
                self.on_failed(session, failed_pages)

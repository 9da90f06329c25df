"""The service side of notifications: builds the library's engine from Settings and the DB.

The pipeline calls :func:`raise_alert` inside its own transaction; the web API calls
:func:`acknowledge`, :func:`alert_history`, the Twilio webhook handlers and the signed-link
checks; each is given the Settings it works from (no hidden global). :class:`AlertingComponent`
runs the outbox relay (and, in embedded mode, the escalation scheduler) inside
``strokealert.service.Service``. Whoever writes outbox rows announces them in the same
transaction (``pg_notify`` on PostgreSQL, see :mod:`strokealert.db.wakeup`); the relay of every
process wakes on that and polls only as the fallback.
"""

from __future__ import annotations

import logging
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from notifications.channels import Channel
from notifications.channels.console import ConsoleChannel
from notifications.clock import Clock, SystemClock
from notifications.directory import register_device_token
from notifications.engine import AlertSpec, Notifier
from notifications.inbound import SignatureError, TwilioInbound
from notifications.models import Alert, Person
from notifications.relay import Links, Relay
from notifications.scheduler import EscalationScheduler
from notifications.signing import verify_signed
from notifications.wake import ESCALATION_CHANNEL, OUTBOX_CHANNEL
from strokealert import db
from strokealert.config import Settings
from strokealert.db.models.cases import Case
from strokealert.db.wakeup import Subscription, wakeup_for

log = logging.getLogger(__name__)

__all__ = ["AlertingComponent", "SignatureError", "acknowledge", "acknowledge_link",
           "alert_history", "key_image_for", "raise_alert", "register_device",
           "revoke_key_image_links", "set_clock",
           "twilio_incoming", "twilio_status", "twilio_voice"]

_clock: Clock = SystemClock()


def set_clock(clock: Clock | None) -> None:
    """Test hook: the time source of every notifier built afterwards (None = wall clock)."""
    global _clock
    _clock = clock or SystemClock()


def now() -> datetime:
    """The alerting clock's time (the wall clock unless a test set another): signed links are
    minted and checked on it."""
    return _clock.now()


def signing_secret(settings: Settings) -> str:
    """``secret_key``, else a random key kept in ``<data_dir>/secret_key`` (shared by processes)."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.data_dir) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()


def channel_names(settings: Settings) -> frozenset[str]:
    """The person-facing channels these settings can send on."""
    names = set()
    if settings.fcm_credentials_file:
        names.add("push")
    if settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from_number:
        names |= {"sms", "mms"} if settings.mms_enabled else {"sms"}
        if settings.voice_enabled:
            names.add("voice")
    if settings.smtp_host:
        names.add("email")
    return frozenset(names)


def build_channels(settings: Settings) -> dict[str, Channel]:
    """Every configured channel; ``console`` always (unreachable people are logged there)."""
    from notifications.channels.fcm import FcmChannel
    from notifications.channels.smtp import SmtpChannel
    from notifications.channels.twilio_sms import TwilioChannel
    from notifications.channels.twilio_voice import TwilioVoiceChannel
    from notifications.channels.webhook import WebhookChannel

    names = channel_names(settings)
    channels: dict[str, Channel] = {"console": ConsoleChannel()}
    if "push" in names:
        channels["push"] = FcmChannel(str(settings.fcm_credentials_file),
                                      project_id=settings.fcm_project_id,
                                      ttl_s=settings.fcm_ttl_s,
                                      timeout_s=settings.notify_timeout_s,
                                      endpoint=settings.fcm_endpoint)
    if "sms" in names:
        callback = f"{settings.public_url.rstrip('/')}/api/notifications/twilio/status"
        for kind in sorted(names & {"sms", "mms"}):
            channels[kind] = TwilioChannel(
                settings.twilio_account_sid or "", settings.twilio_auth_token or "",
                settings.twilio_from_number or "", channel=kind, status_callback=callback,
                timeout_s=settings.notify_timeout_s, base_url=settings.twilio_base_url)
    if "voice" in names:
        channels["voice"] = TwilioVoiceChannel(
            settings.twilio_account_sid or "", settings.twilio_auth_token or "",
            settings.twilio_from_number or "",
            keypress_url=f"{settings.public_url.rstrip('/')}/api/notifications/twilio/voice",
            status_callback=f"{settings.public_url.rstrip('/')}/api/notifications/twilio/status",
            timeout_s=settings.notify_timeout_s, base_url=settings.twilio_base_url)
    if "email" in names:
        channels["email"] = SmtpChannel(
            settings.smtp_host or "", settings.smtp_port, settings.smtp_sender,
            username=settings.smtp_username, password=settings.smtp_password,
            starttls=settings.smtp_starttls, timeout_s=settings.notify_timeout_s)
    if settings.webhook_url:
        channels["webhook"] = WebhookChannel(settings.webhook_secret,
                                             timeout_s=settings.notify_timeout_s,
                                             allow_unsigned=settings.webhook_allow_unsigned,
                                             schema_version=settings.webhook_schema)
    return channels


def build_notifier(settings: Settings, factory: sessionmaker[Session],
                   policy: str | None = None) -> Notifier:
    """The engine for ``settings`` on ``factory``'s database; it announces outbox rows there.
    New alerts page along ``policy`` (default: ``settings.escalation_policy``)."""
    bind = factory.kw["bind"]
    return Notifier(factory=factory, policy=policy or settings.escalation_policy or None,
                    channels=channel_names(settings), webhook_url=settings.webhook_url,
                    console=settings.notify_console, clock=_clock,
                    waker=wakeup_for(bind.engine), call_attempts=settings.voice_call_attempts,
                    call_retry_s=settings.voice_retry_s)


def _notifier(session: Session, settings: Settings, policy: str | None = None) -> Notifier:
    return build_notifier(settings, sessionmaker(bind=session.get_bind()), policy)


# ------------------------------------------------------------------ the contract
def raise_alert(session: Session, settings: Settings, *, case_id: str, level: str, kind: str,
                title: str, body: str, site: str, url: str,
                key_images: list[str] | None = None, policy: str | None = None) -> str:
    """Write an alert and its outbox rows in the caller's transaction (no commit); alert id.

    ``kind``: ``new`` pages along the escalation policy (``policy``, by default
    ``settings.escalation_policy``); ``update`` re-notifies only the people already paged for
    the case; ``escalation`` restarts the policy. No PHI: pass the finding text only.
    ``key_images`` are references served by the web API behind signed links.
    """
    spec = AlertSpec(case_id=case_id, level=level, kind=kind, title=title, body=body, site=site,
                     url=url, key_images=tuple(key_images or ()))
    alert_id = _notifier(session, settings, policy).raise_alert(session, spec)
    alert = session.get(Alert, alert_id)
    assert alert is not None
    # The first alert raised for a case is its timeline's ``alert_sent_at``.
    session.execute(update(Case).where(Case.id == case_id, Case.alert_sent_at.is_(None))
                    .values(alert_sent_at=alert.created_at, updated_at=datetime.now(UTC)))
    return alert_id


def acknowledge(session: Session, settings: Settings, *, case_id: str | None = None,
                alert_id: str | None = None, by: str, via: str) -> bool:
    """Stop the case's escalation for everyone; broadcast "<by> is on the way" (no commit)."""
    return _notifier(session, settings).acknowledge(session, case_id=case_id,
                                                    alert_id=alert_id, by=by, via=via)


def alert_history(session: Session, case_id: str) -> list[dict[str, Any]]:
    """Alerts of a case with deliveries (channel, recipient, status, provider id, attempts,
    times) and acknowledgements, oldest first."""
    return Notifier(factory=sessionmaker(bind=session.get_bind())).history(session, case_id)


def _inbound(session: Session, settings: Settings) -> TwilioInbound:
    if not settings.twilio_auth_token:
        raise SignatureError("Twilio is not configured")
    return TwilioInbound(_notifier(session, settings), settings.twilio_auth_token)


def twilio_incoming(session: Session, url: str, params: dict[str, str],
                    signature: str | None, settings: Settings) -> str:
    """An inbound SMS (``1``/``ACK`` acknowledges); returns TwiML; raises SignatureError."""
    return _inbound(session, settings).incoming_sms(session, url, params, signature)


def twilio_status(session: Session, url: str, params: dict[str, str], signature: str | None,
                  settings: Settings) -> bool:
    """A Twilio status callback (message or call): records the delivery status, calls an
    unanswered page again; raises SignatureError."""
    return _inbound(session, settings).status_callback(session, url, params, signature)


def twilio_voice(session: Session, url: str, params: dict[str, str], signature: str | None,
                 settings: Settings) -> str:
    """A keypress in a page call (1 acknowledges, 2 passes on); returns TwiML; raises
    SignatureError."""
    return _inbound(session, settings).voice_keypress(session, url, params, signature)


def _link_ok(settings: Settings, path: str, query: dict[str, str]) -> bool:
    return verify_signed(path, query, signing_secret(settings), int(_clock.now().timestamp()))


def key_image_for(session: Session, alert_id: str, index: int, query: dict[str, str],
                  settings: Settings) -> str | None:
    """The key-image reference behind a signed, unexpired ``/alerts/<id>/images/<n>`` link of
    an alert whose links were not revoked, else None."""
    if not _link_ok(settings, f"/alerts/{alert_id}/images/{index}", query):
        return None
    alert = session.get(Alert, alert_id)
    if alert is None or alert.images_revoked_at is not None \
            or not 0 <= index < len(alert.key_images or []):
        return None
    return alert.key_images[index]


def revoke_key_image_links(session: Session, case_id: str) -> int:
    """Refuse every key-image link sent for the case from now on (no commit); alerts revoked."""
    result = session.execute(update(Alert).where(Alert.case_id == case_id,
                                                 Alert.images_revoked_at.is_(None))
                             .values(images_revoked_at=_clock.now())
                             .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0))


def acknowledge_link(session: Session, alert_id: str, query: dict[str, str],
                     settings: Settings) -> bool:
    """The one-tap acknowledgement link of a push / e-mail (``/alerts/<id>/ack?person=…``)."""
    if not _link_ok(settings, f"/alerts/{alert_id}/ack", query):
        return False
    person = session.get(Person, int(query.get("person", "0") or 0))
    if person is None:
        return False
    return acknowledge(session, settings, alert_id=alert_id, by=person.name, via="push")


def register_device(session: Session, person: str, token: str, platform: str) -> None:
    """Register a phone's FCM token for ``person`` (from the app, after login)."""
    register_device_token(session, person, token, platform, _clock.now())


def people_names(session: Session) -> list[str]:
    return list(session.scalars(select(Person.name).order_by(Person.name)))


# ------------------------------------------------------------------ the component
class AlertingComponent:
    """Relay (always) and escalation scheduler (embedded mode, or ``with_scheduler=True``).

    The relay wakes on the database's outbox wake-ups (any process's writes) and polls every
    ``relay_poll_s`` seconds only as the fallback. The scheduler runs the engine at the next
    escalation's due time (re-read after every tick and whenever an escalation changes
    anywhere); ``scheduler_interval_s`` is its fallback.
    """

    def __init__(self, settings: Settings, factory: sessionmaker[Session] | None = None, *,
                 with_scheduler: bool | None = None, relay_poll_s: float = 5.0) -> None:
        self.settings = settings
        self.engine = factory.kw["bind"] if factory is not None else db.make_engine(
            settings.resolved_database_url)
        self.factory = factory or db.make_session_factory(self.engine)
        self.with_scheduler = (settings.scheduler_mode == "embedded"
                               if with_scheduler is None else with_scheduler)
        self.relay_poll_s = relay_poll_s
        self.notifier: Notifier | None = None
        self.relay: Relay | None = None
        self.scheduler: EscalationScheduler | None = None
        self.channels: dict[str, Channel] = {}
        self._woken_by: list[Subscription] = []

    def build(self) -> Notifier:
        """Channels, relay and engine, without starting threads (tests drive them by hand)."""
        if self.notifier is not None:
            return self.notifier
        self.channels = build_channels(self.settings)
        links = Links(self.settings.public_url, signing_secret(self.settings),
                      media_ttl_s=self.settings.media_url_ttl_s)
        notifier = build_notifier(self.settings, self.factory)
        self.relay = Relay(self.factory, self.channels, links, _clock,
                           max_attempts=self.settings.notify_max_attempts,
                           lease_s=max(60.0, 4 * self.settings.notify_timeout_s),
                           poll_s=self.relay_poll_s, on_failed=notifier.escalate_unreachable)
        self.notifier = notifier
        return notifier

    def start(self) -> None:
        self.build()
        assert self.relay is not None
        wakeup = wakeup_for(self.engine)
        self._woken_by = [wakeup.subscribe(OUTBOX_CHANNEL, self.relay.wake)]
        self.relay.start()
        if self.with_scheduler:
            self.scheduler = EscalationScheduler(self.engine, self.tick,
                                                 interval_s=self.settings.scheduler_interval_s)
            self.scheduler.start()
            self._woken_by.append(wakeup.subscribe(ESCALATION_CHANNEL, self.plan_escalations))
            self.plan_escalations()
        log.info("alerting: channels %s, policy %r, scheduler %s",
                 ", ".join(sorted(self.channels)), self.settings.escalation_policy,
                 "embedded" if self.with_scheduler else "elsewhere")

    def tick(self) -> int:
        """Advance due escalations now, then plan the scheduler's next wake-up."""
        assert self.notifier is not None
        steps = self.notifier.tick()
        self.plan_escalations()
        return steps

    def plan_escalations(self, *_: object) -> None:
        """Have the scheduler wake at the next escalation's due time (if it runs here)."""
        scheduler, notifier = self.scheduler, self.notifier
        if scheduler is not None and notifier is not None:
            due = notifier.next_due()
            if due is not None:
                scheduler.wake_at(due)

    def next_due(self) -> datetime | None:
        assert self.notifier is not None
        return self.notifier.next_due()

    def stop(self) -> None:
        for subscription in self._woken_by:
            subscription.close()
        self._woken_by = []
        if self.scheduler is not None:
            self.scheduler.stop()
            self.scheduler = None
        if self.relay is not None:
            self.relay.stop()
            self.relay = None
        self.notifier = None
        for channel in self.channels.values():
            close = getattr(channel, "close", None)
            if close is not None:
                close()
        self.channels = {}

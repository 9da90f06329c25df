"""Twilio SMS and MMS through the twilio SDK (``messages.create``), with reconciliation.

Every text ends with ``#<ref>`` (the outbox id). When a send is in doubt (read timeout, crash
after the request), :meth:`TwilioChannel.reconcile` lists today's messages to that number and
finds the ref, so the text is never sent twice and never lost.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from notifications.channels import (
    ChannelBase,
    ChannelError,
    Delivery,
    InDoubtError,
    PermanentError,
    RetryableError,
    SendResult,
)
from notifications.payload import sms_text

MAX_MEDIA = 10


def twilio_client(account_sid: str, auth_token: str, timeout_s: float,
                  base_url: str | None) -> Client:
    """A twilio REST client with a request timeout (seconds); ``base_url`` replaces
    ``https://api.twilio.com`` (a proxy, or a test fake)."""
    client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=timeout_s))
    if base_url:
        client.api.base_url = base_url.rstrip("/")
    return client


def channel_error(exc: TwilioException | OSError) -> ChannelError:
    """A failed twilio request as the relay understands it: 429 and 5xx are retried, other
    HTTP errors are permanent, a transport error leaves the request in doubt."""
    if isinstance(exc, TwilioRestException):
        if exc.status == 429 or exc.status >= 500:
            return RetryableError(f"Twilio HTTP {exc.status}: {exc.msg}")
        return PermanentError(f"Twilio HTTP {exc.status} code {exc.code}: {exc.msg}")
    return InDoubtError(f"Twilio transport error: {exc}")  # timeouts, connection resets


class TwilioChannel(ChannelBase):
    """``sms`` (text) or ``mms`` (text + up to 10 key images as signed, short-lived URLs)."""

    def __init__(self, account_sid: str, auth_token: str, from_number: str, *,
                 channel: str = "sms", status_callback: str | None = None,
                 timeout_s: float = 10.0, base_url: str | None = None,
                 parallel: int = 4) -> None:
        """``base_url`` replaces ``https://api.twilio.com`` (a proxy, or a test fake)."""
        if channel not in ("sms", "mms"):
            raise ValueError(f"Twilio channel must be sms or mms, not {channel!r}")
        self.name = channel
        self.from_number = from_number
        self.status_callback = status_callback
        self.parallel = parallel
        self.client = twilio_client(account_sid, auth_token, timeout_s, base_url)

    def send(self, delivery: Delivery) -> SendResult:
        kwargs: dict[str, object] = {"to": delivery.address, "from_": self.from_number,
                                     "body": sms_text(delivery.payload, delivery.ref)}
        if self.name == "mms" and delivery.media_urls:
            kwargs["media_url"] = list(delivery.media_urls[:MAX_MEDIA])
        if self.status_callback:
            kwargs["status_callback"] = self.status_callback
        try:
            message = self.client.messages.create(**kwargs)
        except (TwilioException, OSError) as exc:
            raise channel_error(exc) from exc
        return SendResult(provider_id=str(message.sid))

    def send_many(self, deliveries: list[Delivery]) -> list[SendResult | ChannelError]:
        """Up to ``parallel`` requests at once (Twilio queues per sender number anyway)."""
        def one(delivery: Delivery) -> SendResult | ChannelError:
            try:
                return self.send(delivery)
            except ChannelError as exc:
                return exc

        if len(deliveries) <= 1:
            return [one(d) for d in deliveries]
        with ThreadPoolExecutor(max_workers=min(self.parallel, len(deliveries))) as pool:
            return list(pool.map(one, deliveries))

    def reconcile(self, delivery: Delivery) -> str | None:
        """The sid of a message to this number carrying this delivery's ``#ref``, if any."""
        since = datetime.now(UTC) - timedelta(days=1)
        suffix = f"#{delivery.ref}"
        try:
            messages = self.client.messages.list(to=delivery.address, from_=self.from_number,
                                                 date_sent_after=since, limit=200)
        except (TwilioException, OSError) as exc:
            raise RetryableError(f"Twilio reconcile failed: {exc}") from exc
        for message in messages:
            if (message.body or "").endswith(suffix):
                return str(message.sid)
        return None

"""Twilio Programmable Voice: a call that speaks the finding and takes one keypress.

The call's TwiML is sent inline with ``calls.create``: the finding (payload title, body and site:
no PHI) inside ``<Gather numDigits="1">`` whose action is the keypress URL (``1`` acknowledges,
``2`` passes the case to the next person at once), said twice, then a goodbye. Twilio reports the
call's end (``completed``, ``busy``, ``no-answer``, ``failed``, ``canceled``) to the status
callback; the engine retries unanswered calls (see ``Notifier.record_call_status``).

A call cannot be looked up by a reference of ours, so an in-doubt call is placed again: a
second ring is better than a missed one.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape, quoteattr

from twilio.base.exceptions import TwilioException

from notifications.channels import ChannelBase, Delivery, SendResult
from notifications.channels.twilio_sms import channel_error, twilio_client
from notifications.payload import ACK_SCHEMA

RING_S = 30
"""Seconds the phone rings before Twilio gives up (``no-answer``)."""
GATHER_S = 8
"""Seconds Twilio waits for the keypress after the prompt."""
CALL_EVENTS = ["completed"]
"""Status callbacks asked for: the call's final status (busy / no-answer / failed included)."""


def spoken(payload: dict[str, Any]) -> str:
    """What the call says: the level, the finding and the site (the payload has no PHI)."""
    if payload.get("schema") == ACK_SCHEMA:
        return f"Stroke alert update. {payload['title']}. {payload['site']}."
    level = str(payload["level"]).replace("_", " ")
    return (f"Stroke alert, {level}. {payload['title']}. {payload['body']}. "
            f"Site: {payload['site']}.")


def call_twiml(payload: dict[str, Any], keypress_url: str) -> str:
    """The call's TwiML: the finding and the prompt inside one ``<Gather>``, said twice."""
    prompt = ("Press 1 to acknowledge. Press 2 to pass this alert to the next person."
              if payload.get("schema") != ACK_SCHEMA else "")
    say = f"<Say>{escape(spoken(payload))} {escape(prompt)}</Say>"
    gather = (f'<Gather numDigits="1" timeout="{GATHER_S}" method="POST" '
              f"action={quoteattr(keypress_url)}>{say}<Pause length=\"1\"/>{say}</Gather>")
    return (f'<?xml version="1.0" encoding="UTF-8"?><Response>{gather}'
            "<Say>No key pressed. Goodbye.</Say></Response>")


class TwilioVoiceChannel(ChannelBase):
    """``voice``: one call per delivery to the person's phone; the provider id is the call sid."""

    def __init__(self, account_sid: str, auth_token: str, from_number: str, *,
                 keypress_url: str, status_callback: str | None = None,
                 timeout_s: float = 10.0, base_url: str | None = None) -> None:
        """``keypress_url``: where ``<Gather>`` posts the digit; ``base_url`` replaces
        ``https://api.twilio.com`` (a proxy, or a test fake)."""
        self.name = "voice"
        self.from_number = from_number
        self.keypress_url = keypress_url
        self.status_callback = status_callback
        self.client = twilio_client(account_sid, auth_token, timeout_s, base_url)

    def send(self, delivery: Delivery) -> SendResult:
        kwargs: dict[str, Any] = {"to": delivery.address, "from_": self.from_number,
                                  "twiml": call_twiml(delivery.payload, self.keypress_url),
                                  "timeout": RING_S}
        if self.status_callback:
            kwargs.update(status_callback=self.status_callback,
                          status_callback_event=CALL_EVENTS, status_callback_method="POST")
        try:
            call = self.client.calls.create(**kwargs)
        except (TwilioException, OSError) as exc:
            raise channel_error(exc) from exc
        return SendResult(provider_id=str(call.sid))

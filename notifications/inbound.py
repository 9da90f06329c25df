"""Inbound Twilio webhooks: SMS replies (``1`` / ``ACK`` acknowledges) and status callbacks.

Both are verified with twilio's ``RequestValidator`` against the exact public URL Twilio
called; an unsigned or mis-signed request is refused.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from notifications.engine import Notifier

ACK_WORDS = {"1", "ACK", "ACKNOWLEDGE", "YES", "OK"}


class SignatureError(PermissionError):
    """The request is not from Twilio (bad or missing ``X-Twilio-Signature``)."""


def twiml(message: str | None) -> str:
    """A TwiML ``<Response>`` with an optional reply ``<Message>``."""
    inner = f"<Message>{escape(message)}</Message>" if message else ""
    return f'<?xml version="1.0" encoding="UTF-8"?><Response>{inner}</Response>'


class TwilioInbound:
    def __init__(self, notifier: Notifier, auth_token: str) -> None:
        self.notifier = notifier
        self.validator = RequestValidator(auth_token)

    def _verify(self, url: str, params: dict[str, str], signature: str | None) -> None:
        if not signature or not self.validator.validate(url, params, signature):
            raise SignatureError("invalid Twilio signature")

    def incoming_sms(self, session: Session, url: str, params: dict[str, str],
                     signature: str | None) -> str:
        """Handle a reply; returns the TwiML to answer with (in ``session``'s transaction)."""
        self._verify(url, params, signature)
        word = params.get("Body", "").strip().upper().rstrip(".!")
        if word not in ACK_WORDS:
            return twiml("Reply 1 or ACK to acknowledge the latest stroke alert.")
        if self.notifier.acknowledge_from_phone(session, params.get("From", ""), via="sms"):
            return twiml("Acknowledged. The team has been told you are on the way.")
        return twiml("Nothing to acknowledge: no active alert for this number.")

    def status_callback(self, session: Session, url: str, params: dict[str, str],
                        signature: str | None) -> bool:
        """Record ``MessageStatus`` for ``MessageSid``; False if the message is unknown."""
        self._verify(url, params, signature)
        return self.notifier.record_provider_status(
            session, params.get("MessageSid", ""), params.get("MessageStatus", "unknown"))

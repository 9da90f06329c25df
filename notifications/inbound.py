"""Inbound Twilio webhooks: SMS replies and call keypresses (``1`` acknowledges, ``2`` passes
the case to the next person at once) and status callbacks (messages and calls).

All are verified with twilio's ``RequestValidator`` against the exact public URL Twilio
called; an unsigned or mis-signed request is refused.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from notifications.engine import Notifier

ACK_WORDS = {"1", "ACK", "ACKNOWLEDGE", "YES", "OK"}
PASS_WORDS = {"2", "PASS", "NEXT"}


class SignatureError(PermissionError):
    """The request is not from Twilio (bad or missing ``X-Twilio-Signature``)."""


def twiml(message: str | None) -> str:
    """A TwiML ``<Response>`` with an optional reply ``<Message>``."""
    inner = f"<Message>{escape(message)}</Message>" if message else ""
    return f'<?xml version="1.0" encoding="UTF-8"?><Response>{inner}</Response>'


def say(message: str) -> str:
    """A TwiML ``<Response>`` that speaks ``message`` and hangs up."""
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            f"<Response><Say>{escape(message)}</Say></Response>")


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
        phone = params.get("From", "")
        if word in PASS_WORDS:
            if self.notifier.pass_from_phone(session, phone):
                return twiml("Passed on: the next person is being paged.")
            return twiml("Nothing to pass on: no active alert for this number.")
        if word not in ACK_WORDS:
            return twiml("Reply 1 or ACK to acknowledge the latest stroke alert, "
                         "2 to pass it to the next person.")
        if self.notifier.acknowledge_from_phone(session, phone, via="sms"):
            return twiml("Acknowledged. The team has been told you are on the way.")
        return twiml("Nothing to acknowledge: no active alert for this number.")

    def voice_keypress(self, session: Session, url: str, params: dict[str, str],
                       signature: str | None) -> str:
        """A keypress during a page call (``Digits`` for ``CallSid``); returns the TwiML that
        answers it, spoken to the caller."""
        self._verify(url, params, signature)
        row = self.notifier.call_row(session, params.get("CallSid", ""))
        digit = params.get("Digits", "").strip()[:1]
        if row is None or row.person_id is None:
            return say("This call is not about an active stroke alert. Goodbye.")
        if digit == "1":
            if self.notifier.acknowledge(session, case_id=row.case_id, by=row.recipient,
                                         via="voice"):
                return say("Acknowledged. The team has been told you are on the way. Goodbye.")
            return say("This alert was already acknowledged. Goodbye.")
        if digit == "2":
            if self.notifier.pass_on(session, row.case_id, row.person_id):
                return say("Passed on. The next person is being paged. Goodbye.")
            return say("This alert is no longer escalating. Goodbye.")
        return say("Not recognised. Answer the next call, or reply 1 to the text. Goodbye.")

    def status_callback(self, session: Session, url: str, params: dict[str, str],
                        signature: str | None) -> bool:
        """Record ``MessageStatus`` for ``MessageSid``, or a call's final ``CallStatus`` for
        ``CallSid`` (an unanswered page call is placed again); False if unknown."""
        self._verify(url, params, signature)
        if "CallSid" in params and "MessageSid" not in params:
            return self.notifier.record_call_status(
                session, params["CallSid"], params.get("CallStatus", "unknown"))
        return self.notifier.record_provider_status(
            session, params.get("MessageSid", ""), params.get("MessageStatus", "unknown"))

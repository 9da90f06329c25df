"""The voice call's TwiML (well-formed whatever the finding says, the prompt inside the Gather)
and the delivery states a history reports."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree import ElementTree

import pytest

from notifications.channels.twilio_voice import call_twiml
from notifications.engine import STATES, delivery_state
from notifications.payload import ack_payload, alert_payload

KEYPRESS = "https://stroke.example.org/api/notifications/twilio/voice?x=1&y=2"


def test_call_twiml_is_well_formed_with_the_prompt_in_the_gather() -> None:
    payload = alert_payload(alert_id="a", case_id="c", level="manual_review", kind="new",
                            title='CTA <review> & "motion"', body="Core > 70 mL",
                            site="CT2 & 3", created_at=datetime(2026, 3, 14, tzinfo=UTC),
                            url="https://x/cases/c")
    response = ElementTree.fromstring(call_twiml(payload, KEYPRESS))
    gather = response.find("Gather")
    assert gather is not None and gather.get("action") == KEYPRESS
    assert gather.get("numDigits") == "1" and gather.get("method") == "POST"
    said = [say.text for say in gather.iter("Say")]
    assert len(said) == 2 and said[0] == said[1]  # said twice
    assert said[0].startswith('Stroke alert, manual review. CTA <review> & "motion". ')
    assert "Site: CT2 & 3." in said[0] and "Press 2 to pass" in said[0]
    assert response.findall("Say")[-1].text == "No key pressed. Goodbye."


def test_an_acknowledgement_call_has_no_prompt() -> None:
    payload = ack_payload(alert_id="a", case_id="c", by="Dr Ada Okafor", via="sms",
                          at=datetime(2026, 3, 14, tzinfo=UTC), site="CT2", url="https://x")
    said = ElementTree.fromstring(call_twiml(payload, KEYPRESS)).find("Gather/Say").text
    assert said.startswith("Stroke alert update. Dr Ada Okafor is on the way.")
    assert "Press" not in said


@pytest.mark.parametrize(("status", "receipt", "state"), [
    ("pending", None, "queued"), ("sending", None, "sending"), ("sent", None, "sent"),
    ("sent", "queued", "sent"), ("sent", "delivered", "delivered"), ("sent", "read", "read"),
    ("sent", "completed", "delivered"), ("sent", "undelivered", "failed"),
    ("sent", "no-answer", "failed"), ("failed", None, "failed"),
    ("cancelled", None, "cancelled"), ("failed", "busy", "failed")])
def test_delivery_state(status: str, receipt: str | None, state: str) -> None:
    assert delivery_state(status, receipt) == state and state in STATES

"""Delivery receipts: FCM send results and Twilio status callbacks (messages and calls) set each
delivery's state; the case page shows per person what was sent and what happened; when every
page of a step has failed the escalation moves on at once instead of waiting out the step."""

from __future__ import annotations

from sqlalchemy import select

from notifications.models import OutboxMessage
from strokealert import alerting
from strokealert.api.services.sessions import issue_token
from strokealert.db.models.users import User
from tests.api.test_critical_alert_e2e import ADA_PHONE, PUBLIC_URL, Stack, stack

__all__ = ["stack"]  # the fixture, shared with the end-to-end test
STATUS = "/api/notifications/twilio/status"


def raise_alert(stack: Stack) -> None:
    with stack.env.factory.begin() as session:
        alerting.raise_alert(session, stack.env.settings, case_id=stack.case_id,
                             level="critical", kind="new", title="LVO suspected: left M1",
                             body="Core 21 mL", site="Main campus CT2",
                             url=f"{PUBLIC_URL}/cases/{stack.case_id}",
                             key_images=["lvo/lvo_mip.png"])
    stack.run()


def states(stack: Stack, person: str) -> dict[str, str]:
    """Channel → state of the person's page deliveries."""
    with stack.env.factory() as session:
        history = alerting.alert_history(session, stack.case_id)
    return {d["channel"]: d["state"] for a in history for d in a["deliveries"]
            if d["recipient"] == person and d["purpose"] == "page"}


def sid(stack: Stack, channel: str, phone: str) -> str:
    with stack.env.factory() as session:
        found = session.scalar(select(OutboxMessage.provider_id).where(
            OutboxMessage.channel == channel, OutboxMessage.address == phone))
    assert found
    return found


def test_receipts_set_states_and_failures_escalate_at_once(stack: Stack) -> None:
    stack.fcm.unregistered.add("tok-ada")  # her phone's app was uninstalled
    raise_alert(stack)
    # FCM answered UNREGISTERED: her push failed; the SMS (+2) and call (+5) are still queued,
    # so nothing escalates yet.
    assert states(stack, "Dr Ada Okafor") == {"push": "failed", "sms": "queued",
                                              "voice": "queued"}
    assert stack.escalation().step == 0

    stack.advance(minutes=2)
    sms_sid = sid(stack, "sms", ADA_PHONE)
    assert states(stack, "Dr Ada Okafor")["sms"] == "sent"
    assert stack.twilio_post(STATUS, {"MessageSid": sms_sid,
                                      "MessageStatus": "sent"}).status_code == 204
    assert stack.twilio_post(STATUS, {"MessageSid": sms_sid,
                                      "MessageStatus": "undelivered"}).status_code == 204
    assert states(stack, "Dr Ada Okafor")["sms"] == "failed"
    assert stack.escalation().step == 0  # the call is still to come

    # +5: the call; nobody answers it three times (a minute apart): every page failed.
    stack.advance(minutes=3)
    for attempt in range(3):
        [*_, call] = stack.calls_to(ADA_PHONE)
        assert len(stack.calls_to(ADA_PHONE)) == attempt + 1
        assert stack.twilio_post(STATUS, {"CallSid": call["sid"],
                                          "CallStatus": "busy"}).status_code == 204
        stack.advance(minutes=1)
    assert len(stack.calls_to(ADA_PHONE)) == 3
    assert states(stack, "Dr Ada Okafor") == {"push": "failed", "sms": "failed",
                                              "voice": "failed"}
    # ... so the next person was paged at +7 minutes, not at the step's +15.
    assert stack.escalation().step == 1
    assert [r.json()["message"]["token"] for r in stack.fcm.sends()][-1] == "tok-ben"
    assert states(stack, "Dr Ben Laine")["push"] == "sent"  # FCM accepted it

    # Ben's call at +1 is answered: delivered.
    stack.advance(minutes=1)
    [ben_call] = stack.calls_to("+15550000002")
    stack.twilio_post(STATUS, {"CallSid": ben_call["sid"], "CallStatus": "completed"})
    assert states(stack, "Dr Ben Laine") == {"push": "sent", "voice": "delivered"}

    # The case page shows per person what was sent and what happened to it.
    with stack.env.factory.begin() as session:
        user = session.scalar(select(User).where(User.username == "stroke_team"))
        token = issue_token(session, user, "test", 1, stack.env.settings)[0]
    page = stack.client.get(f"/cases/{stack.case_id}",
                            headers={"Authorization": f"Bearer {token}"}).text
    section = page.split("Alerts, deliveries and acknowledgements")[1]
    assert 'class="st-failed">failed</span>' in section
    assert "provider: undelivered" in section and "call busy 3 times" in section
    assert "sent, busy, sent, busy, sent, busy" in section  # the call's tries
    assert 'class="st-delivered">delivered</span>' in section

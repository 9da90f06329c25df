"""Whole escalations through the real firebase-admin and twilio SDKs, on a fast-forwarded clock."""

from __future__ import annotations

import json
import time
from collections import Counter
from email.message import Message
from urllib.parse import parse_qs, urlparse

from conftest import PUBLIC_URL, SIGNING_SECRET, TWILIO_FROM, WEBHOOK_SECRET, Stack
from twilio.request_validator import RequestValidator

from notifications.models import Alert
from notifications.signing import verify_body, verify_signed

ADA, BEN, CYD, DEV, EVE = ("Dr Ada Okafor", "Dr Ben Laine", "Dr Cyd Ramos", "Dr Dev Patel",
                           "Eve Tran")


def fcm_messages(stack: Stack) -> list[dict]:
    return [r.json()["message"] for r in stack.fakes.fcm.sends()]


def new_tokens(stack: Stack, since: int) -> list[str]:
    """Tokens pushed to after the first ``since`` accepted messages (one pass is concurrent)."""
    return sorted(m["token"] for m in stack.fakes.fcm.sent[since:])


def sms_forms(stack: Stack) -> list[dict[str, list[str]]]:
    return [r.form() for r in stack.fakes.twilio.creates()]


def assert_exactly_once(stack: Stack, resends: bool = False,
                        failed: frozenset[str] = frozenset()) -> None:
    """Every outbox row was sent once: one provider-side artefact per sent row, no repeats.

    ``resends``: FCM and webhooks have no lookup, so an in-doubt push or webhook is resent with
    the same tag / ``Idempotency-Key`` (the phone replaces the notification, the receiver
    drops the repeat: still one) — then only the phone's and the receiver's view is checked.
    ``failed``: addresses whose rows may end failed (permanent provider errors, recorded).
    """
    rows = stack.rows()
    assert {r.address for r in rows if r.status == "failed"} == failed
    assert all(r.status in ("sent", "cancelled", "failed") for r in rows), \
        [(r.dedupe_key, r.status, r.last_error) for r in rows if r.status not in
         ("sent", "cancelled", "failed")]
    sent = Counter(r.channel for r in rows if r.status == "sent")
    fcm = stack.fakes.fcm
    assert sent["push"] == len(fcm.shown)  # one notification on a phone per sent push row
    if not resends:
        assert sent["push"] == len(fcm.sent) and set(fcm.shown.values()) <= {1}
        assert set(stack.fakes.webhook.deliveries().values()) <= {1}
    bodies = [m["body"] for m in stack.fakes.twilio.messages]
    assert sent["sms"] + sent["mms"] == len(bodies) == len(set(bodies))
    assert sent["email"] == len(stack.fakes.smtp.messages)
    assert sent["webhook"] == len(stack.fakes.webhook.deliveries())


def test_stroke_team_escalation_push_then_sms_then_next_step_repeat_and_sms_ack(
        stack: Stack) -> None:
    t0 = stack.clock.now()
    alert_id = stack.raise_alert(case_id="case-7f3a")
    stack.drain()

    # Step 1 at t0: the neurologist on call (Ada today) and the CT technologist, by push.
    assert new_tokens(stack, 0) == ["tok-ada", "tok-eve"]
    ada = next(m for m in fcm_messages(stack) if m["token"] == "tok-ada")
    payload = json.loads(ada["data"]["payload"])
    image = urlparse(payload.pop("image_url"))
    assert payload == {
        "schema": "strokealert.alert/2", "alert_id": alert_id, "case_id": "case-7f3a",
        "level": "critical", "kind": "new", "title": "LVO suspected: left M1",
        "body": "Core 21 mL, Tmax>6 s 102 mL, mismatch 4.8", "site": "Main campus CT2",
        "created_at": "2026-03-14T02:49:00Z", "url": f"{PUBLIC_URL}/cases/case-7f3a"}
    # The key image: a link signed for the push channel, valid 30 minutes from the send.
    assert f"{image.scheme}://{image.netloc}" == PUBLIC_URL
    assert image.path == f"/alerts/{alert_id}/images/0"
    image_query = {k: v[0] for k, v in parse_qs(image.query).items()}
    assert image_query["via"] == "push" and "to" not in image_query  # one link per multicast
    assert int(image_query["exp"]) == int(t0.timestamp()) + 1800
    assert verify_signed(image.path, image_query, SIGNING_SECRET, int(t0.timestamp()))
    image_url = image.geturl()
    assert ada["notification"] == {"title": "LVO suspected: left M1",
                                   "body": "Core 21 mL, Tmax>6 s 102 mL, mismatch 4.8",
                                   "image": image_url}
    assert ada["android"] == {"priority": "high", "ttl": "3600s",
                              "collapse_key": f"sa-{alert_id}-c0s0",
                              "notification": {"tag": f"sa-{alert_id}-c0s0",
                                               "channel_id": "stroke-alert"}}
    headers = ada["apns"]["headers"]
    assert headers["apns-priority"] == "10" and headers["apns-push-type"] == "alert"
    assert headers["apns-collapse-id"] == f"sa-{alert_id}-c0s0"
    assert 0 < int(headers["apns-expiration"]) - time.time() <= 3600
    assert ada["apns"]["payload"] == {"aps": {"sound": "default", "category": "STROKE_ALERT",
                                              "mutable-content": 1}}
    assert ada["apns"]["fcm_options"] == {"image": image_url}
    ack = urlparse(ada["data"]["ack_url"])
    assert f"{ack.scheme}://{ack.netloc}" == PUBLIC_URL and ack.path == f"/alerts/{alert_id}/ack"
    assert verify_signed(ack.path, {k: v[0] for k, v in parse_qs(ack.query).items()},
                         SIGNING_SECRET, int(t0.timestamp()))
    request = next(r for r in stack.fakes.fcm.sends() if r.json()["message"] == ada)
    assert request.path == "/v1/projects/stroke-test/messages:send"
    assert request.headers["Authorization"] == "Bearer fake-access-token"
    assert stack.fakes.fcm.token_requests >= 1  # OAuth2 JWT-bearer grant at the fake
    # The webhook (set up for schema 1) got the same alert as strokealert.alert/1, signed.
    hook = stack.fakes.webhook.requests[0]
    assert hook.path == "/hooks/stroke"
    assert json.loads(hook.body) == {**payload, "schema": "strokealert.alert/1"}
    assert verify_body(WEBHOOK_SECRET, hook.body, hook.headers["X-Strokealert-Signature"],
                       now=time.time())
    assert stack.fakes.twilio.creates() == []

    # +1:59 nothing new; +2 min unacknowledged: SMS to Ada, MMS with the key image to Eve.
    stack.advance(seconds=119)
    assert stack.fakes.twilio.creates() == []
    stack.advance(seconds=1)
    forms = sms_forms(stack)  # the SMS and the MMS are sent side by side: either first
    assert sorted(f["To"] for f in forms) == [["+15550000001"], ["+15550000005"]]
    ada_sms = next(f for f in forms if f["To"] == ["+15550000001"])
    ada_row = stack.rows(recipient=ADA, channel="sms")[0]
    # A plain SMS carries the key image as a link signed for that text (its outbox row).
    sms_image = ada_sms["Body"][0].split(" Image: ")[1].split(" ")[0]
    sms_query = {k: v[0] for k, v in parse_qs(urlparse(sms_image).query).items()}
    assert (sms_query["via"], sms_query["to"]) == ("sms", str(ada_row.id))
    assert ada_sms == {
        "To": ["+15550000001"], "From": [TWILIO_FROM],
        "Body": ["[CRITICAL] LVO suspected: left M1. Core 21 mL, Tmax>6 s 102 mL, mismatch 4.8"
                 f" - Main campus CT2 {PUBLIC_URL}/cases/case-7f3a Image: {sms_image} Reply 1 "
                 f"or ACK to acknowledge. #{ada_row.id}"],
        "StatusCallback": [f"{PUBLIC_URL}/api/notifications/twilio/status"]}
    media = urlparse(next(f for f in forms if f["To"] == ["+15550000005"])["MediaUrl"][0])
    assert media.path == f"/alerts/{alert_id}/images/0"
    query = {k: v[0] for k, v in parse_qs(media.query).items()}
    now = int(stack.clock.now().timestamp())
    assert verify_signed(media.path, query, SIGNING_SECRET, now)
    assert not verify_signed(media.path, {**query, "sig": "0" * 64}, SIGNING_SECRET, now)
    with stack.factory() as session:
        assert session.get(Alert, alert_id).key_images == ["lvo_mip.png"]
    assert (query["via"], query["to"]) == ("mms", str(stack.rows(recipient=EVE,
                                                                  channel="mms")[0].id))
    assert int(query["exp"]) == int(stack.clock.now().timestamp()) + 1800

    # +5 min: step 2, the neuro-interventionalist (push) and the radiologist (e-mail).
    stack.advance(minutes=3)
    assert new_tokens(stack, 2) == ["tok-cyd"]
    email: Message = stack.fakes.smtp.messages[0]
    assert email["To"] == "dev.patel@hospital.example"
    assert email["Subject"] == "[strokealert critical] LVO suspected: left M1"
    assert json.loads(stack.fakes.fcm.sent[2]["data"]["payload"])["kind"] == "escalation"

    # +10 min: the policy repeats once from step 1 (Ada again, Eve again).
    stack.advance(minutes=5)
    assert new_tokens(stack, 3) == ["tok-ada", "tok-eve"]
    # +12 min: SMS fallbacks of step 2 (+7) went out; Dev's is at +7 too.
    stack.advance(minutes=1)
    assert len(sms_forms(stack)) == 4  # Ada, Eve (+2); Cyd, Dev (+7)

    # Cyd replies ACK from his phone (verified with Twilio's RequestValidator).
    inbound_url = f"{PUBLIC_URL}/api/notifications/twilio/sms"
    params = {"From": "+15550000003", "To": TWILIO_FROM, "Body": " ack ", "MessageSid": "SMx"}
    signature = RequestValidator(stack.fakes.twilio.auth_token).compute_signature(
        inbound_url, params)
    with stack.factory.begin() as session:
        reply = stack.component.inbound.incoming_sms(session, inbound_url, params, signature)
    assert "Acknowledged" in reply and reply.startswith("<?xml")
    stack.drain()
    # Everyone already paged hears "Dr Cyd Ramos is on the way" on their first channel.
    acks = [m for m in fcm_messages(stack)
            if json.loads(m["data"]["payload"])["schema"] == "strokealert.ack/1"]
    assert sorted(m["token"] for m in acks) == ["tok-ada", "tok-eve"]
    assert json.loads(acks[0]["data"]["payload"])["title"] == f"{CYD} is on the way"
    assert "Dr Cyd Ramos is on the way" in stack.fakes.smtp.messages[-1]["Subject"]
    # The +12 SMS fallbacks of the repeat were cancelled; nothing moves any more.
    cancelled = stack.rows(status="cancelled")
    assert {(r.recipient, r.channel) for r in cancelled} == {(ADA, "sms"), (EVE, "mms")}
    before = len(stack.fakes.fcm.requests), len(stack.fakes.twilio.requests)
    stack.advance(minutes=60)
    assert (len(stack.fakes.fcm.requests), len(stack.fakes.twilio.requests)) == before
    with stack.factory.begin() as session:
        assert stack.notifier.acknowledge(session, case_id="case-7f3a", by=ADA,
                                          via="api") is False
    assert_exactly_once(stack)

    with stack.factory() as session:
        history = stack.notifier.history(session, "case-7f3a")
    assert [a["alert_id"] for a in history] == [alert_id]
    assert history[0]["acks"][0]["by"] == CYD and history[0]["acks"][0]["via"] == "sms"
    deliveries = history[0]["deliveries"]
    first = deliveries[0]
    assert first["recipient"] == ADA and first["channel"] == "push"
    assert first["status"] == "sent"
    assert first["provider_id"].startswith("projects/stroke-test/messages/")
    assert first["attempts"] == 1 and first["tries"][0]["outcome"] == "sent"
    assert {d["recipient"] for d in deliveries} == {ADA, EVE, CYD, DEV, "webhook", "console"}


def test_update_notifies_only_people_already_paged(stack: Stack) -> None:
    stack.raise_alert(case_id="case-u")
    stack.drain()
    update_id = stack.raise_alert(case_id="case-u", kind="update", level="critical",
                                  title="LVO suspected: left M1",
                                  body="Core 18 mL, Tmax>6 s 110 mL, mismatch 6.1")
    stack.drain()
    updates = [m for m in fcm_messages(stack)
               if json.loads(m["data"]["payload"])["alert_id"] == update_id]
    assert sorted(m["token"] for m in updates) == ["tok-ada", "tok-eve"]
    assert json.loads(updates[0]["data"]["payload"])["kind"] == "update"
    assert stack.fakes.smtp.messages == []  # the radiologist was not paged yet
    # The update does not restart the escalation: step 2 still comes at +5 min, once.
    stack.advance(minutes=5)
    assert stack.fakes.fcm.sent[-1]["token"] == "tok-cyd"
    with stack.factory.begin() as session:
        assert stack.notifier.acknowledge(session, alert_id=update_id, by=BEN, via="api")
    stack.drain()
    assert_exactly_once(stack)

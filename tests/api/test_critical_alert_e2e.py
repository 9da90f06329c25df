"""A critical alert end to end, through the real firebase-admin and twilio SDKs against loopback
fakes and the real web routes, on a fast-forwarded clock (issue 18's done-when test):

push with the key image (FCM request body), the image fetched through its signed link and
audited, then refused once expired; an SMS at +2 min; a voice call at +5 min that is not
answered, recorded and placed again; keypress 2 passing the case to the next person at once;
that person's call, keypress 1 acknowledging and stopping the escalation.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from notifications.clock import FakeClock
from notifications.directory import load_directory
from notifications.models import Escalation, OutboxMessage
from strokealert import alerting
from strokealert.accesslog import log as audit_log
from tests.api.helpers import Env, get_case, make_env, new_case
from tests.notifications.fakes import FakeFcm, FakeTwilio

PUBLIC_URL = "https://stroke.example.org"
ADA_PHONE, BEN_PHONE, FROM = "+15550000001", "+15550000002", "+15550009999"
TEAM = {
    "people": [
        {"name": "Dr Ada Okafor", "roles": ["neurologist"],
         "devices": [{"token": "tok-ada", "platform": "android"}],
         "contacts": [{"type": "sms", "address": ADA_PHONE}],
         "rules": [{"channel": "push", "after_minutes": 0}, {"channel": "sms", "after_minutes": 2},
                   {"channel": "voice", "after_minutes": 5}]},
        {"name": "Dr Ben Laine", "roles": ["neuro-interventionalist"],
         "devices": [{"token": "tok-ben", "platform": "ios"}],
         "contacts": [{"type": "voice", "address": BEN_PHONE}],
         "rules": [{"channel": "push", "after_minutes": 0},
                   {"channel": "voice", "after_minutes": 1}]},
    ],
    "policies": [{"name": "stroke", "repeat": 0, "steps": [
        {"delay_minutes": 15, "targets": [{"role": "neurologist"}]},
        {"delay_minutes": 15, "targets": [{"role": "neuro-interventionalist"}]}]}],
}


@dataclass
class Stack:
    env: Env
    clock: FakeClock
    fcm: FakeFcm
    twilio: FakeTwilio
    component: alerting.AlertingComponent
    client: TestClient
    case_id: str

    def advance(self, **delta: float) -> None:
        """Move the clock, run the escalation engine and send whatever fell due."""
        self.clock.advance(**delta)
        self.run()

    def run(self) -> None:
        assert self.component.relay is not None
        self.component.tick()
        self.component.relay.drain()

    def twilio_post(self, path: str, params: dict[str, str]) -> object:
        signature = RequestValidator(self.twilio.auth_token).compute_signature(
            PUBLIC_URL + path, params)
        return self.client.post(path, data=params, headers={"X-Twilio-Signature": signature})

    def calls_to(self, phone: str) -> list[dict]:
        return [c for c in self.twilio.calls if c["to"] == phone]

    def escalation(self) -> Escalation:
        with self.env.factory() as session:
            row = session.scalar(select(Escalation).where(Escalation.case_id == self.case_id))
            assert row is not None
            return row

    def audit(self, action: str) -> list:
        with self.env.factory() as session:
            return sorted(audit_log.query(session, action=action), key=lambda e: e.id)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    alerting.set_clock(clock)
    fcm, twilio = FakeFcm(), FakeTwilio()
    credentials = fcm.service_account(tmp_path / "firebase.json")
    env = make_env(tmp_path / "var", public_url=PUBLIC_URL, escalation_policy="stroke",
                   fcm_credentials_file=credentials, fcm_endpoint=fcm.url,
                   twilio_account_sid=twilio.account_sid, twilio_auth_token=twilio.auth_token,
                   twilio_from_number=FROM, twilio_base_url=twilio.url, notify_timeout_s=2.0,
                   notify_console=False)
    output = tmp_path / "case"
    (output / "lvo").mkdir(parents=True)
    Image.new("RGB", (64, 48), (200, 30, 30)).save(output / "lvo" / "lvo_mip.png")
    case_id = new_case(env.factory, "1.2.826.0.1.4242", output_dir=str(output))
    with env.factory.begin() as session:
        load_directory(session, copy.deepcopy(TEAM), clock.now())
    component = alerting.AlertingComponent(env.settings, env.factory)
    component.build()
    try:
        yield Stack(env, clock, fcm, twilio, component, TestClient(env.app), case_id)
    finally:
        component.stop()
        fcm.close()
        twilio.close()
        alerting.set_clock(None)


def gather(call: dict) -> ElementTree.Element:
    """The ``<Gather>`` of a call's inline TwiML."""
    found = ElementTree.fromstring(call["twiml"]).find("Gather")
    assert found is not None
    return found


def test_critical_alert_push_image_sms_voice_pass_on_and_ack(stack: Stack) -> None:
    with stack.env.factory.begin() as session:
        alerting.raise_alert(session, stack.env.settings, case_id=stack.case_id,
                             level="critical", kind="new", title="LVO suspected: left M1",
                             body="Core 21 mL, Tmax>6 s 102 mL, mismatch 4.8",
                             site="Main campus CT2", url=f"{PUBLIC_URL}/cases/{stack.case_id}",
                             key_images=["lvo/lvo_mip.png"])
    stack.run()

    # Push at 0: the FCM request carries the key image for Android and iOS.
    [push] = [r.json()["message"] for r in stack.fcm.sends()]
    image_url = push["notification"]["image"]
    assert push["token"] == "tok-ada"
    assert image_url.startswith(f"{PUBLIC_URL}/alerts/") and "/images/0?" in image_url
    assert push["apns"]["fcm_options"] == {"image": image_url}
    assert push["apns"]["payload"]["aps"]["mutable-content"] == 1
    assert '"image_url":"' + image_url + '"' in push["data"]["payload"]

    # The phone fetches it through the signed link: served, and audited with the device.
    local = image_url.removeprefix(PUBLIC_URL)
    fetched = stack.client.get(local, headers={"User-Agent": "Pixel-8 FCM/24.1"})
    assert fetched.status_code == 200
    assert Image.open(io.BytesIO(fetched.content)).size == (64, 48)
    [event] = stack.audit("key_image_fetch")
    assert (event.outcome, event.user_agent, event.detail["via"]) == (
        "ok", "Pixel-8 FCM/24.1", "push")

    # +2 min: the SMS fallback, with the image link; +5 min: the voice call.
    stack.advance(minutes=2)
    [sms] = [r.form() for r in stack.twilio.creates()]
    assert sms["To"] == [ADA_PHONE] and " Image: " in sms["Body"][0]
    assert stack.twilio.calls == []
    stack.advance(minutes=3)
    [call] = stack.calls_to(ADA_PHONE)
    assert call["from"] == FROM and call["form"]["Timeout"] == ["30"]
    assert call["form"]["StatusCallback"] == [f"{PUBLIC_URL}/api/notifications/twilio/status"]
    prompt = gather(call)
    assert prompt.get("numDigits") == "1"
    assert prompt.get("action") == f"{PUBLIC_URL}/api/notifications/twilio/voice"
    said = " ".join(say.text or "" for say in prompt.iter("Say"))
    assert "LVO suspected: left M1" in said and "Press 1 to acknowledge" in said
    assert "1.2.826" not in call["twiml"] and stack.case_id not in call["twiml"]

    # Nobody answers: recorded, and the call is placed again a minute later.
    status = "/api/notifications/twilio/status"
    assert stack.twilio_post(status, {"CallSid": call["sid"], "CallStatus": "no-answer",
                                      "To": ADA_PHONE}).status_code == 204
    stack.advance(seconds=59)
    assert len(stack.calls_to(ADA_PHONE)) == 1
    stack.advance(seconds=1)
    first, second = stack.calls_to(ADA_PHONE)
    with stack.env.factory() as session:
        history = alerting.alert_history(session, stack.case_id)
    [voice] = [d for d in history[0]["deliveries"] if d["channel"] == "voice"]
    assert [t["outcome"] for t in voice["tries"]] == ["sent", "no-answer", "sent"]
    assert voice["provider_id"] == second["sid"] and voice["status"] == "sent"

    # Keypress 2 on the second call: the case passes to the next person at once.
    keypress = "/api/notifications/twilio/voice"
    forged = stack.client.post(keypress, data={"CallSid": second["sid"], "Digits": "2"},
                               headers={"X-Twilio-Signature": "forged"})
    assert forged.status_code == 403
    passed = stack.twilio_post(keypress, {"CallSid": second["sid"], "Digits": "2",
                                          "To": ADA_PHONE})
    assert passed.status_code == 200 and "Passed on" in passed.text
    assert passed.headers["content-type"].startswith("application/xml")
    stack.run()  # the scheduler's wake-up: no time passes
    assert [r.json()["message"]["token"] for r in stack.fcm.sends()] == ["tok-ada", "tok-ben"]
    assert stack.escalation().step == 1

    # Ben's call at +1 min; keypress 1 acknowledges and stops the escalation.
    stack.advance(minutes=1)
    [ben_call] = stack.calls_to(BEN_PHONE)
    acked = stack.twilio_post(keypress, {"CallSid": ben_call["sid"], "Digits": "1",
                                         "To": BEN_PHONE})
    assert "Acknowledged" in acked.text
    assert stack.escalation().status == "acknowledged"
    case = get_case(stack.env.factory, stack.case_id)
    assert case.first_ack_by == "Dr Ben Laine"
    [ack] = stack.audit("ack")
    assert ack.detail["via"] == "voice" and ack.object_id == stack.case_id
    again = stack.twilio_post(keypress, {"CallSid": ben_call["sid"], "Digits": "1"})
    assert "already acknowledged" in again.text
    stack.run()
    calls, pushes = len(stack.twilio.calls), len(stack.fcm.sends())
    stack.advance(minutes=60)
    assert (len(stack.twilio.calls), len(stack.fcm.sends())) == (calls, pushes)
    with stack.env.factory() as session:
        pending = session.scalars(select(OutboxMessage).where(
            OutboxMessage.case_id == stack.case_id, OutboxMessage.status == "pending")).all()
    assert pending == []

    # Half an hour after the push went out, its image link is refused (and audited).
    expired = stack.client.get(local, headers={"User-Agent": "Pixel-8 FCM/24.1"})
    assert expired.status_code == 403
    assert [e.outcome for e in stack.audit("key_image_fetch")] == ["ok", "refused"]

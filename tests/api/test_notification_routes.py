"""Public notification routes: Twilio inbound SMS and status callbacks, the signed
acknowledgement link and the signed MMS key-image link, on a real alert and a real relay
(twilio SDK against a loopback fake of its HTTP API)."""

from __future__ import annotations

import copy
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from notifications.directory import load_directory
from notifications.models import Escalation, OutboxMessage, Person
from notifications.relay import Links
from notifications.signing import signed_url
from strokealert import alerting
from strokealert.accesslog import log as audit_log
from strokealert.api.services.sessions import issue_token
from strokealert.db.models.users import User
from tests.api.helpers import Env, get_case, make_env, new_case
from tests.notifications.fakes import FakeTwilio

PUBLIC_URL = "https://stroke.example.org/sa"
ADA_PHONE, BEN_PHONE = "+15550000001", "+15550000002"
TEAM = {
    "people": [
        {"name": "Dr Ada Okafor", "roles": ["neurologist"],
         "contacts": [{"type": "sms", "address": ADA_PHONE}],
         "rules": [{"channel": "sms", "after_minutes": 0}]},
        {"name": "Dr Ben Laine", "roles": ["neurologist"],
         "contacts": [{"type": "mms", "address": BEN_PHONE}],
         "rules": [{"channel": "mms", "after_minutes": 0}]},
    ],
    "policies": [{"name": "stroke", "repeat": 0, "steps": [
        {"delay_minutes": 5, "targets": [{"role": "neurologist"}]}]}],
}


@dataclass
class Stack:
    env: Env
    twilio: FakeTwilio
    component: alerting.AlertingComponent
    client: TestClient
    case_id: str
    alert_id: str

    def twilio_post(self, path: str, params: dict[str, str], *, token: str | None = None
                    ) -> object:
        """POST as Twilio does: form body, signature over the public URL and the params."""
        signature = RequestValidator(token or self.twilio.auth_token).compute_signature(
            PUBLIC_URL + path, params)
        return self.client.post(path, data=params, headers={"X-Twilio-Signature": signature})

    def person_id(self, name: str) -> int:
        with self.env.factory() as session:
            return session.scalar(select(Person.id).where(Person.name == name))

    def ack_rows(self) -> list[dict]:
        with self.env.factory() as session:
            return [ack for alert in alerting.alert_history(session, self.case_id)
                    for ack in alert["acks"]]

    def audit_acks(self) -> list:
        with self.env.factory() as session:
            return audit_log.query(session, action="ack", object_id=self.case_id)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    twilio = FakeTwilio()
    twilio.hang_s = 0.0
    env = make_env(tmp_path / "var", public_url=PUBLIC_URL, escalation_policy="stroke",
                   twilio_account_sid=twilio.account_sid, twilio_auth_token=twilio.auth_token,
                   twilio_from_number="+15550009999", twilio_base_url=twilio.url,
                   notify_timeout_s=2.0)
    output = tmp_path / "case"
    (output / "key").mkdir(parents=True)
    Image.new("RGB", (8, 8), (200, 30, 30)).save(output / "key" / "lvo_mip.png")
    case_id = new_case(env.factory, "1.2.826.0.1.77", output_dir=str(output))
    with env.factory.begin() as session:
        load_directory(session, copy.deepcopy(TEAM), datetime.now(UTC))
        ada = session.scalar(select(Person).where(Person.name == "Dr Ada Okafor"))
        session.scalar(select(User).where(User.username == "stroke_team")).person_id = ada.id
    component = alerting.AlertingComponent(env.settings, env.factory)
    component.build()
    with env.factory.begin() as session:
        alert_id = alerting.raise_alert(
            session, env.settings, case_id=case_id, level="critical", kind="new",
            title="LVO suspected: left M1", body="Core 21 mL, mismatch 4.8",
            site="Main campus CT2", url=f"{PUBLIC_URL}/cases/{case_id}",
            key_images=["key/lvo_mip.png"])
    assert component.relay is not None
    component.relay.drain()
    try:
        yield Stack(env, twilio, component, TestClient(env.app), case_id, alert_id)
    finally:
        component.stop()
        twilio.close()


def test_signed_sms_ack_acknowledges_and_audits(stack: Stack) -> None:
    path = "/api/notifications/twilio/sms"
    params = {"From": ADA_PHONE, "To": "+15550009999", "Body": "ack ", "MessageSid": "SMin1"}
    # Signed for the Host the request reached, not the public URL: refused, nothing changes.
    forged = RequestValidator(stack.twilio.auth_token).compute_signature(
        "http://testserver" + path, params)
    assert stack.client.post(path, data=params,
                             headers={"X-Twilio-Signature": forged}).status_code == 403
    assert stack.twilio_post(path, params, token="not-the-token").status_code == 403
    assert stack.client.post(path, data=params).status_code == 403
    assert stack.ack_rows() == [] and stack.audit_acks() == []
    assert get_case(stack.env.factory, stack.case_id).first_ack_at is None

    other = stack.twilio_post(path, {**params, "Body": "who is this?"})
    assert other.status_code == 200 and "Reply 1 or ACK" in other.text
    assert stack.ack_rows() == []

    response = stack.twilio_post(path, params)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert "<Message>Acknowledged." in response.text
    assert [(a["by"], a["via"]) for a in stack.ack_rows()] == [("Dr Ada Okafor", "sms")]
    case = get_case(stack.env.factory, stack.case_id)
    assert case.first_ack_by == "Dr Ada Okafor" and case.first_ack_at is not None
    [event] = stack.audit_acks()
    assert (event.username, event.role) == ("stroke_team", "stroke_team")
    assert event.detail == {"via": "sms", "first": True, "alert_id": stack.alert_id}
    # A second reply finds nothing active; no second acknowledgement or audit row.
    again = stack.twilio_post(path, {**params, "Body": "1"})
    assert "Nothing to acknowledge" in again.text
    assert len(stack.ack_rows()) == 1 and len(stack.audit_acks()) == 1


def test_sms_reply_2_passes_the_case_on(stack: Stack) -> None:
    path = "/api/notifications/twilio/sms"
    params = {"From": ADA_PHONE, "To": "+15550009999", "Body": "2", "MessageSid": "SMin2"}
    assert stack.twilio_post(path, params, token="wrong").status_code == 403
    passed = stack.twilio_post(path, params)
    assert passed.status_code == 200 and "Passed on" in passed.text
    # The policy's only step is behind it and it does not repeat: the escalation ends now,
    # without anyone acknowledging.
    stack.component.tick()
    with stack.env.factory() as session:
        escalation = session.scalar(select(Escalation).where(
            Escalation.case_id == stack.case_id))
    assert escalation.status == "exhausted" and stack.ack_rows() == []
    assert "Nothing to pass on" in stack.twilio_post(path, params).text


def test_status_callback_recorded(stack: Stack) -> None:
    with stack.env.factory() as session:
        sid = session.scalar(select(OutboxMessage.provider_id).where(
            OutboxMessage.address == ADA_PHONE, OutboxMessage.purpose == "page"))
    assert sid and sid.startswith("SM")
    path = "/api/notifications/twilio/status"
    params = {"MessageSid": sid, "MessageStatus": "delivered", "To": ADA_PHONE}
    assert stack.twilio_post(path, {**params, "MessageStatus": "failed"},
                             token="wrong").status_code == 403
    assert stack.twilio_post(path, params).status_code == 204
    with stack.env.factory() as session:
        [delivery] = [d for alert in alerting.alert_history(session, stack.case_id)
                      for d in alert["deliveries"] if d["recipient"] == "Dr Ada Okafor"]
    assert delivery["provider_status"] == "delivered"


def test_signed_ack_link_confirm_then_post(stack: Stack) -> None:
    links = Links(PUBLIC_URL, alerting.signing_secret(stack.env.settings))
    url = links.ack_url(stack.alert_id, stack.person_id("Dr Ben Laine"), datetime.now(UTC))
    parts = urlsplit(url)
    local = parts.path.removeprefix("/sa") + "?" + parts.query
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    tampered = local.replace(query["sig"], query["sig"][:-2] + "00")
    other_person = local.replace(f"person={query['person']}",
                                 f"person={stack.person_id('Dr Ada Okafor')}")
    for bad in (tampered, other_person, local.split("&sig=")[0]):
        for method in ("GET", "POST"):
            page = stack.client.request(method, bad, headers={"accept": "text/html"})
            assert page.status_code == 403 and "invalid or has expired" in page.text

    # GET only shows a confirm button (a link scanner following it acknowledges nothing).
    confirm = stack.client.get(local, headers={"accept": "text/html"})
    assert confirm.status_code == 200 and 'method="post"' in confirm.text
    assert "Dr Ben Laine" in confirm.text and 'href="/static/app.css"' in confirm.text
    assert stack.ack_rows() == []

    done = stack.client.post(local)
    assert done.status_code == 200 and "Acknowledgement recorded" in done.text
    assert "1.2.826" not in done.text and "Core 21" not in done.text
    assert [(a["by"], a["via"]) for a in stack.ack_rows()] == [("Dr Ben Laine", "push")]
    assert get_case(stack.env.factory, stack.case_id).first_ack_by == "Dr Ben Laine"
    [event] = stack.audit_acks()
    assert event.username == "Dr Ben Laine" and event.detail["via"] == "push"
    again = stack.client.post(local)
    assert "already acknowledged by <strong>Dr Ben Laine" in again.text
    assert len(stack.ack_rows()) == 1 and len(stack.audit_acks()) == 1


def image_audit(stack: Stack) -> list[tuple[str, str | None, str | None, str | None]]:
    """(outcome, via, recipient, user agent) of every audited key-image fetch, in order."""
    with stack.env.factory() as session:
        events = audit_log.query(session, action="key_image_fetch", object_id=stack.alert_id)
    return [(e.outcome, e.detail["via"], e.detail["recipient"], e.user_agent)
            for e in sorted(events, key=lambda e: e.id)]


def test_signed_key_image_link(stack: Stack) -> None:
    [mms] = [r for r in stack.twilio.creates() if r.form()["To"] == [BEN_PHONE]]
    [media_url] = mms.form()["MediaUrl"]
    assert media_url.startswith(f"{PUBLIC_URL}/alerts/{stack.alert_id}/images/0?")
    local = media_url.removeprefix(PUBLIC_URL)
    image = stack.client.get(local, headers={"User-Agent": "TwilioProxy/1.1"})
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(image.content)).size == (8, 8)
    # Every fetch is audited with the channel, the person the link went to and the device.
    assert image_audit(stack) == [("ok", "mms", "Dr Ben Laine", "TwilioProxy/1.1")]
    # Ada's plain SMS carries a link of its own (signed for her text).
    [sms] = [r for r in stack.twilio.creates() if r.form()["To"] == [ADA_PHONE]]
    sms_link = sms.form()["Body"][0].split(" Image: ")[1].split(" ")[0]
    assert stack.client.get(sms_link.removeprefix(PUBLIC_URL)).status_code == 200
    assert image_audit(stack)[-1][:3] == ("ok", "sms", "Dr Ada Okafor")

    query = {k: v[0] for k, v in parse_qs(urlsplit(local).query).items()}
    tampered = local.replace(query["sig"], query["sig"][::-1])
    assert stack.client.get(tampered).status_code == 403
    assert stack.client.get(local.replace("/images/0?", "/images/1?")).status_code == 403
    secret = alerting.signing_secret(stack.env.settings)
    expired = int((datetime.now(UTC) - timedelta(seconds=5)).timestamp())
    old = signed_url("", f"/alerts/{stack.alert_id}/images/0", secret, expired)
    assert stack.client.get(old).status_code == 403
    beyond = signed_url("", f"/alerts/{stack.alert_id}/images/1", secret, expired + 600)
    assert stack.client.get(beyond).status_code == 404
    assert [a[0] for a in image_audit(stack)[2:]] == ["refused", "refused", "refused",
                                                      "not_found"]


def test_key_image_links_revoked(stack: Stack) -> None:
    [mms] = [r for r in stack.twilio.creates() if r.form()["To"] == [BEN_PHONE]]
    local = mms.form()["MediaUrl"][0].removeprefix(PUBLIC_URL)
    assert stack.client.get(local).status_code == 200
    revoke = f"/api/cases/{stack.case_id}/key-image-links/revoke"
    assert stack.client.post(revoke).status_code == 401
    with stack.env.factory.begin() as session:
        viewer = session.scalar(select(User).where(User.username == "coordinator"))
        team = session.scalar(select(User).where(User.username == "stroke_team"))
        viewer_token = issue_token(session, viewer, "phone", 1, stack.env.settings)[0]
        token = issue_token(session, team, "phone", 1, stack.env.settings)[0]
    assert stack.client.post(revoke, headers={
        "Authorization": f"Bearer {viewer_token}"}).status_code == 403  # may not acknowledge
    answer = stack.client.post(revoke, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and answer.json() == {"alerts_revoked": 1}
    # The same fresh, correctly signed link is refused from now on, and the refusal audited.
    refused = stack.client.get(local)
    assert refused.status_code == 403 and "invalid or has expired" in refused.text
    assert [a[0] for a in image_audit(stack)] == ["ok", "revoked"]
    with stack.env.factory() as session:
        [event] = audit_log.query(session, action="key_image_links_revoked",
                                  object_id=stack.case_id)
    assert event.username == "stroke_team" and event.detail == {"alerts": 1}
    # A later send of the revoked alert carries no image at all.
    with stack.env.factory.begin() as session:
        row = session.scalar(select(OutboxMessage).where(OutboxMessage.address == BEN_PHONE))
        row.status = "pending"  # as a retry would be
    assert stack.component.relay is not None
    stack.component.relay.drain()
    assert "MediaUrl" not in stack.twilio.creates()[-1].form()

"""Webhook signatures: a signed timestamp, a replay window, and no unsigned POST by accident.

The channel POSTs to a loopback :class:`FakeWebhook`; the captured request is then verified (and
replayed) the way a receiver would, with the README's verification code.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from notifications.channels import Delivery
from notifications.channels.webhook import UnsignedWebhookError, WebhookChannel
from notifications.signing import REPLAY_WINDOW_S, SIGNATURE_HEADER, body_signature, verify_body
from tests.notifications.fakes import FakeWebhook, Recorded

SECRET = "whsec-test"
README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture
def webhook() -> Iterator[FakeWebhook]:
    fake = FakeWebhook()
    yield fake
    fake.close()


def _delivery(url: str) -> Delivery:
    return Delivery(outbox_id=1, dedupe_key="alert-1:webhook", channel="webhook",
                    recipient="webhook", address=url, ref="alert-1",
                    payload={"schema": "strokealert.alert/1", "level": "critical", "title": "LVO"})


def _send(webhook: FakeWebhook, sent_at: float) -> Recorded:
    channel = WebhookChannel(SECRET, timeout_s=5, now=lambda: sent_at)
    try:
        channel.send(_delivery(f"{webhook.url}/hooks"))
    finally:
        channel.close()
    return webhook.requests[-1]


def test_signature_carries_its_timestamp_and_verifies_inside_the_window(
        webhook: FakeWebhook) -> None:
    now = time.time()
    hook = _send(webhook, now)
    header = hook.headers[SIGNATURE_HEADER]
    match = re.fullmatch(r"t=(\d+),v1=([0-9a-f]{64})", header)
    assert match is not None, header
    assert int(match[1]) == int(now)
    expected = hmac.new(SECRET.encode(), match[1].encode() + b"." + hook.body,
                        hashlib.sha256).hexdigest()
    assert match[2] == expected
    assert verify_body(SECRET, hook.body, header, now=int(now) + REPLAY_WINDOW_S)
    assert not verify_body(SECRET, hook.body, header, now=int(now) + REPLAY_WINDOW_S + 1)
    assert verify_body(SECRET, hook.body, header, now=now - 60)  # receiver's clock a bit behind


def test_a_replayed_capture_or_a_future_timestamp_is_refused(webhook: FakeWebhook) -> None:
    sent_at = time.time() - 15 * 60
    hook = _send(webhook, sent_at)
    header = hook.headers[SIGNATURE_HEADER]
    assert verify_body(SECRET, hook.body, header, now=sent_at + 1)  # it was valid then
    assert not verify_body(SECRET, hook.body, header, now=time.time())  # 15 min later: refused
    future = body_signature(SECRET, hook.body, int(time.time()) + 15 * 60)
    assert not verify_body(SECRET, hook.body, future, now=time.time())


@pytest.mark.parametrize("tamper", ["body", "timestamp", "secret", "missing", "garbage"])
def test_tampered_signatures_are_refused(webhook: FakeWebhook, tamper: str) -> None:
    now = time.time()
    hook = _send(webhook, now)
    body, header, secret = hook.body, hook.headers[SIGNATURE_HEADER], SECRET
    if tamper == "body":
        body = body.replace(b"critical", b"info")
    elif tamper == "timestamp":  # the old signature moved onto a fresh timestamp
        header = re.sub(r"t=\d+", f"t={int(now) + 1}", header)
    elif tamper == "secret":
        secret = "another-secret"
    elif tamper == "missing":
        header = None
    else:
        header = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert not verify_body(secret, body, header, now=now)


def test_no_secret_refuses_unless_allowed_and_then_warns(
        webhook: FakeWebhook, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(UnsignedWebhookError):
        WebhookChannel(None)
    with pytest.raises(UnsignedWebhookError):
        WebhookChannel("")
    with caplog.at_level(logging.WARNING, logger="notifications.channels.webhook"):
        channel = WebhookChannel(None, timeout_s=5, allow_unsigned=True)
    assert "UNSIGNED" in caplog.text
    try:
        channel.send(_delivery(f"{webhook.url}/hooks"))
    finally:
        channel.close()
    assert SIGNATURE_HEADER not in webhook.requests[-1].headers


def test_readme_receiver_example_verifies_a_real_post(webhook: FakeWebhook) -> None:
    """The README's receiver code, run as written, accepts a fresh POST and refuses a replay."""
    text = README.read_text()
    start = text.index("# webhook receiver verification")
    code = text[start:text.index("```", start)]
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 (the documented example)
    verify = namespace["verify"]
    assert callable(verify)
    fresh = _send(webhook, time.time())
    assert verify(SECRET.encode(), fresh.body, fresh.headers[SIGNATURE_HEADER]) is True
    old = _send(webhook, time.time() - 15 * 60)
    assert verify(SECRET.encode(), old.body, old.headers[SIGNATURE_HEADER]) is False

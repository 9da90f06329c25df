"""Crashes and provider failures: zero lost, zero duplicated notifications."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import pytest
from conftest import Library, Stack
from sqlalchemy import select, text
from test_notify_escalation import assert_exactly_once

from notifications.channels import Channel, ChannelError, Delivery, SendResult
from notifications.models import DeliveryAttempt, DeviceToken


class ProcessKilled(BaseException):
    """Stands for the process dying (not an Exception: nothing in the relay may catch it)."""


class Crashing:
    """A real channel whose process dies right before or right after the provider call."""

    def __init__(self, inner: Channel, after_send: bool) -> None:
        self.inner, self.after_send, self.name = inner, after_send, inner.name

    def send_many(self, deliveries: list[Delivery]) -> list[SendResult | ChannelError]:
        if self.after_send:
            self.inner.send_many(deliveries)
        raise ProcessKilled

    def reconcile(self, delivery: Delivery) -> str | None:
        return self.inner.reconcile(delivery)


def wait_for(condition: Callable[[], bool], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def phones(stack: Stack) -> Counter[str]:
    return Counter(m["to"] for m in stack.fakes.twilio.messages)


@pytest.mark.parametrize("after_send", [True, False], ids=["after-send", "before-send"])
def test_relay_killed_mid_step_then_restarted(stack: Stack, after_send: bool) -> None:
    stack.raise_alert()
    channels = stack.component.channels
    for name in ("push", "console", "webhook"):
        channels[name] = Crashing(channels[name], after_send)
    with pytest.raises(ProcessKilled):
        stack.drain()
    stack.restart()
    stack.drain()  # the claim's lease has not run out: nothing is touched yet
    assert stack.rows(status="sending")
    stack.advance(seconds=61)  # lease over: in doubt → reconciled or resent

    sms = stack.component.channels
    for name in ("sms", "mms"):
        sms[name] = Crashing(sms[name], after_send=True)
    stack.clock.advance(seconds=59)  # +2 min: the SMS fallbacks; dies after Twilio accepted
    with pytest.raises(ProcessKilled):
        stack.drain()
    # The relay sends the channels side by side: Twilio already has the SMS and the MMS.
    assert phones(stack) == {"+15550000001": 1, "+15550000005": 1}
    stack.restart()
    stack.advance(seconds=61)
    assert phones(stack) == {"+15550000001": 1, "+15550000005": 1}
    with stack.factory() as session:
        outcomes = Counter(session.scalars(select(DeliveryAttempt.outcome)))
    assert outcomes["reconciled"] >= 2  # both found at Twilio by their #ref, not sent again
    assert_exactly_once(stack, resends=after_send)


def test_scheduler_and_relay_killed_mid_escalation_resume(stack: Stack) -> None:
    stack.component.stop()
    fcm, twilio, smtp = stack.fakes.fcm, stack.fakes.twilio, stack.fakes.smtp

    def start() -> Library:
        component = Library(stack.factory, stack.fakes, stack.clock, relay_poll_s=0.05)
        component.start(scheduler_interval_s=0.2)
        stack.component = component
        return component

    start()
    stack.raise_alert()
    wait_for(lambda: len(fcm.sent) == 2)
    stack.clock.advance(minutes=2)
    wait_for(lambda: len(twilio.messages) == 2)
    stack.clock.advance(minutes=3)  # step 2 is due: only the scheduler's tick moves it
    wait_for(lambda: len(fcm.sent) == 3 and len(smtp.messages) == 1)
    stack.component.stop()  # both gone mid-escalation
    stack.clock.advance(minutes=7)  # +12 min while down: step 2's SMS, the repeat, its SMS
    with stack.engine.connect() as conn:
        jobs = conn.execute(text("select id from apscheduler_jobs")).scalars().all()
    assert jobs == ["notifications-escalations"]  # the persistent job store kept the job
    start()
    wait_for(lambda: len(fcm.sent) == 5 and len(twilio.messages) == 6)
    time.sleep(0.5)  # several more ticks and relay passes: nothing else may go out
    assert len(fcm.sent) == 5 and len(twilio.messages) == 6
    assert phones(stack) == {"+15550000001": 2, "+15550000003": 1, "+15550000004": 1,
                             "+15550000005": 2}
    with stack.factory.begin() as session:
        assert stack.notifier.acknowledge(session, case_id="case-1", by="Dr Dev Patel",
                                          via="api")
    wait_for(lambda: len(fcm.sent) == 8)  # Ada, Eve, Cyd hear that Dev is on the way
    stack.component.stop()
    assert_exactly_once(stack)


def test_provider_failures_timeouts_429_500_lose_and_duplicate_nothing(stack: Stack) -> None:
    fakes = stack.fakes
    fakes.fcm.unregistered.add("tok-eve")
    fakes.fcm.fail_token("tok-ada", "429")
    fakes.webhook.fail("500")
    stack.raise_alert()
    stack.drain()
    with stack.factory() as session:
        eve = session.scalar(select(DeviceToken).where(DeviceToken.token == "tok-eve"))
        assert eve is not None and not eve.active
        assert eve.deactivated_reason.startswith("UnregisteredError")
    assert fakes.fcm.sent == [] and len(fakes.webhook.requests) == 1
    stack.advance(seconds=5)  # backoff (≤ 2 s + jitter) is over: quota retry, webhook retry
    assert sorted(m["token"] for m in fakes.fcm.sent) == ["tok-ada"]
    assert len(fakes.webhook.deliveries()) == 1

    # Twilio: a 500, a 429, then a hang that drops one retry and one that accepts the other.
    # Ada's SMS and Eve's MMS go out side by side, so which gets which answer is the threads'
    # order.
    fakes.twilio.fail("500", "429", "hang", "accept_then_hang")
    stack.advance(minutes=2)
    assert phones(stack) == {}
    stack.advance(seconds=10)  # retries: both time out (one of them was accepted)
    accepted = phones(stack)
    assert sum(accepted.values()) == 1 and set(accepted) <= {"+15550000001", "+15550000005"}
    stack.advance(seconds=60)  # in doubt: the dropped one is not at Twilio → sent; the other
    # is → reconciled
    assert phones(stack) == {"+15550000001": 1, "+15550000005": 1}

    # FCM 500 (the SDK retries it) and a hang (read timeout, retried) on step 2.
    fakes.fcm.fail("500")
    stack.advance(minutes=3)
    fakes.fcm.fail("hang")
    stack.advance(minutes=5)  # the repeat pages Ada again
    assert sorted(m["token"] for m in fakes.fcm.sent) == ["tok-ada", "tok-ada", "tok-cyd"]

    rows = stack.rows()
    failed = [r for r in rows if r.status == "failed"]
    assert [(r.recipient, r.address) for r in failed] == [("Eve Tran", "tok-eve")]
    with stack.factory() as session:
        history = stack.notifier.history(session, "case-1")
    tries = {d["recipient"] + "/" + d["channel"]: [t["outcome"] for t in d["tries"]]
             for d in history[0]["deliveries"] if d["step"] == "c0s0"}
    for key, phone in (("Dr Ada Okafor/sms", "+15550000001"), ("Eve Tran/mms", "+15550000005")):
        found = "reconciled" if phone in accepted else "sent"
        assert tries[key] == ["retry", "in_doubt", found]
    stack.advance(minutes=2)  # the repeat's SMS fallbacks
    assert phones(stack) == {"+15550000001": 2, "+15550000003": 1, "+15550000004": 1,
                             "+15550000005": 2}
    assert_exactly_once(stack, failed=frozenset({"tok-eve"}))


def test_two_engines_ticking_at_once_page_once(stack: Stack) -> None:
    """A second scheduler by mistake (or a tick racing a restart) cannot double-page."""
    import threading

    second = Library(stack.factory, stack.fakes, stack.clock)
    stack.raise_alert()
    stack.drain()
    stack.clock.advance(minutes=10)  # step 2 and the repeat's first step are both due
    barrier = threading.Barrier(2)
    taken: list[int] = []

    def tick(component: Library) -> None:
        barrier.wait()
        taken.append(component.notifier.tick())

    threads = [threading.Thread(target=tick, args=(c,)) for c in (stack.component, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    second.stop()
    assert sorted(taken) == [0, 2]
    stack.drain()
    assert sorted(m["token"] for m in stack.fakes.fcm.sent) == [
        "tok-ada", "tok-ada", "tok-cyd", "tok-eve", "tok-eve"]
    stack.advance(minutes=2)  # the repeat's SMS fallbacks
    assert phones(stack) == {"+15550000001": 2, "+15550000003": 1, "+15550000004": 1,
                             "+15550000005": 2}
    assert_exactly_once(stack)

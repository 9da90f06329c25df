"""notifications: alerts that are never lost, never duplicated, and escalate until acknowledged.

A standalone library (it never imports ``strokealert``): the alert model and its PHI-free payload,
channels (FCM push, Twilio SMS/MMS, webhook, SMTP e-mail, console), a transactional outbox with a
relay, people / schedules / escalation policies, the escalation engine and an APScheduler wrapper.
"""

from notifications.clock import Clock, FakeClock, SystemClock
from notifications.engine import AlertSpec, Notifier
from notifications.relay import Relay
from notifications.schema import metadata

__all__ = ["AlertSpec", "Clock", "FakeClock", "Notifier", "Relay", "SystemClock", "metadata"]

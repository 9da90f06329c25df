"""On-call schedules (rotations, overrides, DST), directory validation, Twilio inbound, CLI."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
from conftest import STROKE_TEAM, TWILIO_FROM, Stack
from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker
from twilio.request_validator import RequestValidator

from notifications.directory import DirectoryError, load_directory, on_call
from notifications.inbound import SignatureError
from notifications.models import Schedule
from notifications.schema import metadata


def daily(start: str = "2026-03-01T08:00", tz: str = "America/New_York") -> Schedule:
    return Schedule(name="s", time_zone=tz, overrides=[], rotations=[
        {"name": "daily", "start": start, "shift_hours": 24, "participants": ["A", "B", "C"]}])


def test_daily_handoff_stays_at_0800_local_across_dst() -> None:
    schedule = daily()
    # US DST began 2026-03-08 02:00 local: 08:00 EST = 13:00Z before, 08:00 EDT = 12:00Z after.
    assert on_call(schedule, datetime(2026, 3, 7, 12, 59, tzinfo=UTC)) == ["C"]  # 07:59 EST
    assert on_call(schedule, datetime(2026, 3, 7, 13, 0, tzinfo=UTC)) == ["A"]  # 08:00 EST
    assert on_call(schedule, datetime(2026, 3, 8, 11, 59, tzinfo=UTC)) == ["A"]  # 07:59 EDT
    assert on_call(schedule, datetime(2026, 3, 8, 12, 0, tzinfo=UTC)) == ["B"]  # 08:00 EDT
    assert on_call(schedule, datetime(2026, 11, 1, 12, 59, tzinfo=UTC)) != on_call(
        schedule, datetime(2026, 11, 1, 13, 0, tzinfo=UTC))  # back to EST: 08:00 = 13:00Z
    assert on_call(schedule, datetime(2026, 2, 28, tzinfo=UTC)) == []  # before the start
    schedule.overrides = [{"person": "Z", "start": "2026-03-08T12:00:00+00:00",
                           "end": "2026-03-08T18:00:00+00:00"}]
    assert on_call(schedule, datetime(2026, 3, 8, 13, tzinfo=UTC)) == ["Z"]
    assert on_call(schedule, datetime(2026, 3, 8, 18, tzinfo=UTC)) == ["B"]


INVALID = [
    (lambda d: d["people"][0].update(time_zone="Mars/Olympus"), "unknown time zone"),
    (lambda d: d["people"][0]["contacts"].append({"type": "sms", "address": "555-1234"}),
     "E.164"),
    (lambda d: d["people"][0]["rules"].append({"channel": "push", "after_minutes": 5}),
     "one rule per channel"),
    (lambda d: d["schedules"][0]["rotations"][0]["participants"].append("Dr Nobody"),
     "unknown person 'Dr Nobody'"),
    (lambda d: d["policies"][0]["steps"][0]["targets"].append({"schedule": "nope"}),
     "unknown schedule 'nope'"),
    (lambda d: d["policies"][0]["steps"][1].update(delay_minutes=0), "must be > 0"),
    (lambda d: d.update(pagers=[]), "unknown sections: pagers"),
]


def test_invalid_directory_is_refused_whole() -> None:
    """The library on its own: its MetaData on an in-memory SQLite database."""
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with sessionmaker(engine).begin() as session:
        for mutate, message in INVALID:
            data = copy.deepcopy(STROKE_TEAM)
            mutate(data)
            with pytest.raises(DirectoryError, match=message):
                load_directory(session, data, datetime.now(UTC))
            assert session.scalars(select(Schedule)).all() == []  # nothing written
        assert load_directory(session, copy.deepcopy(STROKE_TEAM), datetime.now(UTC)) == {
            "people": 5, "schedules": 1, "policies": 1}
    engine.dispose()


def test_twilio_inbound_is_verified_and_status_callbacks_recorded(stack: Stack) -> None:
    stack.raise_alert()
    stack.advance(minutes=2)  # Ada's SMS fallback
    url = "https://strokealert.example.org/api/notifications/twilio/sms"
    validator = RequestValidator(stack.fakes.twilio.auth_token)
    reply = {"From": "+15550000001", "To": TWILIO_FROM, "Body": "1"}
    inbound = stack.component.inbound

    def sms(params: dict[str, str], signed_url: str = url) -> str:
        return inbound.incoming_sms(session, url, params,
                                    validator.compute_signature(signed_url, params))

    with stack.factory.begin() as session:
        with pytest.raises(SignatureError):
            inbound.incoming_sms(session, url, reply, "forged")
        with pytest.raises(SignatureError):  # signed for another URL
            sms(reply, url + "x")
        assert "Reply 1 or ACK" in sms({**reply, "Body": "who is this?"})
        assert "Nothing to acknowledge" in sms({**reply, "From": "+15559999999"})
        assert "Acknowledged" in sms(reply)
    ada_sms = stack.rows(recipient="Dr Ada Okafor", channel="sms")[0]
    status_url = "https://strokealert.example.org/api/notifications/twilio/status"
    callback = {"MessageSid": ada_sms.provider_id, "MessageStatus": "delivered"}
    with stack.factory.begin() as session:
        assert stack.component.inbound.status_callback(
            session, status_url, callback, validator.compute_signature(status_url, callback))
        history = stack.notifier.history(session, "case-1")
    assert history[0]["acks"][0]["by"] == "Dr Ada Okafor"
    delivered = [d for d in history[0]["deliveries"] if d["provider_status"] == "delivered"]
    assert [(d["recipient"], d["channel"]) for d in delivered] == [("Dr Ada Okafor", "sms")]

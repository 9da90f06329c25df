"""The MLLP listener with a real client (``mllp_send`` of the ``hl7`` package) on SQLite and
PostgreSQL: a code-stroke sequence fills the timeline, resends are ACKed and not reapplied,
bad messages get AE/AR and are kept, a hand entry is never overwritten silently."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from strokealert import db
from strokealert.accesslog.log import record
from strokealert.cases import upsert_case_from_analysis
from strokealert.config import Settings, load_settings
from strokealert.db.models.audit import AuditEvent
from strokealert.db.models.cases import Case
from strokealert.db.models.hl7 import Hl7Message, TimelineEvent
from strokealert.db.models.ingest import Study
from strokealert.hl7.mllp import MllpListener
from strokealert.hl7.receive import Receiver
from strokealert.hl7.retention import Hl7Retention
from strokealert.timeline import provenance
from tests.api.helpers import analysis
from tests.hl7.mllp_client import MESSAGES, message, mllp_send


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


class Feed:
    """A listener on a free port, the database behind it, and the settings."""

    def __init__(self, settings: Settings, factory: sessionmaker[Session]) -> None:
        self.settings, self.factory = settings, factory
        self.listener = MllpListener(settings, Receiver(settings, factory))

    @property
    def port(self) -> int:
        return self.listener.port

    def case(self) -> Case:
        with self.factory() as session:
            cases = list(session.scalars(select(Case).where(Case.patient_id == "MRN4711")))
            assert len(cases) == 1
            return cases[0]

    def messages(self) -> list[Hl7Message]:
        with self.factory() as session:
            return list(session.scalars(select(Hl7Message).order_by(Hl7Message.id)))


@pytest.fixture
def feed_settings() -> dict[str, object]:
    """Settings a test adds to the listener's (parametrize it)."""
    return {}


@pytest.fixture
def feed(migrated_url: str, tmp_path: Path, feed_settings: dict[str, object]) -> Iterator[Feed]:
    settings = load_settings(data_dir=tmp_path, database_url=migrated_url,
                             timezone="America/New_York", hl7_host="127.0.0.1", hl7_port=0,
                             **feed_settings)
    engine = db.make_engine(migrated_url)
    feed = Feed(settings, db.make_session_factory(engine))
    feed.listener.start()
    try:
        yield feed
    finally:
        feed.listener.stop()
        engine.dispose()


def test_code_stroke_sequence_fills_the_timeline_once(feed: Feed) -> None:
    acks = mllp_send(feed.port, MESSAGES / "code_stroke.hl7")
    assert acks == [("AA", "CS0001"), ("AA", "CS0002"), ("AA", "CS0003")]
    case = feed.case()
    # Local times (America/New_York, EST in November) stored in UTC.
    assert case.arrival_at == at("2026-11-20T09:20:00-05:00")
    assert case.needle_at == at("2026-11-20T09:52:00-05:00")
    assert case.groin_puncture_at == at("2026-11-20T10:31:00-05:00")
    assert case.study_instance_uid.startswith("hl7-") and case.cta_at is None
    assert case.patient_name == "TESTPATIENT^ALICE"
    assert case.thrombolytic_agent == "tenecteplase"
    with feed.factory() as session:
        sources = provenance(session, case)
        assert sources.sources == {"arrival_at": "hl7", "needle_at": "hl7",
                                   "groin_puncture_at": "hl7"}
        assert sources.conflicts == []
        events = session.scalar(select(func.count()).select_from(TimelineEvent))
        audits = session.scalar(select(func.count()).select_from(AuditEvent)
                                .where(AuditEvent.action == "hl7_message"))
    assert events == 3 and audits == 3
    assert [(m.status, m.case_id) for m in feed.messages()] == [("accepted", case.id)] * 3

    # The interface engine resends everything (e.g. after a restart): AA, nothing reapplied.
    assert mllp_send(feed.port, MESSAGES / "code_stroke.hl7") == acks
    assert [m.resends for m in feed.messages()] == [1, 1, 1]
    with feed.factory() as session:
        assert session.scalar(select(func.count()).select_from(TimelineEvent)) == 3


def test_messages_past_the_retention_are_deleted_and_their_times_stay(feed: Feed) -> None:
    acks = mllp_send(feed.port, MESSAGES / "code_stroke.hl7")
    case = feed.case()
    first, second, third = feed.messages()
    with feed.factory.begin() as session:
        session.execute(update(Hl7Message).where(Hl7Message.id.in_([first.id, second.id]))
                        .values(received_at=datetime.now(UTC) - timedelta(days=31)))
    assert feed.settings.hl7_retention_days == 30.0
    assert Hl7Retention(feed.settings, feed.factory).purge() == 2
    assert [m.control_id for m in feed.messages()] == ["CS0003"]
    with feed.factory() as session:
        events = list(session.scalars(select(TimelineEvent).order_by(TimelineEvent.id)))
    assert [e.message_id for e in events] == [None, None, third.id]
    assert [e.outcome for e in events] == ["applied"] * 3
    assert feed.case().arrival_at == case.arrival_at == at("2026-11-20T09:20:00-05:00")
    # Nothing else is old enough: a second purge deletes nothing.
    assert Hl7Retention(feed.settings, feed.factory).purge() == 0
    # A resend of a deleted message is stored and applied like a new one: the same times.
    assert mllp_send(feed.port, MESSAGES / "code_stroke.hl7") == acks
    assert [(m.control_id, m.resends) for m in feed.messages()] == [
        ("CS0003", 1), ("CS0001", 0), ("CS0002", 0)]
    after = feed.case()
    assert (after.arrival_at, after.needle_at) == (case.arrival_at, case.needle_at)


def test_bad_messages_get_ae_or_ar_and_are_kept(feed: Feed) -> None:
    assert mllp_send(feed.port, MESSAGES / "malformed_time.hl7") == [("AE", "CS0004")]
    assert mllp_send(feed.port, MESSAGES / "no_header.mllp", loose=False) == [("AR", "")]
    error, rejected = feed.messages()
    assert (error.status, error.error_code, error.control_id) == ("error", 102, "CS0004")
    assert "PV1-44" in (error.error or "") and "2026112X0920" in error.raw
    assert rejected.status == "rejected" and rejected.raw.startswith("PID|1||MRN4711")
    with feed.factory() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 0
    # A resend of the erroneous message gets the same AE (not a second row).
    assert mllp_send(feed.port, MESSAGES / "malformed_time.hl7") == [("AE", "CS0004")]
    assert len(feed.messages()) == 2


def test_messages_before_the_arrival_are_applied_when_it_opens_the_case(feed: Feed,
                                                                       tmp_path: Path) -> None:
    early = tmp_path / "early.hl7"
    early.write_text(message("code_stroke.hl7", 1) + "\n" + message("code_stroke.hl7", 2))
    assert mllp_send(feed.port, early) == [("AA", "CS0002"), ("AA", "CS0003")]
    assert all(m.case_id is None and m.error for m in feed.messages())
    late = tmp_path / "arrival.hl7"
    late.write_text(message("code_stroke.hl7", 0))
    assert mllp_send(feed.port, late) == [("AA", "CS0001")]
    case = feed.case()
    assert case.needle_at == at("2026-11-20T09:52:00-05:00")
    assert case.groin_puncture_at == at("2026-11-20T10:31:00-05:00")
    assert {m.case_id for m in feed.messages()} == {case.id}
    assert [m.error for m in feed.messages()] == [None, None, None]  # "no case" note gone


def test_a_hand_entry_is_kept_and_the_conflict_shown(feed: Feed, tmp_path: Path) -> None:
    assert mllp_send(feed.port, MESSAGES / "code_stroke.hl7")[0] == ("AA", "CS0001")
    case_id = feed.case().id
    typed = at("2026-11-20T09:15:00-05:00")
    with feed.factory.begin() as session:  # what the timeline editor does, in one transaction
        case = session.get(Case, case_id)
        assert case is not None
        old = case.arrival_at
        case.arrival_at = typed
        record(session, "timeline_edit", username="coord", role="coordinator",
               object_type="case", object_id=case_id,
               detail={"changes": {"arrival_at": [old.isoformat() if old else None,
                                                  typed.isoformat()]}})
    update = tmp_path / "a08.hl7"
    update.write_text(message("code_stroke.hl7", 0)
                      .replace("ADT^A04^ADT_A01|CS0001", "ADT^A08^ADT_A01|CS0009")
                      .replace("20261120092000", "20261120092500"))
    assert mllp_send(feed.port, update) == [("AA", "CS0009")]
    case = feed.case()
    assert case.arrival_at == typed
    with feed.factory() as session:
        shown = provenance(session, case)
    assert shown.sources["arrival_at"] == "manual"
    assert [(c.field, c.current, c.incoming, c.source) for c in shown.conflicts] == [
        ("arrival_at", typed, at("2026-11-20T09:25:00-05:00"), "hl7")]
    assert "conflict" in (feed.messages()[-1].error or "")


@pytest.mark.parametrize("feed_settings", [{"hl7_allowed_senders": ["RADIS"]}])
def test_a_sender_not_allowed_gets_ar(feed: Feed) -> None:
    assert mllp_send(feed.port, MESSAGES / "code_stroke.hl7")[0] == ("AR", "CS0001")
    (kept, *_rest) = feed.messages()
    assert (kept.status, kept.error_code, kept.case_id) == ("rejected", 204, None)


@pytest.mark.parametrize("feed_settings", [{"hl7_max_message_kib": 1,
                                            "hl7_max_connections": 2}])
def test_frames_and_connections_are_bounded(feed: Feed) -> None:
    oversized = message("code_stroke.hl7", 0).replace("\n", "\r") + "NTE|1||" + "x" * 2048 + "\r"
    with socket.create_connection(("127.0.0.1", feed.port), timeout=10) as sock:
        sock.sendall(b"\x0b" + oversized.encode() + b"\x1c\r")
        assert sock.recv(4096) == b""  # closed without an ACK: the sender keeps it
    assert feed.messages() == []
    held = [socket.create_connection(("127.0.0.1", feed.port), timeout=10) for _ in range(2)]
    try:
        time.sleep(0.2)
        with socket.create_connection(("127.0.0.1", feed.port), timeout=10) as third:
            assert third.recv(4096) == b""  # refused beyond hl7_max_connections
    finally:
        for sock in held:
            sock.close()
    assert mllp_send(feed.port, MESSAGES / "code_stroke.hl7")[0] == ("AA", "CS0001")


def test_the_patients_study_joins_the_case_the_arrival_opened(feed: Feed) -> None:
    assert mllp_send(feed.port, MESSAGES / "code_stroke.hl7")[0] == ("AA", "CS0001")
    opened = feed.case()
    now = datetime.now(UTC)
    with feed.factory.begin() as session:
        study = Study(study_instance_uid="2.25.4711", patient_id="MRN4711",
                      accession_number="ACC9001", first_received_at=now, last_received_at=now)
        session.add(study)
        session.flush()
        joined = upsert_case_from_analysis(session, study=study, result=analysis("2.25.4711"))
        assert joined.id == opened.id
    case = feed.case()
    assert case.study_instance_uid == "2.25.4711" and case.alert_level == "critical"
    assert case.arrival_at == at("2026-11-20T09:20:00-05:00")


def test_an_arrival_after_the_images_joins_their_case(feed: Feed, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    with feed.factory.begin() as session:
        study = Study(study_instance_uid="2.25.4712", patient_id="MRN4711",
                      first_received_at=now, last_received_at=now)
        session.add(study)
        session.flush()
        imaged = upsert_case_from_analysis(session, study=study, result=analysis("2.25.4712")).id
    door = now.astimezone(ZoneInfo("America/New_York")).replace(second=0, microsecond=0)
    arrival = tmp_path / "arrival.hl7"
    arrival.write_text(message("code_stroke.hl7", 0)
                       .replace("20261120092000", f"{door - timedelta(minutes=20):%Y%m%d%H%M%S}"))
    assert mllp_send(feed.port, arrival) == [("AA", "CS0001")]
    case = feed.case()
    assert case.id == imaged and case.arrival_at == door - timedelta(minutes=20)


def test_no_ack_while_the_database_is_unreachable(tmp_path: Path) -> None:
    """Nothing can be stored: the connection closes without an ACK (never AA), so the sender
    keeps the message; the listener stays up for the next connection."""
    with socket.socket() as probe:  # a port nothing listens on: a database that is down
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    url = f"postgresql+psycopg://postgres@127.0.0.1:{dead}/down?connect_timeout=2"
    settings = load_settings(data_dir=tmp_path, database_url=url, hl7_host="127.0.0.1",
                             hl7_port=0)
    engine = db.make_engine(url)
    listener = MllpListener(settings, Receiver(settings, db.make_session_factory(engine)))
    listener.start()
    try:
        for _attempt in range(2):
            with socket.create_connection(("127.0.0.1", listener.port), timeout=30) as sock:
                sock.sendall(b"\x0b" + message("code_stroke.hl7", 0).replace("\n", "\r").encode()
                             + b"\x1c\r")
                assert sock.recv(4096) == b""
    finally:
        listener.stop()
        engine.dispose()


def test_a_dst_fold_arrival_is_read_as_the_earlier_and_noted_on_the_case(feed: Feed,
                                                                         tmp_path: Path) -> None:
    fold = tmp_path / "fold.hl7"
    fold.write_text(message("code_stroke.hl7", 0).replace("20261120092000", "20261101013000"))
    assert mllp_send(feed.port, fold) == [("AA", "CS0001")]
    case = feed.case()
    assert case.arrival_at == at("2026-11-01T01:30:00-04:00")  # EDT, the earlier of the two
    assert [n.split(":", 1)[0] for n in case.time_notes] == ["arrival_at"]
    assert "HL7 PV1-44" in case.time_notes[0] and "DST fold" in case.time_notes[0]


def test_a_time_cleared_by_hand_is_not_refilled_silently(feed: Feed, tmp_path: Path) -> None:
    assert mllp_send(feed.port, MESSAGES / "code_stroke.hl7")[1] == ("AA", "CS0002")
    case_id = feed.case().id
    with feed.factory.begin() as session:  # the coordinator clears a wrong needle time
        case = session.get(Case, case_id)
        assert case is not None and case.needle_at is not None
        old, case.needle_at = case.needle_at.isoformat(), None
        record(session, "timeline_edit", username="coord", role="coordinator",
               object_type="case", object_id=case_id,
               detail={"changes": {"needle_at": [old, None]}})
    again = tmp_path / "ras.hl7"
    again.write_text(message("code_stroke.hl7", 1).replace("|CS0002|", "|CS0012|"))
    assert mllp_send(feed.port, again) == [("AA", "CS0012")]
    case = feed.case()
    assert case.needle_at is None
    with feed.factory() as session:
        shown = provenance(session, case)
    assert [(c.field, c.current, c.incoming) for c in shown.conflicts] == [
        ("needle_at", None, at("2026-11-20T09:52:00-05:00"))]


def test_a_discharge_to_another_hospital_is_the_transfer_out(feed: Feed, tmp_path: Path) -> None:
    assert mllp_send(feed.port, MESSAGES / "code_stroke.hl7")[0] == ("AA", "CS0001")
    assert mllp_send(feed.port, MESSAGES / "transfer_out.hl7") == [("AA", "CS0005")]
    home = tmp_path / "home.hl7"  # a discharge home (PV1-36 01) is no transfer
    home.write_text(message("transfer_out.hl7").replace("|CS0005|", "|CS0006|")
                    .replace("|02|", "|01|"))
    assert mllp_send(feed.port, home) == [("AA", "CS0006")]
    case = feed.case()
    assert case.transfer_out_at == at("2026-11-20T11:02:00-05:00")
    assert case.arrival_at == at("2026-11-20T09:20:00-05:00")  # an A03 is no arrival
    assert "not a transfer out" in (feed.messages()[-1].error or "")

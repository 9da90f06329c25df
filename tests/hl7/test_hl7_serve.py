"""HL7 against a real ``strokealert serve`` on PostgreSQL: ``mllp_send`` sends a code stroke, the
API shows the times, their sources and the measures; a coordinator's hand entry wins over a
later message and the conflict is shown; ``kill -9`` between receipt and ACK loses nothing and
the sender's resend is applied exactly once."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select, text

from strokealert.db.models.cases import Case
from strokealert.db.models.hl7 import Hl7Message, TimelineEvent
from strokealert.demo import free_port, running_service
from tests.chaos.web_service import web_service
from tests.hl7.mllp_client import MESSAGES, message, mllp_send

START_BLOCK, END_BLOCK = b"\x0b", b"\x1c\r"


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    engine = create_engine(postgres_url)
    yield engine
    engine.dispose()


def test_code_stroke_by_mllp_send_fills_timeline_and_measures(tmp_path: Path, postgres_url: str,
                                                               engine: Engine) -> None:
    hl7_port = free_port()
    with web_service(tmp_path, postgres_url, {"coord": "coordinator"}, hl7_port=str(hl7_port),
                     timezone="America/New_York") as served:
        acks = mllp_send(hl7_port, MESSAGES / "code_stroke.hl7")
        assert acks == [("AA", "CS0001"), ("AA", "CS0002"), ("AA", "CS0003")]
        with engine.connect() as conn:
            case_id = conn.scalar(select(Case.id).where(Case.patient_id == "MRN4711"))
        with served.client("coord", csrf=True) as client:
            detail = client.get(f"/api/cases/{case_id}").json()
            timeline = detail["timeline"]
            assert timeline["arrival_at"].startswith("2026-11-20T14:20:00")
            assert timeline["needle_at"].startswith("2026-11-20T14:52:00")
            assert timeline["groin_puncture_at"].startswith("2026-11-20T15:31:00")
            assert timeline["sources"] == {"arrival_at": "hl7", "needle_at": "hl7",
                                           "groin_puncture_at": "hl7"}
            assert detail["measures"]["dtn"] == 32  # 09:20 -> 09:52
            assert detail["measures"]["cstk09"] == 71  # 09:20 -> 10:31

            # The coordinator corrects the arrival by hand; a later A08 says otherwise.
            edited = client.patch(f"/api/cases/{case_id}/timeline",
                                  json={"arrival_at": "2026-11-20T09:15"})
            assert edited.status_code == 200, edited.text
            update = tmp_path / "a08.hl7"
            update.write_text(message("code_stroke.hl7", 0)
                              .replace("ADT^A04^ADT_A01|CS0001", "ADT^A08^ADT_A01|CS0010")
                              .replace("20261120092000", "20261120092500"))
            assert mllp_send(hl7_port, update) == [("AA", "CS0010")]
            detail = client.get(f"/api/cases/{case_id}").json()
            timeline = detail["timeline"]
            assert timeline["arrival_at"].startswith("2026-11-20T14:15:00")
            assert timeline["sources"]["arrival_at"] == "manual"
            assert [(c["field"], c["incoming"][:19]) for c in timeline["conflicts"]] == [
                ("arrival_at", "2026-11-20T14:25:00")]
            assert detail["measures"]["dtn"] == 37
            page = client.get(f"/cases/{case_id}").text
            assert "HL7 says 2026-11-20 09:25" in page

        # The malformed message: AE, kept for review.
        assert mllp_send(hl7_port, MESSAGES / "malformed_time.hl7") == [("AE", "CS0004")]
        with engine.connect() as conn:
            kept = conn.execute(select(Hl7Message.status, Hl7Message.raw)
                                .where(Hl7Message.control_id == "CS0004")).one()
        assert kept.status == "error" and "2026112X0920" in kept.raw
        assert "MRN4711" not in served.log() and "TESTPATIENT" not in served.log()


def _serve_env(tmp_path: Path, database_url: str, hl7_port: int) -> dict[str, str]:
    return {**os.environ, "STROKEALERT_DATA_DIR": str(tmp_path / "data"),
            "STROKEALERT_DATABASE_URL": database_url,
            "STROKEALERT_DICOM_PORT": str(free_port()), "STROKEALERT_HTTP_PORT": str(free_port()),
            "STROKEALERT_HL7_PORT": str(hl7_port), "STROKEALERT_HL7_HOST": "127.0.0.1",
            "STROKEALERT_TIMEZONE": "America/New_York"}


def _send_without_reading(port: int, raw: str) -> socket.socket:
    """Send one framed message and leave its ACK unread (a sender that dies before it)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(START_BLOCK + raw.replace("\n", "\r").encode() + END_BLOCK)
    return sock


def _counts(engine: Engine, control_id: str, field: str) -> tuple[int, int, int]:
    """(copies of message ``control_id`` stored, its resends, ``field`` events)."""
    with engine.connect() as conn:
        stored = conn.execute(select(func.count(), func.coalesce(func.sum(Hl7Message.resends), 0))
                              .where(Hl7Message.control_id == control_id)).one()
        events = conn.scalar(select(func.count()).select_from(TimelineEvent)
                             .where(TimelineEvent.field == field))
    return int(stored[0]), int(stored[1]), int(events or 0)


def _waiting_on_lock(engine: Engine) -> bool:
    """True once a session of the service waits for a lock on ``hl7_messages``."""
    with engine.connect() as conn:
        return bool(conn.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query ILIKE '%hl7_messages%'")))


def _wait(predicate: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


@pytest.mark.slow
def test_kill_9_between_receipt_and_ack_loses_nothing(tmp_path: Path, postgres_url: str,
                                                      engine: Engine) -> None:
    hl7_port = free_port()
    env = _serve_env(tmp_path, postgres_url, hl7_port)
    log_path = tmp_path / "serve.log"
    files = {}
    for index, name in enumerate(("arrival", "needle", "puncture")):
        files[name] = tmp_path / f"{name}.hl7"
        files[name].write_text(message("code_stroke.hl7", index))

    # 1. Killed while the needle message is being stored (its transaction waits on our lock).
    with running_service(env, log_path) as proc:
        assert mllp_send(hl7_port, files["arrival"]) == [("AA", "CS0001")]
        with engine.connect() as blocker:
            blocker.execute(text("LOCK TABLE hl7_messages IN ACCESS EXCLUSIVE MODE"))
            sock = _send_without_reading(hl7_port, message("code_stroke.hl7", 1))
            _wait(lambda: _waiting_on_lock(engine))
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            assert sock.recv(4096) == b""  # no ACK: the sender keeps the message
            sock.close()
            blocker.rollback()
    assert _counts(engine, "CS0002", "needle_at") == (0, 0, 0)

    # 2. Killed after the puncture message committed, its ACK never read by the sender.
    with running_service(env, log_path) as proc:
        assert mllp_send(hl7_port, files["needle"]) == [("AA", "CS0002")]  # step 1's resend
        assert _counts(engine, "CS0002", "needle_at") == (1, 0, 1)
        sock = _send_without_reading(hl7_port, message("code_stroke.hl7", 2))
        _wait(lambda: _counts(engine, "CS0003", "groin_puncture_at")[0] == 1)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        sock.close()

    # The sender resends to the restarted service: AA, applied exactly once.
    with running_service(env, log_path):
        assert mllp_send(hl7_port, files["puncture"]) == [("AA", "CS0003")]
    assert _counts(engine, "CS0003", "groin_puncture_at") == (1, 1, 1)
    with engine.connect() as conn:
        case = conn.execute(select(Case.needle_at, Case.groin_puncture_at)
                            .where(Case.patient_id == "MRN4711")).one()
    assert case.needle_at.isoformat().startswith("2026-11-20T14:52:00")
    assert case.groin_puncture_at.isoformat().startswith("2026-11-20T15:31:00")

"""Final radiology reports (HL7 ORU^R01) received by the listener's receiver confirm a case's
finding through the [monitoring.oru] mapping; preliminary reports do not; a reader's own entry
is never overwritten."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from strokealert.config import Settings
from strokealert.db.models.audit import AuditEvent
from strokealert.db.models.cases import Case
from strokealert.db.models.hl7 import Hl7Message
from strokealert.hl7.receive import Receiver
from strokealert.monitoring import confirmations
from strokealert.monitoring.fingerprint import InputValues
from tests.monitoring.conftest import add_case, confirm, lvo_block

AT = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def oru(control_id: str, accession: str, text: str, status: str = "F",
        observation: str = "IMP^Impression^L") -> bytes:
    obr = {1: "1", 2: f"ORD{control_id}", 4: "70496^CTA HEAD^CPT", 7: "20261120093000",
           18: accession, 22: "20261120101400", 25: status, 32: "RAD07&READER&RITA"}
    segments = [
        f"MSH|^~\\&|RIS|MAINHOSP|STROKEALERT|MAINHOSP|20261120101500||ORU^R01^ORU_R01|"
        f"{control_id}|P|2.5.1",
        "PID|1||MRN4711^^^MAINHOSP^MR||TESTPATIENT^ALICE||19580312|F",
        "|".join(["OBR", *(obr.get(n, "") for n in range(1, 33))]),
        f"OBX|1|TX|{observation}||{text}||||||{status}",
    ]
    return "\r".join(segments).encode()


def make_case(factory: sessionmaker[Session], accession: str) -> str:
    with factory.begin() as session:
        case = add_case(session, lvo_block(positive=True), InputValues(), AT)
        case.patient_id, case.accession_number = "MRN4711", accession
        return case.id


@pytest.fixture
def receiver(tmp_path: Path, sqlite_url: str, factory: sessionmaker[Session]) -> Receiver:
    monitoring: dict[str, Any] = {"oru": {"codes": {"RID-LVO-NEG": "lvo=no"}}}
    settings = Settings(database_url=sqlite_url, data_dir=tmp_path, monitoring=monitoring)
    return Receiver(settings, factory)


def test_a_final_report_confirms_the_case(receiver: Receiver,
                                          factory: sessionmaker[Session]) -> None:
    case_id = make_case(factory, "ACC1")
    ack = receiver.receive(oru("R1", "ACC1", "Abrupt occlusion of the left M1 segment. "
                                             "No intracranial haemorrhage."))
    assert "MSA|AA|R1" in ack, ack
    with factory() as session:
        row = confirmations.confirmation_of(session, case_id)
        assert row is not None and row.source == "hl7" and row.reader == "RAD07"
        assert (row.lvo, row.lvo_site, row.haemorrhage, row.core_plausible) == (
            True, "M1", False, None)
        message = session.scalar(select(Hl7Message).where(Hl7Message.control_id == "R1"))
        assert message is not None and row.hl7_message_id == message.id
        assert "confirmation from the report: lvo, lvo_site, haemorrhage" in (message.error or "")
        audited = session.scalar(select(AuditEvent).where(AuditEvent.action == "confirmation"))
        assert audited is not None and audited.username == "RAD07"


def test_codes_beat_the_text_and_preliminary_reports_do_not_count(
        receiver: Receiver, factory: sessionmaker[Session]) -> None:
    case_id = make_case(factory, "ACC2")
    receiver.receive(oru("R2", "ACC2", "Occlusion of the right M2.", status="P"))
    with factory() as session:
        assert confirmations.confirmation_of(session, case_id) is None  # still unconfirmed
    receiver.receive(oru("R3", "ACC2", "Occlusion of the right M2 suspected on the MIP.",
                         observation="RID-LVO-NEG^No LVO^LOCAL"))
    with factory() as session:
        row = confirmations.confirmation_of(session, case_id)
        assert row is not None and (row.lvo, row.lvo_site) == (False, None)


def test_a_readers_confirmation_is_kept(receiver: Receiver,
                                        factory: sessionmaker[Session]) -> None:
    case_id = make_case(factory, "ACC3")
    with factory.begin() as session:
        stored = session.get(Case, case_id)
        assert stored is not None
        confirm(session, stored, AT, lvo=False)
    receiver.receive(oru("R4", "ACC3", "Large vessel occlusion: left ICA."))
    with factory() as session:
        row = confirmations.confirmation_of(session, case_id)
        assert row is not None and (row.source, row.lvo) == ("manual", False)
        kept = session.scalar(select(AuditEvent).where(AuditEvent.action == "confirmation",
                                                       AuditEvent.outcome == "kept"))
        assert kept is not None

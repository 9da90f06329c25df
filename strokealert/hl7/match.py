"""Match: the case a message belongs to (MRN + accession number, or MRN + visit number), a new
case for a code-stroke arrival that has none, and the times of messages that came before it.

No commits here: the receiver owns the transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from strokealert.cases import HL7_CASE_PREFIX
from strokealert.db.models.cases import Case
from strokealert.db.models.hl7 import Hl7Message
from strokealert.hl7.parse import Inbound
from strokealert.timeline import apply_feed_value

# A case the images opened is this arrival's when it was created this long before or after it.
ADOPT_BEFORE = timedelta(hours=2)
ADOPT_AFTER = timedelta(hours=24)


def find_case(session: Session, inbound: Inbound) -> Case | None:
    """The case of ``inbound``: same MRN and accession number, else same MRN and visit number
    as an earlier message that was matched."""
    if inbound.accession_number:
        case = session.scalar(select(Case).where(Case.patient_id == inbound.mrn,
                                                 Case.accession_number == inbound.accession_number)
                              .order_by(Case.created_at.desc()).limit(1))
        if case is not None:
            return case
    if inbound.visit_number:
        case_id = session.scalar(
            select(Hl7Message.case_id).where(Hl7Message.mrn == inbound.mrn,
                                             Hl7Message.visit_number == inbound.visit_number,
                                             Hl7Message.case_id.is_not(None))
            .order_by(Hl7Message.id.desc()).limit(1))
        if case_id is not None:
            return session.get(Case, case_id)
    return None


def open_case(session: Session, inbound: Inbound, *, site: str, now: datetime) -> Case:
    """The case of a code-stroke arrival: the patient's imaging case opened around the arrival
    and not yet given one, else a new case (no images yet)."""
    arrival = inbound.times["arrival_at"]
    case = session.scalar(select(Case).where(Case.patient_id == inbound.mrn,
                                             Case.arrival_at.is_(None),
                                             Case.created_at >= arrival - ADOPT_BEFORE,
                                             Case.created_at <= arrival + ADOPT_AFTER)
                          .order_by(Case.created_at).limit(1))
    if case is not None:
        return case
    case_id = str(uuid.uuid4())
    case = Case(id=case_id, study_instance_uid=f"{HL7_CASE_PREFIX}{case_id}", site=site,
                created_at=now, updated_at=now, status="received", alert_level=None,
                urgency=4, title="Code stroke (HL7 arrival, no images yet)", summary="",
                key_images=[], map_files={}, transfer=False, patient_id=inbound.mrn,
                patient_name=inbound.patient_name, birth_date=inbound.birth_date,
                accession_number=inbound.accession_number)
    session.add(case)
    session.flush()
    return case


def apply_times(session: Session, case: Case, inbound: Inbound, *, message_id: int | None,
                now: datetime) -> dict[str, str]:
    """Put the message's times on the case's timeline (with their DST notes, replacing the
    field's earlier ones) and its thrombolytic agent when the case names none:
    ``{field: applied|unchanged|conflict}``."""
    outcomes = {name: apply_feed_value(session, case, name, value, source="hl7",
                                       message_id=message_id, now=now)
                for name, value in inbound.times.items()}
    applied = [name for name, outcome in outcomes.items() if outcome == "applied"]
    if applied:
        kept = [n for n in case.time_notes or [] if n.split(":", 1)[0] not in applied]
        case.time_notes = kept + [n for n in inbound.time_notes
                                  if n.split(":", 1)[0] in applied]
    if inbound.thrombolytic_agent and case.thrombolytic_agent is None:
        case.thrombolytic_agent = inbound.thrombolytic_agent
        case.updated_at = now
    return outcomes


def unmatched_before(session: Session, inbound: Inbound) -> list[Hl7Message]:
    """Accepted messages of the same MRN and visit that found no case (oldest first)."""
    if not inbound.visit_number:
        return []
    return list(session.scalars(
        select(Hl7Message).where(Hl7Message.mrn == inbound.mrn,
                                 Hl7Message.visit_number == inbound.visit_number,
                                 Hl7Message.case_id.is_(None),
                                 Hl7Message.status == "accepted")
        .order_by(Hl7Message.id)))

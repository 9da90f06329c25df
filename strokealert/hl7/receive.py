"""Receive: one message, stored raw with its effects in one transaction, committed before its
ACK is built; idempotent on (MSH-3, MSH-4, MSH-10).

- AA: stored and applied (a resend of a stored message is answered as the first time, with
  nothing applied again; its ``resends`` count goes up).
- AE / AR: stored with the reason (``status`` ``error`` / ``rejected``) for review.
- The database unreachable: nothing is stored and :class:`StorageUnavailable` is raised; the
  listener closes the connection without an ACK, so the sender keeps the message and resends.

Every stored message gets an audit log entry (control id, type, outcome; no PHI); log lines
carry the same.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from strokealert.accesslog.log import record as audit_record
from strokealert.config import Settings
from strokealert.db.models.hl7 import Hl7Message
from strokealert.db.wakeup import CASES, wakeup_for
from strokealert.hl7 import match, oru
from strokealert.hl7.ack import build_ack
from strokealert.hl7.parse import (
    APPLICATION_INTERNAL_ERROR,
    UNKNOWN_KEY,
    Header,
    Hl7Error,
    Inbound,
    parse_message,
    read_header,
)
from strokealert.monitoring.settings import MonitoringConfig

log = logging.getLogger(__name__)

STATUS_OF_ACK = {"AA": "accepted", "AE": "error", "AR": "rejected"}
ACK_OF_STATUS = {status: ack for ack, status in STATUS_OF_ACK.items()}


class StorageUnavailable(RuntimeError):
    """The message could not be stored (database down): no ACK may be sent."""


def decode(frame: bytes) -> str:
    """The frame's text: UTF-8 (ASCII included), else Latin-1 (HL7's 8859/1 default)."""
    try:
        return frame.decode("utf-8")
    except UnicodeDecodeError:
        return frame.decode("latin-1")


class Receiver:
    """Stores and applies messages; one per listener, safe to call from many threads."""

    def __init__(self, settings: Settings, factory: sessionmaker[Session]) -> None:
        self.factory = factory
        self.zone = ZoneInfo(settings.timezone)
        self.site = settings.site_name
        self.allowed = {a.upper() for a in settings.hl7_allowed_senders}
        self.code_stroke_reasons = list(settings.hl7_code_stroke_reasons)
        self.oru_mapping = MonitoringConfig.from_settings(settings).oru
        self.engine: Engine = factory.kw["bind"]

    def receive(self, frame: bytes, *, peer: str = "") -> str:
        """Store and apply one MLLP frame's message; returns the ACK text to send (the
        message is committed by then). Raises :class:`StorageUnavailable` when nothing could
        be stored."""
        raw = decode(frame).replace("\r\n", "\r").strip("\r\n")
        try:
            header = read_header(raw)
        except Hl7Error as exc:
            header = Header()
            failure: Hl7Error | None = exc
        else:
            failure = None
        try:
            try:
                return self._transaction(raw, header, failure, peer)
            except IntegrityError:  # a concurrent copy committed first: answered as a resend
                return self._transaction(raw, header, failure, peer)
        except SQLAlchemyError as exc:
            log.warning("hl7 message control_id=%s type=%s not stored (%s): no ACK sent",
                        header.control_id, header.message_type, type(exc).__name__)
            raise StorageUnavailable(type(exc).__name__) from exc
        except Exception:
            log.exception("hl7 message control_id=%s type=%s failed; kept as rejected",
                          header.control_id, header.message_type)
            failure = Hl7Error("AR", APPLICATION_INTERNAL_ERROR, "internal error; kept for review")
            try:
                return self._transaction(raw, header, failure, peer)
            except SQLAlchemyError as exc:
                raise StorageUnavailable(type(exc).__name__) from exc

    def _transaction(self, raw: str, header: Header, failure: Hl7Error | None,
                     peer: str) -> str:
        with self.factory.begin() as session:
            return self._store(session, raw, header, failure, peer)

    def _store(self, session: Session, raw: str, header: Header, failure: Hl7Error | None,
               peer: str) -> str:
        now = datetime.now(UTC)
        if header.control_id is not None:
            stored = session.scalar(select(Hl7Message).where(
                Hl7Message.sending_application == header.sending_application,
                Hl7Message.sending_facility == header.sending_facility,
                Hl7Message.control_id == header.control_id))
            if stored is not None:
                stored.resends += 1
                log.info("hl7 message control_id=%s type=%s resent: %s again, not reapplied",
                         header.control_id, header.message_type, stored.status)
                return self._ack(header, stored)
        row = Hl7Message(sending_application=header.sending_application[:180],
                         sending_facility=header.sending_facility[:180],
                         control_id=(header.control_id or "")[:199] or None,
                         message_type=header.message_type[:16], received_at=now, raw=raw,
                         resends=0, status="accepted")
        session.add(row)
        session.flush()
        inbound: Inbound | None = None
        if failure is None and self.allowed and header.sending_application.upper() \
                not in self.allowed:
            failure = Hl7Error("AR", UNKNOWN_KEY, "sending application (MSH-3) not allowed")
        if failure is None:
            try:
                inbound = parse_message(raw, zone=self.zone,
                                        code_stroke_reasons=self.code_stroke_reasons)
            except Hl7Error as exc:
                failure = exc
        if inbound is not None:
            row.mrn, row.visit_number = inbound.mrn, inbound.visit_number
            row.accession_number = inbound.accession_number
            notes = self._apply(session, row, inbound, now)
            row.error = "; ".join(notes) or None
        if failure is not None:
            row.status, row.error_code, row.error = (STATUS_OF_ACK[failure.ack], failure.code,
                                                     failure.text)
        audit_record(session, "hl7_message", username=None, object_type="hl7_message",
                     object_id=str(row.id), outcome=row.status, ip=peer or None,
                     detail={"control_id": row.control_id, "type": row.message_type,
                             "case_id": row.case_id})
        log.info("hl7 message control_id=%s type=%s %s", row.control_id, row.message_type,
                 row.status)
        return build_ack(header, failure)

    def _apply(self, session: Session, row: Hl7Message, inbound: Inbound,
               now: datetime) -> list[str]:
        """Match (or open) the case and put the message's times on it; notes for the row."""
        notes = list(inbound.notes)
        case = match.find_case(session, inbound)
        replay: list[Hl7Message] = []
        if case is None and inbound.code_stroke and "arrival_at" in inbound.times:
            case = match.open_case(session, inbound, site=self.site, now=now)
            replay = match.unmatched_before(session, inbound)
        if case is None:
            notes.append("no case matches (MRN + accession or visit number)")
            return notes
        row.case_id = case.id
        outcomes = match.apply_times(session, case, inbound, message_id=row.id, now=now)
        for earlier in replay:
            earlier_inbound = parse_message(earlier.raw, zone=self.zone,
                                            code_stroke_reasons=self.code_stroke_reasons)
            earlier.case_id, earlier.error = case.id, "; ".join(earlier_inbound.notes) or None
            match.apply_times(session, case, earlier_inbound, message_id=earlier.id, now=now)
        notes += [f"{name}: conflict with a hand entry, not applied"
                  for name, outcome in outcomes.items() if outcome == "conflict"]
        if inbound.header.message_type == "ORU^R01":  # a final report confirms the finding
            notes += oru.apply_report(session, case, row.raw, self.oru_mapping,
                                      message_id=row.id, sender=row.sending_application,
                                      now=now)
        if any(o == "applied" for o in outcomes.values()) or replay:
            wakeup_for(self.engine).notify(session, CASES)
        return notes

    def _ack(self, header: Header, stored: Hl7Message) -> str:
        """The ACK of a resent message: what its first copy got."""
        if stored.status == "accepted":
            return build_ack(header)
        return build_ack(header, Hl7Error(ACK_OF_STATUS[stored.status],
                                          stored.error_code or APPLICATION_INTERNAL_ERROR,
                                          stored.error or stored.status))

"""Parse: one HL7 v2 message (text) to what the timeline needs, or an :class:`Hl7Error` that
says which ACK (AE or AR) it gets and why (HL7 table 0357 error code, no PHI).

Mapping (the README's "HL7 feeds" table):

- ``ADT^A01/A04/A08`` (arrival): PV1-44 admit date/time, else EVN-6, else EVN-2 ->
  ``arrival_at``; PV2-3 admit reason names a code stroke (``settings.hl7_code_stroke_reasons``).
- ``RAS^O17`` (administration): RXA-3 start of an alteplase (RxNorm 8410) or tenecteplase
  (RxNorm 19098) administration, RXA-20 not ``RE``/``NA``/``PA`` -> ``needle_at``.
- ``ORM^O01`` / ``ORU^R01`` (procedure): OBR-4 a mechanical thrombectomy (CPT 61645), OBR-7
  (procedure start) -> ``groin_puncture_at``.
- ``ADT^A03`` (discharge) with PV1-36 a transfer to another acute-care hospital (UB-04 02, 05,
  43, 66): PV1-45, else EVN-6, else EVN-2 -> ``transfer_out_at``.
- ``RDE^O11`` (orders) and ``SIU^S12`` (schedules) are accepted: they carry no event time.

Patient: PID-3 (the ``MR`` repetition, else the first) is the MRN; PV1-19 the visit number
(PID-18 account number when PV1-19 is empty); accession OBR-18, else ORC-3, else ORC-2.
HL7 TS values without an offset are local times in the site's zone, read as the DICOM times
are: a DST fold as the earlier instant, a time in the DST gap shifted forward, either noted on
the case (``time_notes``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

import hl7

from strokealert.cases import wall_clock_to_utc

ARRIVAL_EVENTS = frozenset({"A01", "A04", "A08"})
SUPPORTED = frozenset({"ADT^A01", "ADT^A03", "ADT^A04", "ADT^A08", "RAS^O17", "ORM^O01", "ORU^R01",
                       "RDE^O11", "SIU^S12"})
THROMBOLYTICS = {"8410": "alteplase", "19098": "tenecteplase"}  # RxNorm ingredient codes
THROMBECTOMY_CODES = frozenset({"61645"})  # CPT: intracranial mechanical thrombectomy
# PV1-36 discharge disposition (UB-04 codes) of a transfer to another acute-care hospital.
TRANSFER_DISPOSITIONS = frozenset({"02", "05", "43", "66"})
NOT_GIVEN = frozenset({"RE", "NA", "PA"})  # RXA-20: refused, not administered, partial
PROCESSING_IDS = frozenset({"P", "T", "D"})

# HL7 table 0357 (message error condition codes) used in ERR-3.
REQUIRED_FIELD_MISSING = 101
DATA_TYPE_ERROR = 102
UNSUPPORTED_MESSAGE_TYPE = 200
UNSUPPORTED_PROCESSING_ID = 202
UNKNOWN_KEY = 204
APPLICATION_INTERNAL_ERROR = 207


class Hl7Error(Exception):
    """Why a message is not accepted: ``ack`` is ``AE`` (content error) or ``AR`` (rejected
    whole: unreadable header, unsupported type, sender not allowed); ``code`` is table 0357."""

    def __init__(self, ack: str, code: int, text: str) -> None:
        super().__init__(text)
        self.ack, self.code, self.text = ack, code, text


@dataclass(frozen=True)
class Header:
    """MSH fields an ACK and the idempotency key need."""

    sending_application: str = ""
    sending_facility: str = ""
    receiving_application: str = ""
    receiving_facility: str = ""
    control_id: str | None = None
    message_type: str = ""  # "ADT^A04"
    processing_id: str = "P"
    version: str = "2.5.1"

    @property
    def trigger(self) -> str:
        return self.message_type.partition("^")[2]


@dataclass(frozen=True)
class Inbound:
    """What one message says about a patient's stroke timeline (aware UTC times)."""

    header: Header
    mrn: str | None = None
    visit_number: str | None = None
    accession_number: str | None = None
    patient_name: str | None = None  # PID-5 as FAMILY^GIVEN (PHI: viewer only)
    birth_date: str | None = None  # PID-7, YYYYMMDD
    code_stroke: bool = False
    times: dict[str, datetime] = field(default_factory=dict)
    thrombolytic_agent: str | None = None  # of the earliest administration, RAS^O17
    time_notes: tuple[str, ...] = ()  # "<field>: ..." how a time was read (DST), for the case
    notes: tuple[str, ...] = ()  # for the message row


def read_header(raw: str) -> Header:
    """The MSH of ``raw``, read without trusting the rest; AR if there is none."""
    if not raw.startswith("MSH") or len(raw) < 8:
        raise Hl7Error("AR", REQUIRED_FIELD_MISSING, "message does not start with an MSH segment")
    sep = raw[3]
    fields = raw.split("\r", 1)[0].split(sep)
    comp = fields[1][0] if len(fields) > 1 and fields[1] else "^"

    def get(n: int) -> str:  # MSH-n (MSH-1 is the separator itself)
        return fields[n - 1].strip() if len(fields) >= n else ""

    kind = get(9).split(comp)
    return Header(sending_application=get(3).split(comp)[0], sending_facility=get(4).split(comp)[0],
                  receiving_application=get(5).split(comp)[0],
                  receiving_facility=get(6).split(comp)[0], control_id=get(10) or None,
                  message_type="^".join(kind[:2]) if len(kind) > 1 else kind[0],
                  processing_id=get(11).split(comp)[0] or "P", version=get(12).split(comp)[0])


def parse_message(raw: str, *, zone: tzinfo, code_stroke_reasons: list[str]) -> Inbound:
    """Parse ``raw`` (segments separated by ``\\r``); raises :class:`Hl7Error`."""
    header = read_header(raw)
    if header.control_id is None:
        raise Hl7Error("AR", REQUIRED_FIELD_MISSING, "MSH-10 message control id is empty")
    if header.processing_id not in PROCESSING_IDS:
        raise Hl7Error("AR", UNSUPPORTED_PROCESSING_ID,
                       f"MSH-11 processing id {header.processing_id!r} is not P, T or D")
    if header.message_type not in SUPPORTED:
        raise Hl7Error("AR", UNSUPPORTED_MESSAGE_TYPE,
                       f"message type {header.message_type!r} is not handled "
                       f"(handled: {', '.join(sorted(SUPPORTED))})")
    try:
        message = hl7.parse(raw)
    except Exception as exc:  # the library raises plain exceptions on broken structure
        raise Hl7Error("AR", REQUIRED_FIELD_MISSING, f"unreadable message: {exc}") from None
    reader = _Reader(message, zone)
    mrn = reader.mrn()
    if not mrn:
        raise Hl7Error("AE", REQUIRED_FIELD_MISSING, "PID-3 patient identifier is empty")
    kind = header.message_type.partition("^")[0]
    read: dict[str, Reading] = {}
    code_stroke, agent = False, None
    if kind == "ADT" and header.trigger in ARRIVAL_EVENTS:
        read["arrival_at"] = reader.first_time((("PV1", 44), ("EVN", 6), ("EVN", 2)),
                                               "arrival")
        reasons = {r.strip().upper() for r in code_stroke_reasons}
        code_stroke = bool(reasons & {c.upper() for c in reader.components("PV2", 3)[:2]})
    elif kind == "ADT":  # A03 discharge
        if reader.text("PV1", 36) in TRANSFER_DISPOSITIONS:
            read["transfer_out_at"] = reader.first_time(
                (("PV1", 45), ("EVN", 6), ("EVN", 2)), "discharge")
        else:
            reader.notes.append("discharge disposition (PV1-36) is not a transfer out")
    elif kind == "RAS":
        needle = reader.needle()
        if needle is not None:
            read["needle_at"], agent = needle
    elif kind in ("ORM", "ORU"):
        puncture = reader.puncture()
        if puncture is not None:
            read["groin_puncture_at"] = puncture
    return Inbound(header=header, mrn=mrn, visit_number=reader.visit_number(),
                   accession_number=reader.accession(), patient_name=reader.patient_name(),
                   birth_date=reader.text("PID", 7)[:8] or None, code_stroke=code_stroke,
                   times={name: r.moment for name, r in read.items()},
                   thrombolytic_agent=agent,
                   time_notes=tuple(f"{name}: HL7 {r.where}: {r.note}"
                                    for name, r in read.items() if r.note),
                   notes=tuple(reader.notes))


@dataclass(frozen=True)
class Reading:
    """A time read from field ``where``, and how (a DST note), if that needs saying."""

    moment: datetime
    where: str
    note: str | None = None


class _Reader:
    """Field access on a parsed message: ``text("PV1", 44)`` is the first component of the
    first repetition; times are read in ``zone`` unless they carry an offset."""

    def __init__(self, message: Any, zone: tzinfo) -> None:
        self.message, self.zone = message, zone
        self.notes: list[str] = []

    def segments(self, name: str) -> list[Any]:
        try:
            return list(self.message.segments(name))
        except KeyError:
            return []

    def repetitions(self, name: str, n: int, segment: Any = None) -> list[list[str]]:
        """Field ``n`` of ``segment`` (else the first ``name`` segment): repetitions of
        components, unescaped."""
        if segment is None:
            found = self.segments(name)
            if not found:
                return []
            segment = found[0]
        if len(segment) <= n:
            return []
        text = str(segment[n])
        seps = self.message.separators  # "\r|~^&" and friends
        return [[self.message.unescape(c) for c in rep.split(seps[3])]
                for rep in text.split(seps[2]) if rep]

    def components(self, name: str, n: int, segment: Any = None) -> list[str]:
        reps = self.repetitions(name, n, segment)
        return reps[0] if reps else []

    def text(self, name: str, n: int, segment: Any = None) -> str:
        parts = self.components(name, n, segment)
        return parts[0].strip() if parts else ""

    def mrn(self) -> str:
        reps = self.repetitions("PID", 3)
        for rep in reps:
            if len(rep) > 4 and rep[4].upper() == "MR" and rep[0].strip():
                return rep[0].strip()[:64]
        return reps[0][0].strip()[:64] if reps else ""

    def patient_name(self) -> str | None:
        return "^".join(p.strip() for p in self.components("PID", 5)[:2]).strip("^")[:256] or None

    def visit_number(self) -> str | None:
        return (self.text("PV1", 19) or self.text("PID", 18))[:64] or None

    def accession(self) -> str | None:
        return (self.text("OBR", 18) or self.text("ORC", 3) or self.text("ORC", 2))[:64] or None

    def time(self, value: str, where: str) -> Reading:
        try:
            moment, note = parse_ts(value, self.zone)
        except ValueError as exc:
            raise Hl7Error("AE", DATA_TYPE_ERROR, f"{where}: {exc}") from None
        return Reading(moment, where, note)

    def first_time(self, fields: tuple[tuple[str, int], ...], what: str) -> Reading:
        """The first of ``fields`` that holds a time; AE when none does."""
        for name, n in fields:
            value = self.text(name, n)
            if value:
                return self.time(value, f"{name}-{n}")
        where = ", ".join(f"{name}-{n}" for name, n in fields)
        raise Hl7Error("AE", REQUIRED_FIELD_MISSING, f"no {what} time ({where})")

    def needle(self) -> tuple[Reading, str] | None:
        """The earliest thrombolytic administration given, and its agent."""
        starts: list[tuple[Reading, str]] = []
        for rxa in self.segments("RXA"):
            code = self.components("RXA", 5, rxa)
            agent = THROMBOLYTICS.get(code[0].strip() if code else "")
            names = " ".join(code[1:2]).lower()
            agent = agent or next((a for a in THROMBOLYTICS.values() if a in names), None)
            if agent is None or self.text("RXA", 20, rxa).upper() in NOT_GIVEN:
                continue
            value = self.text("RXA", 3, rxa)
            if not value:
                raise Hl7Error("AE", REQUIRED_FIELD_MISSING,
                               f"RXA-3 start time missing for {agent}")
            starts.append((self.time(value, "RXA-3"), agent))
        if not starts:
            self.notes.append("no thrombolytic administration in this message")
        return min(starts, key=lambda start: start[0].moment, default=None)

    def puncture(self) -> Reading | None:
        for obr in self.segments("OBR"):
            code = self.components("OBR", 4, obr)
            if not code or (code[0].strip() not in THROMBECTOMY_CODES
                            and "thrombectomy" not in " ".join(code[1:2]).lower()):
                continue
            value = self.text("OBR", 7, obr)
            if not value:
                raise Hl7Error("AE", REQUIRED_FIELD_MISSING,
                               "OBR-7 procedure start missing for a thrombectomy")
            return self.time(value, "OBR-7")
        self.notes.append("no thrombectomy procedure in this message")
        return None


def parse_ts(value: str, zone: tzinfo) -> tuple[datetime, str | None]:
    """An HL7 TS/DTM (``YYYYMMDDHHMM[SS[.S…]][+/-ZZZZ]``, minutes at least) as aware UTC, and
    a note when daylight saving time made the local time ambiguous or impossible (read as
    the DICOM times are: :func:`strokealert.cases.wall_clock_to_utc`). Raises ValueError for
    a value that is not such a time."""
    text = value.strip()
    offset: timezone | None = None
    for sign in "+-":
        if sign in text[8:]:
            text, _, tail = text.rpartition(sign)
            if len(tail) != 4 or not tail.isdigit():
                raise ValueError("bad time zone offset (+/-ZZZZ)")
            delta = timedelta(hours=int(tail[:2]), minutes=int(tail[2:]))
            offset = timezone(delta if sign == "+" else -delta)
            break
    whole, _, fraction = text.partition(".")
    if not whole.isdigit() or len(whole) not in (12, 14):
        raise ValueError("not a date and time to the minute (YYYYMMDDHHMM[SS])")
    try:
        naive = datetime.strptime(whole.ljust(14, "0"), "%Y%m%d%H%M%S")
    except ValueError:
        raise ValueError("not a valid date and time") from None
    if fraction:
        if not fraction.isdigit():
            raise ValueError("bad fraction of a second")
        naive += timedelta(microseconds=int(fraction[:6].ljust(6, "0")))
    if offset is not None:
        return naive.replace(tzinfo=offset).astimezone(UTC), None
    return wall_clock_to_utc(naive, zone)


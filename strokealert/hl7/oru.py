"""Final radiology reports (``ORU^R01``) as confirmations of a case's finding, through the
keyword/code mapping of ``[monitoring.oru]`` (:class:`strokealert.monitoring.settings.OruMapping`;
defaults in the README's "Monitoring" section).

Only a report whose OBR-25 result status is final (``F``) or corrected (``C``) counts; the text is
every OBX-5 value of the report, the codes every OBX-3 and coded OBX-5 identifier. A code in the
mapping beats the text; in the text a negative phrase beats a positive one. A report that says
nothing the mapping knows leaves the case unconfirmed, and a reader's own confirmation on the
case view is never overwritten by a report (it is audited as kept).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import hl7
from sqlalchemy.orm import Session

from strokealert.db.models.cases import Case
from strokealert.monitoring import confirmations
from strokealert.monitoring.confirmations import Finding
from strokealert.monitoring.settings import OruMapping

TEXT_TYPES = frozenset({"TX", "FT", "ST", "CE", "CWE", "CNE"})
YES, NO = frozenset({"yes", "true", "1", "y"}), frozenset({"no", "false", "0", "n"})
CODE_FIELDS = ("lvo", "lvo_site", "haemorrhage", "haemorrhage_kind", "core_plausible")


def _field(segment: Any, n: int) -> str:
    return str(segment[n]) if len(segment) > n else ""


def _first(value: str) -> str:
    return value.split("~", 1)[0].split("^", 1)[0].split("&", 1)[0].strip()


def read_report(raw: str) -> tuple[str, str, list[str], str | None]:
    """(OBR-25 result status, report text, observation codes, the interpreter's id from
    OBR-32) of a message."""
    message = hl7.parse(raw)
    status, interpreter = "", None
    for obr in _segments(message, "OBR"):
        status = status or _first(_field(obr, 25)).upper()
        interpreter = interpreter or _first(_field(obr, 32)) or None
    texts, codes = [], []
    for obx in _segments(message, "OBX"):
        kind = _first(_field(obx, 2)).upper()
        code = _first(_field(obx, 3))
        if code:
            codes.append(code)
        value = _field(obx, 5)
        if kind in ("CE", "CWE", "CNE") and _first(value):
            codes.append(_first(value))
        if kind in TEXT_TYPES:
            texts.append(" ".join(message.unescape(part) for part in re.split(r"[~^]", value)))
    return status, " ".join(texts), codes, interpreter


def _segments(message: Any, name: str) -> list[Any]:
    try:
        return list(message.segments(name))
    except KeyError:
        return []


def _says(text: str, phrases: list[str]) -> bool:
    return any(re.search(rf"(?<![a-z0-9]){re.escape(p.lower())}(?![a-z0-9])", text)
               for p in phrases)


def _polarity(text: str, negative: list[str], positive: list[str]) -> bool | None:
    if _says(text, negative):
        return False
    return True if _says(text, positive) else None


def _which(text: str, options: dict[str, list[str]]) -> str | None:
    return next((name for name, phrases in options.items() if _says(text, phrases)), None)


def _coded(codes: list[str], mapping: OruMapping) -> dict[str, Any]:
    """The ``field=value`` entries the mapping gives the report's codes."""
    values: dict[str, Any] = {}
    for code in codes:
        entry = mapping.codes.get(code)
        if entry is None or "=" not in entry:
            continue
        name, value = (part.strip() for part in entry.split("=", 1))
        if name not in CODE_FIELDS:
            continue
        if name in ("lvo", "haemorrhage", "core_plausible"):
            values[name] = value.lower() in YES if value.lower() in YES | NO else None
        else:
            values[name] = value
    return values


def finding_of(text: str, codes: list[str], mapping: OruMapping) -> Finding | None:
    """The finding a report states, or None when it states nothing the mapping knows."""
    lower = text.lower()
    lvo = _polarity(lower, mapping.lvo_negative, mapping.lvo_positive)
    bleed = _polarity(lower, mapping.haemorrhage_negative, mapping.haemorrhage_positive)
    core = _polarity(lower, mapping.core_implausible, mapping.core_plausible)
    values: dict[str, Any] = {
        "lvo": lvo, "lvo_site": _which(lower, mapping.sites) if lvo else None,
        "haemorrhage": bleed,
        "haemorrhage_kind": _which(lower, mapping.haemorrhage_kinds) if bleed else None,
        "core_plausible": core}
    values.update(_coded(codes, mapping))
    if values.get("lvo") is not True:
        values["lvo_site"] = None
    if values.get("haemorrhage") is not True:
        values["haemorrhage_kind"] = None
    if all(v is None for v in values.values()):
        return None
    return Finding(**values)


def apply_report(session: Session, case: Case, raw: str, mapping: OruMapping, *,
                 message_id: int, sender: str, now: datetime) -> list[str]:
    """Confirm ``case`` from the report in ``raw``; notes for the message row (no PHI)."""
    status, text, codes, interpreter = read_report(raw)
    if status not in {s.upper() for s in mapping.final_statuses}:
        return [f"report status {status or 'missing'!r} is not final: no confirmation"]
    finding = finding_of(text, codes, mapping)
    if finding is None:
        return ["report states no finding the [monitoring.oru] mapping knows"]
    reader = interpreter or f"report from {sender or 'HL7'}"
    row = confirmations.record(session, case.id, finding, reader=reader[:128], source="hl7",
                               at=now, hl7_message_id=message_id)
    if row is None:
        return ["report kept, not applied: a reader confirmed this case on the case view"]
    return [f"confirmation from the report: {', '.join(finding.said())}"]

"""Ground truth: the finding a reader confirmed (LVO and site, haemorrhage and kind, core
plausible), recorded on the case view in two taps or taken from the final radiology report.

A case without a confirmation is *unconfirmed*: it is shown as such and never counted as right
or wrong. A reader's own entry wins over a report: a report arriving for a case a reader has
confirmed is kept in the audit log, not applied. No commits here: callers own transactions.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from strokealert.accesslog.log import record as audit_record
from strokealert.db.models.monitoring import Confirmation
from strokealert.errors import InputError

LVO_SITES = ("ICA", "M1", "M2", "basilar")
HAEMORRHAGE_KINDS = ("intraparenchymal", "subarachnoid", "subdural", "epidural",
                     "intraventricular")


@dataclass(frozen=True)
class Finding:
    """A confirmed finding; ``None`` is "not said" (a field the reader did not tap)."""

    lvo: bool | None = None
    lvo_site: str | None = None
    haemorrhage: bool | None = None
    haemorrhage_kind: str | None = None
    core_plausible: bool | None = None

    def checked(self) -> Finding:
        """Self, or InputError naming the field that cannot be right."""
        if self.lvo_site is not None and self.lvo_site not in LVO_SITES:
            raise InputError(f"lvo_site must be one of {', '.join(LVO_SITES)}")
        if self.haemorrhage_kind is not None and self.haemorrhage_kind not in HAEMORRHAGE_KINDS:
            raise InputError(f"haemorrhage_kind must be one of {', '.join(HAEMORRHAGE_KINDS)}")
        if self.lvo_site is not None and self.lvo is not True:
            raise InputError("an LVO site needs LVO confirmed (yes)")
        if self.haemorrhage_kind is not None and self.haemorrhage is not True:
            raise InputError("a haemorrhage kind needs haemorrhage confirmed (yes)")
        if all(getattr(self, f.name) is None for f in fields(self)):
            raise InputError("nothing to confirm: say LVO, haemorrhage or core plausibility")
        return self

    def said(self) -> list[str]:
        """The names of the fields that carry a value (what the audit log records)."""
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]


def confirmation_of(session: Session, case_id: str) -> Confirmation | None:
    return session.scalar(select(Confirmation).where(Confirmation.case_id == case_id))


def record(session: Session, case_id: str, finding: Finding, *, reader: str | None,
           source: str, at: datetime, role: str | None = None,
           hl7_message_id: int | None = None, ip: str | None = None,
           user_agent: str | None = None) -> Confirmation | None:
    """Record ``finding`` for the case (``source`` ``manual`` or ``hl7``) and audit it with the
    reader and time; returns the row, or None when a report met a reader's entry (kept, not
    applied, and audited as such). Flushes, no commit."""
    finding = finding.checked()
    row = confirmation_of(session, case_id)
    kept = source == "hl7" and row is not None and row.source == "manual"
    audit_record(session, "confirmation", username=reader, role=role, object_type="case",
                 object_id=case_id, outcome="kept" if kept else "ok", ip=ip,
                 user_agent=user_agent,
                 detail={"source": source, "fields": finding.said(),
                         "hl7_message_id": hl7_message_id})
    if kept:
        return None
    if row is None:
        row = Confirmation(case_id=case_id)
        session.add(row)
    row.source, row.reader, row.confirmed_at, row.hl7_message_id = (source, reader, at,
                                                                    hl7_message_id)
    for name in ("lvo", "lvo_site", "haemorrhage", "haemorrhage_kind", "core_plausible"):
        value = getattr(finding, name)
        if value is not None:
            setattr(row, name, value)
    if row.lvo is not True:
        row.lvo_site = None
    if row.haemorrhage is not True:
        row.haemorrhage_kind = None
    session.flush()
    return row

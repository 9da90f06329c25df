"""What the pages and the JSON API show about a case: local times, measures, volumes, history."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from strokealert.db.models.cases import REGISTRY_FIELDS, TIMELINE_FIELDS, Case
from strokealert.errors import InputError
from strokealert.quality.measures import case_flags, case_values
from strokealert.quality.report import check_day
from strokealert.timeline import Provenance


def parse_time(text: str | None, zone: ZoneInfo) -> datetime | None:
    """ISO 8601 → aware UTC; a time without offset (a ``datetime-local`` field) is read in the
    hospital's zone (on a DST fold, the first occurrence). Empty → None; a date outside the
    accepted range (``report.check_day``) → InputError."""
    if text is None or not str(text).strip():
        return None
    try:
        moment = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"not a date and time: {text!r}") from None
    check_day(moment.date(), "date")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(ZoneInfo("UTC"))


def local(value: datetime | None, zone: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return value.astimezone(zone).strftime(fmt) if value is not None else ""


def timeline_rows(case: Case, zone: ZoneInfo,
                  shown: Provenance | None = None) -> list[dict[str, str]]:
    """Each timeline field with its label, local value, ``datetime-local`` input value, its
    source (hl7, dicom, manual, system) and a feed's conflicting value (local), if any."""
    sources = shown.sources if shown else {}
    conflicts = {c.field: local(c.incoming, zone) for c in (shown.conflicts if shown else [])}
    return [{"name": name, "label": label, "shown": local(getattr(case, name), zone),
             "input": local(getattr(case, name), zone, "%Y-%m-%dT%H:%M"),
             "iso": getattr(case, name).isoformat() if getattr(case, name) else "",
             "source": sources.get(name, ""), "conflict": conflicts.get(name, "")}
            for name, label in TIMELINE_FIELDS]


def alert_history(session: Session, case_id: str) -> list[dict[str, Any]]:
    from strokealert import alerting

    return alerting.alert_history(session, case_id)


def volumes(result: dict[str, Any] | None) -> dict[str, Any]:
    """The blocks the case pages show: perfusion (and its Tmax volumes), LVO, and the NCCT
    with its haemorrhage and ASPECTS findings."""
    perfusion = (result or {}).get("perfusion") or {}
    lvo = (result or {}).get("lvo") or {}
    ncct = (result or {}).get("ncct") or {}
    return {"perfusion": perfusion, "lvo": lvo,
            "hypo": perfusion.get("hypoperfusion_ml") or {},
            "ncct": ncct, "ich": ncct.get("ich") or {}, "aspects": ncct.get("aspects") or {}}


def case_json(case: Case, zone: ZoneInfo, alerts: list[dict[str, Any]],
              shown: Provenance | None = None) -> dict[str, Any]:
    timeline = {name: getattr(case, name) for name, _ in TIMELINE_FIELDS}
    timeline.update({"tici": case.tici, "transfer": case.transfer,
                     "first_ack_by": case.first_ack_by, "timezone": zone.key,
                     "time_notes": list(case.time_notes or [])})
    if shown is not None:
        timeline.update({"sources": shown.sources,
                         "conflicts": [c.as_json() for c in shown.conflicts]})
    return {
        "id": case.id, "site": case.site, "status": case.status,
        "alert_level": case.alert_level, "title": case.title, "summary": case.summary,
        "created_at": case.created_at, "updated_at": case.updated_at,
        "first_ack_at": case.first_ack_at, "first_ack_by": case.first_ack_by,
        "study_instance_uid": case.study_instance_uid, "patient_name": case.patient_name,
        "patient_id": case.patient_id, "birth_date": case.birth_date,
        "accession_number": case.accession_number, "result": case.result_json,
        "key_images": [f"/cases/{case.id}/images/{i}" for i in range(len(case.key_images))],
        "timeline": timeline, "measures": case_values(case), "alerts": alerts,
        "flags": [f.reason for f in case_flags(case)],
        "registry": {name: getattr(case, name) for name in REGISTRY_FIELDS},
    }

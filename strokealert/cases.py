"""Cases: one per study, created and updated from its ``strokealert.analysis/1`` result.

The pipeline calls :func:`upsert_case_from_analysis` when it decides a study; the web app reads
the cases it writes. No commits here: callers own transactions."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pydicom import dcmread
from pydicom.dataset import Dataset
from sqlalchemy import select
from sqlalchemy.orm import Session

from strokealert.contracts.analysis import Level, perfusion_summary
from strokealert.db.models.cases import Case
from strokealert.db.models.ingest import Instance, Series, Study
from strokealert.dicom.header import study_datetime
from strokealert.errors import InputError

if TYPE_CHECKING:
    from strokealert.config import Settings

# The worklist's rank, not the rules' order: a study nobody could read (manual review) is
# listed above a known warning, so that a person looks at it first.
URGENCY: dict[str, int] = {Level.CRITICAL: 0, Level.MANUAL_REVIEW: 1, Level.WARNING: 2,
                           Level.NONE: 3}
UNKNOWN_URGENCY = 4
SERIES_TIME_FIELD = {"ncct": "ncct_at", "cta": "cta_at", "ctp": "ctp_at"}
HL7_CASE_PREFIX = "hl7-"  # study_instance_uid of a case an HL7 code-stroke arrival opened
HL7_CASE_WINDOW = timedelta(hours=24)  # its patient's first study within this joins it


def utcnow() -> datetime:
    return datetime.now(UTC)


def _settings() -> Settings:
    from strokealert.config import get_settings

    return get_settings()


def _status(result: dict[str, Any]) -> str:
    blocks = [result.get(k) or {} for k in ("perfusion", "lvo", "ncct")]
    states = {b.get("status") for b in blocks}
    if "ok" in states:
        return "analyzed"
    if "failed" in states:
        return "failed"
    return "analyzing"


def key_image_names(result: dict[str, Any]) -> list[str]:
    """The key images of a result, most urgent first: the NCCT's leads when it shows blood (the
    alert's image), else LVO, perfusion, then the NCCT's (e.g. the ASPECTS regions)."""
    def names(block: str) -> list[str]:
        return list((result.get(block) or {}).get("key_images") or [])

    ncct = result.get("ncct") or {}
    if ((ncct.get("ich") or {}).get("suspected")):
        return [*names("ncct"), *names("lvo"), *names("perfusion")]
    return [*names("lvo"), *names("perfusion"), *names("ncct")]


def _title(result: dict[str, Any]) -> str:
    reasons = (result.get("alert") or {}).get("reasons") or []
    return str(reasons[0]) if reasons else "No actionable finding"


def _locate(names: Sequence[str], dirs: Sequence[Path]) -> list[Path]:
    """The files ``names`` found in the first of ``dirs`` that holds each."""
    found = []
    for name in names:
        for folder in dirs:
            if (folder / name).is_file():
                found.append(folder / name)
                break
    return found


def wall_clock_to_utc(naive: datetime, zone: tzinfo) -> tuple[datetime, str | None]:
    """A scanner's local wall-clock time read in ``zone``, as UTC, with a note when daylight
    saving time makes it ambiguous or impossible.

    Documented choice: an ambiguous time (the repeated hour of a DST fold) is read as the
    earlier instant (``fold=0``); a time the DST gap skips is shifted forward by the gap
    (read with the offset in force before the change, so 02:30 on a spring-forward night
    becomes 03:30 of the new offset). Either way the note goes on the case."""
    early = naive.replace(tzinfo=zone, fold=0)
    late = naive.replace(tzinfo=zone, fold=1)
    moment = early.astimezone(UTC)
    if early.utcoffset() == late.utcoffset():
        return moment, None
    stamp = naive.strftime("%Y-%m-%d %H:%M:%S")
    if moment.astimezone(zone).replace(tzinfo=None) == naive:
        return moment, (f"{stamp} is ambiguous in {zone} (DST fold): read as the earlier "
                        "instant")
    shifted = moment.astimezone(zone).strftime("%H:%M:%S")
    return moment, (f"{stamp} does not exist in {zone} (DST gap): shifted forward to "
                    f"{shifted}")


def _header_time(ds: Dataset, zone: tzinfo) -> tuple[datetime, str | None] | None:
    """AcquisitionDate/Time (else Series, else Study) in UTC: TimezoneOffsetFromUTC when
    present, else the site's ``zone`` (DICOM DA/TM are local wall-clock times)."""
    for prefix in ("Acquisition", "Series", "Study"):
        date, time_ = ds.get(f"{prefix}Date"), ds.get(f"{prefix}Time")
        if not (date and time_):
            continue
        header = Dataset()
        header.StudyDate, header.StudyTime = str(date), str(time_)
        if ds.get("TimezoneOffsetFromUTC"):
            header.TimezoneOffsetFromUTC = ds.TimezoneOffsetFromUTC
            moment = study_datetime(header, UTC)
            if moment is not None:
                return moment, None
            continue
        naive = study_datetime(header, UTC)
        if naive is not None:
            return wall_clock_to_utc(naive.replace(tzinfo=None), zone)
    return None


def _acquisition_time(path: str, zone: tzinfo) -> tuple[datetime, str | None] | None:
    """The acquisition time of one stored instance (see :func:`_header_time`); None if the
    file cannot be read or holds no usable date and time."""
    try:
        ds = dcmread(path, stop_before_pixels=True)
    except Exception:
        return None
    return _header_time(ds, zone)


def _imaging_times(session: Session, study: Study,
                   zone: tzinfo) -> tuple[dict[str, datetime], list[str]]:
    """First acquisition time per series kind (ncct/cta/ctp) from one stored header each (the
    first receipt when the header has none), and the notes on how any was read."""
    times: dict[str, datetime] = {}
    notes: list[str] = []
    for series in session.scalars(select(Series).where(Series.study_id == study.id)):
        field = SERIES_TIME_FIELD.get(series.kind)
        if field is None:
            continue
        path = session.scalar(select(Instance.path).where(Instance.series_id == series.id)
                              .order_by(Instance.instance_number, Instance.id).limit(1))
        read = _acquisition_time(path, zone) if path else None
        note: str | None
        if read is None:
            moment, note = series.first_received_at, (
                f"{field}: no acquisition date/time in the header, the time of receipt is used")
        else:
            moment, note = read[0], (f"{field}: {read[1]}" if read[1] else None)
        if moment is not None and (field not in times or moment < times[field]):
            times[field] = moment
            notes = [n for n in notes if not n.startswith(f"{field}:")]
            if note:
                notes.append(note)
    return times, notes


def _hl7_case_without_images(session: Session, study: Study | None,
                             now: datetime) -> Case | None:
    """The case an HL7 code-stroke arrival opened for ``study``'s patient (same MRN) in the
    last :data:`HL7_CASE_WINDOW`, still without a study: the study joins it."""
    if study is None or not study.patient_id:
        return None
    return session.scalar(select(Case).where(Case.study_instance_uid.startswith(HL7_CASE_PREFIX),
                                             Case.patient_id == study.patient_id,
                                             Case.created_at >= now - HL7_CASE_WINDOW)
                          .order_by(Case.created_at.desc()).limit(1))


def upsert_case_from_analysis(session: Session, *, study: Study | None, result: dict[str, Any],
                              output_dirs: Sequence[str | Path] = (),
                              output_dir: str | Path | None = None,
                              rule_fired: Sequence[str] | str | None = None,
                              title: str | None = None, summary: str | None = None,
                              site: str | None = None, zone: tzinfo | None = None) -> Case:
    """Create or update the case of ``result`` (``strokealert.analysis/1``); flushes, no commit.

    Copies the PHI columns from ``study`` (shown in the viewer only), pre-fills NCCT/CTA/CTP
    times from the DICOM headers (TimezoneOffsetFromUTC, else ``zone``, by default the site's
    ``STROKEALERT_TIMEZONE``; DST choices noted in ``time_notes``), and resolves key images
    and perfusion maps under the job output folders. Timeline fields a person already entered
    are kept.
    """
    uid = result.get("study_instance_uid") or (study.study_instance_uid if study else None)
    if not uid:
        raise InputError("analysis result has no study_instance_uid")
    now = utcnow()
    case = session.scalar(select(Case).where(Case.study_instance_uid == uid))
    if case is None:
        case = _hl7_case_without_images(session, study, now)
        if case is not None:
            case.study_instance_uid = uid
    if case is None:
        case = Case(id=str(uuid.uuid4()), study_instance_uid=uid, created_at=now,
                    site=site or "", key_images=[], map_files={}, transfer=False)
        session.add(case)
    if site is not None:
        case.site = site
    elif not case.site:
        case.site = _settings().site_name
    level = (result.get("alert") or {}).get("level")
    case.updated_at = now
    case.status = _status(result)
    case.alert_level = level
    case.urgency = URGENCY.get(level or "", UNKNOWN_URGENCY)
    case.title = title if title is not None else _title(result)
    case.summary = summary if summary is not None else perfusion_summary(result.get("perfusion"))
    case.result_json = result
    if isinstance(rule_fired, str):
        case.rule_fired = rule_fired
    elif rule_fired is not None:
        case.rule_fired = ", ".join(rule_fired)

    dirs = [Path(d) for d in ([output_dir] if output_dir else []) + list(output_dirs)]
    if dirs:
        root = Path(os.path.commonpath([str(d.resolve()) for d in dirs]))
        case.output_dir = str(root)
        case.key_images = [str(p.resolve().relative_to(root))
                           for p in _locate(key_image_names(result), dirs)]
        maps = (result.get("perfusion") or {}).get("maps") or {}
        case.map_files = {name: str(p.resolve().relative_to(root))
                          for name, file in maps.items() if isinstance(file, str)
                          for p in _locate([file], dirs)}
    if study is not None:
        case.patient_name = study.patient_name
        case.patient_id = study.patient_id
        case.birth_date = study.patient_birth_date
        case.accession_number = study.accession_number
        times, notes = _imaging_times(session, study, zone or ZoneInfo(_settings().timezone))
        for field, moment in times.items():
            if getattr(case, field) is None:
                setattr(case, field, moment)
                kept = [n for n in case.time_notes or [] if not n.startswith(f"{field}:")]
                case.time_notes = kept + [n for n in notes if n.startswith(f"{field}:")]
    session.flush()
    return case


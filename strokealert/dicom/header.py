"""What the index keeps from a stored object's header (read on the indexer thread)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo

from pydicom.dataset import Dataset

from strokealert.dicom.classify import SliceInfo, slice_info


@dataclass(frozen=True)
class Description:
    """Study/series columns (the study ones include PHI: never logged) and the slice facts."""

    instance_number: int | None
    study_fields: dict[str, object]
    series_fields: dict[str, object]
    slice: SliceInfo


def _text(ds: Dataset, keyword: str, limit: int) -> str | None:
    value = ds.get(keyword)
    if value is None or str(value).strip() == "":
        return None
    return str(value).strip()[:limit]


def _int(ds: Dataset, keyword: str) -> int | None:
    try:
        value = ds.get(keyword)
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def study_datetime(ds: Dataset, zone: tzinfo) -> datetime | None:
    """StudyDate/StudyTime (scanner local time) in UTC; TimezoneOffsetFromUTC wins if present,
    else the hospital's ``zone``."""
    date, time_ = str(ds.get("StudyDate", "") or ""), str(ds.get("StudyTime", "") or "")
    if len(date) != 8:
        return None
    try:
        moment = datetime.strptime(date + (time_.split(".")[0] + "000000")[:6], "%Y%m%d%H%M%S")
    except ValueError:
        return None
    offset = str(ds.get("TimezoneOffsetFromUTC", "") or "")
    if len(offset) == 5 and offset[0] in "+-" and offset[1:].isdigit():
        sign = 1 if offset[0] == "+" else -1
        zone = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])))
    return moment.replace(tzinfo=zone).astimezone(UTC)


def describe(ds: Dataset, zone: tzinfo) -> Description:
    """The indexed fields of one object."""
    return Description(
        instance_number=_int(ds, "InstanceNumber"),
        study_fields={
            "patient_name": _text(ds, "PatientName", 256),
            "patient_id": _text(ds, "PatientID", 64),
            "patient_birth_date": _text(ds, "PatientBirthDate", 8),
            "accession_number": _text(ds, "AccessionNumber", 64),
            "study_description": _text(ds, "StudyDescription", 256),
            "study_datetime": study_datetime(ds, zone),
        },
        series_fields={
            "modality": _text(ds, "Modality", 16),
            "manufacturer": _text(ds, "Manufacturer", 64),
            "series_description": _text(ds, "SeriesDescription", 256),
            "series_number": _int(ds, "SeriesNumber"),
        },
        slice=slice_info(ds),
    )

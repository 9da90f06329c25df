"""What the index keeps from a stored object's header (read on the indexer thread)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Any

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

from strokealert.dicom.classify import Header, SliceInfo, slice_info

TEXT_VRS = {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC",
            "UI", "UR", "UT"}
CHARSET_VRS = {"LO", "LT", "PN", "SH", "ST", "UC", "UT"}  # decoded per SpecificCharacterSet
MULTI_VALUED_VRS = TEXT_VRS - {"LT", "ST", "UT", "UR"}
ENCODINGS = {"": "latin-1", "ISO_IR 6": "latin-1", "ISO_IR 100": "latin-1",
             "ISO 2022 IR 6": "latin-1", "ISO_IR 192": "utf-8"}
BINARY_FORMATS = {"US": "H", "UL": "I", "SS": "h", "SL": "i"}


@lru_cache(maxsize=256)
def _tag(keyword: str) -> BaseTag:
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise KeyError(keyword)
    return BaseTag(tag)


SPECIFIC_CHARACTER_SET = BaseTag(0x00080005)


class RawHeader:
    """``get(keyword)`` over a received dataset's raw elements, decoded the cheap way.

    pydicom's keyword access converts and validates each element (tens of µs apiece); this
    reads the few elements the index needs straight from the little-endian bytes. String
    values come back as ``str`` (a list for multi-valued ones), US/UL as ``int``; anything
    else, or text in a character set other than Latin-1/UTF-8, falls back to pydicom.
    """

    def __init__(self, ds: Dataset) -> None:
        self._ds = ds
        charset = ds._dict.get(SPECIFIC_CHARACTER_SET)  # noqa: SLF001 - raw access on purpose
        name = ""
        if isinstance(charset, RawDataElement) and charset.value:
            name = charset.value.decode("latin-1").strip(" \x00").split("\\")[0]
        elif charset is not None and charset.value:
            value = charset.value
            name = str(value if isinstance(value, str) else value[0])
        self._encoding = ENCODINGS.get(name)

    def get(self, keyword: str, default: Any = None) -> Any:
        tag = _tag(keyword)
        element = self._ds._dict.get(tag)  # noqa: SLF001
        if element is None:
            return default
        if not isinstance(element, RawDataElement):
            return element.value
        raw = element.value
        if raw is None or raw == b"":
            return default
        vr = element.VR or dictionary_VR(tag)
        if vr in TEXT_VRS and (vr not in CHARSET_VRS or self._encoding is not None):
            text = raw.decode(self._encoding or "latin-1").strip(" \x00")
            if vr in MULTI_VALUED_VRS and "\\" in text:
                return [part.strip() for part in text.split("\\")]
            return text
        if vr in BINARY_FORMATS and len(raw) >= struct.calcsize(BINARY_FORMATS[vr]):
            size = struct.calcsize(BINARY_FORMATS[vr])
            values = struct.unpack(f"<{len(raw) // size}{BINARY_FORMATS[vr]}", raw)
            return values[0] if len(values) == 1 else list(values)
        return self._ds[tag].value


@dataclass(frozen=True)
class Description:
    """Study/series columns (the study ones include PHI: never logged) and the slice facts."""

    instance_number: int | None
    study_fields: dict[str, object]
    series_fields: dict[str, object]
    slice: SliceInfo


def _text(ds: Header, keyword: str, limit: int) -> str | None:
    value = ds.get(keyword)
    if value is None or str(value).strip() == "":
        return None
    return str(value).strip()[:limit]


def _int(ds: Header, keyword: str) -> int | None:
    try:
        value = ds.get(keyword)
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def study_datetime(ds: Header, zone: tzinfo) -> datetime | None:
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


def describe(ds: Header, zone: tzinfo) -> Description:
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

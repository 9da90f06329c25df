"""Series structure from headers: the expected image count and the kind (ctp/cta/ncct/other).

Structure decides, descriptions only hint: a CT perfusion repeats the same table positions over
time (whatever the vendor calls it or however it numbers time points); a CTA is a thin-slice
(≤ 1.5 mm) contrast-enhanced volume of the head and often the neck; an NCCT is an unenhanced
head volume. Everything else (localizers, dose reports, other body parts) is ``other``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import median
from typing import Any, Protocol

from pydicom.dataset import Dataset
from pydicom.uid import CTImageStorage, EnhancedCTImageStorage

LEGACY_ENHANCED_CT = "1.2.840.10008.5.1.4.1.1.2.2"
CT_SOP_CLASSES = {str(CTImageStorage), str(EnhancedCTImageStorage), LEGACY_ENHANCED_CT}

KINDS = ("ctp", "cta", "ncct", "other")
CTA_MAX_SLICE_MM = 1.5
CTP_MIN_REPEATS = 3  # each table position seen at least this often → dynamic acquisition
MIN_VOLUME_IMAGES = 5
POSITION_TOLERANCE_MM = 0.5

# Description hints (lower case). Vendors: Siemens "VPCT"/"Neuro PCT", GE "Perfusion 4D",
# Philips "Brain Perfusion", Canon "4D Perfusion"/"Dynamic Volume".
PERFUSION_HINT = re.compile(r"perf|vpct|\bpct\b|4d|dynamic|dyn\b|\bctp\b|cine|bolus track")
CTA_HINT = re.compile(r"\bcta\b|angio|\bcow\b|circle of willis|carotid|arterial|\bc\+|\+c\b")
UNENHANCED_HINT = re.compile(r"w/o|without|non[- ]?con|\bnc\b|plain|nativ|unenhanced|\bncct\b")
HEAD_HINT = re.compile(r"head|brain|neuro|stroke|skull|cranial|cerebr|kopf|schaedel|neck|cow")
BODY_HINT = re.compile(r"thorax|chest|abdom|pelvi|spine|lung|cardiac|heart|liver|knee")
HEAD_BODY_PARTS = {"HEAD", "BRAIN", "NECK", "HEADNECK", "HEAD_NECK", "SKULL", "CIRCLEOFWILLIS"}


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _seconds_of_day(tm: Any) -> float | None:
    """DICOM TM ``HHMMSS.ffffff`` (or shorter) → seconds since midnight."""
    text = str(tm or "").strip().replace(":", "")
    if len(text) < 2 or not text[:2].isdigit():
        return None
    try:
        hours = int(text[0:2])
        minutes = int(text[2:4]) if len(text) >= 4 else 0
        seconds = float(text[4:]) if len(text) > 4 else 0.0
    except ValueError:
        return None
    return hours * 3600.0 + minutes * 60.0 + seconds


class Header(Protocol):
    """Keyword access to a DICOM header: a pydicom Dataset or a cheaper view of one."""

    def get(self, keyword: str, default: Any = None) -> Any: ...


def safe_get(ds: Header, keyword: str) -> Any:
    """The element's value, or None when it is absent or its bytes do not parse."""
    try:
        return ds.get(keyword)
    except Exception:  # noqa: BLE001 - pydicom raises many kinds on malformed values
        return None


def numbers(value: Any, count: int) -> tuple[float, ...] | None:
    """``count`` finite floats from a multi-valued DS element, or None when it is not that."""
    if value is None:
        return None
    items: list[Any] = [value] if isinstance(value, str | bytes | int | float) else list(value)
    if len(items) == 1 and isinstance(items[0], str | bytes):
        text = items[0].decode("latin-1") if isinstance(items[0], bytes) else items[0]
        items = text.split("\\")
    if len(items) != count:
        return None
    try:
        floats = tuple(float(v) for v in items)
    except (TypeError, ValueError):
        return None
    return floats if all(math.isfinite(v) for v in floats) else None


def _strings(value: Any) -> tuple[str, ...]:
    """A multi-valued string element as a tuple (pydicom gives a bare str for one value)."""
    if value is None:
        return ()
    if isinstance(value, str | bytes):
        return (str(value),)
    return tuple(str(v) for v in value)


@dataclass(frozen=True)
class SliceInfo:
    """The header fields of one image that structure and completion need (no PHI)."""

    sop_class_uid: str
    modality: str
    image_type: tuple[str, ...]
    description: str  # series description + protocol name, lower case
    manufacturer: str
    body_part: str
    contrast: bool  # ContrastBolusAgent/Route present
    z_mm: float | None  # position along the slice normal (mm)
    slice_thickness_mm: float | None
    acquisition_number: int | None
    temporal_index: int | None
    time_s: float | None  # acquisition (else content) time, seconds of day
    number_of_frames: int
    images_in_acquisition: int | None
    number_of_temporal_positions: int | None
    number_of_slices: int | None
    number_of_time_slices: int | None
    cardiac_number_of_images: int | None


def slice_info(ds: Header) -> SliceInfo:
    """Extract :class:`SliceInfo` from a header (pixel data is never touched)."""
    z_mm: float | None = None
    position = numbers(safe_get(ds, "ImagePositionPatient"), 3)
    orientation = numbers(safe_get(ds, "ImageOrientationPatient"), 6)
    if position is not None and orientation is not None:
        row, col = orientation[:3], orientation[3:]
        normal = (row[1] * col[2] - row[2] * col[1], row[2] * col[0] - row[0] * col[2],
                  row[0] * col[1] - row[1] * col[0])
        z_mm = sum(p * n for p, n in zip(position, normal, strict=True))
    elif safe_get(ds, "SliceLocation") is not None:
        z_mm = _float(safe_get(ds, "SliceLocation"))
    temporal = _int(safe_get(ds, "TemporalPositionIndex"))
    if temporal is None:
        temporal = _int(safe_get(ds, "TemporalPositionIdentifier"))
    time_s = _seconds_of_day(safe_get(ds, "AcquisitionTime"))
    if time_s is None:
        time_s = _seconds_of_day(safe_get(ds, "ContentTime"))
    description = " ".join(str(safe_get(ds, keyword) or "")
                           for keyword in ("SeriesDescription", "ProtocolName"))
    return SliceInfo(
        sop_class_uid=str(safe_get(ds, "SOPClassUID") or ""),
        modality=str(safe_get(ds, "Modality") or "").upper(),
        image_type=tuple(v.upper() for v in _strings(safe_get(ds, "ImageType"))),
        description=description.lower().strip(),
        manufacturer=str(safe_get(ds, "Manufacturer") or ""),
        body_part=str(safe_get(ds, "BodyPartExamined") or "").upper().replace(" ", ""),
        contrast=bool(str(safe_get(ds, "ContrastBolusAgent") or "").strip()
                      or str(safe_get(ds, "ContrastBolusRoute") or "").strip()),
        z_mm=z_mm,
        slice_thickness_mm=_float(safe_get(ds, "SliceThickness")),
        acquisition_number=_int(safe_get(ds, "AcquisitionNumber")),
        temporal_index=temporal,
        time_s=time_s,
        number_of_frames=_int(safe_get(ds, "NumberOfFrames")) or 1,
        images_in_acquisition=_int(safe_get(ds, "ImagesInAcquisition")),
        number_of_temporal_positions=_int(safe_get(ds, "NumberOfTemporalPositions")),
        number_of_slices=_int(safe_get(ds, "NumberOfSlices")),
        number_of_time_slices=_int(safe_get(ds, "NumberOfTimeSlices")),
        cardiac_number_of_images=_int(safe_get(ds, "CardiacNumberOfImages")),
    )


def expected_count(first: SliceInfo, acquisition_numbers: int = 1,
                   temporal_indices: int = 1) -> int | None:
    """Images the series will hold according to its headers, or None when they don't say.

    ImagesInAcquisition × NumberOfTemporalPositions, else NumberOfSlices × NumberOfTimeSlices,
    else CardiacNumberOfImages (Orthanc's rule). ImagesInAcquisition alone counts a plain volume,
    but not a dynamic series that numbers its time points another way (Philips: one
    AcquisitionNumber per time point; GE "Perfusion 4D" without NumberOfTemporalPositions):
    there it is a per-pass count and the series completes by quiet time instead.
    ``acquisition_numbers``/``temporal_indices`` are the distinct values seen so far.
    """
    per_acquisition = first.images_in_acquisition
    if per_acquisition and per_acquisition > 0:
        if first.number_of_temporal_positions and first.number_of_temporal_positions > 0:
            return per_acquisition * first.number_of_temporal_positions
        if acquisition_numbers > 1 or temporal_indices > 1 \
                or PERFUSION_HINT.search(first.description):
            return None
        return per_acquisition
    if first.number_of_slices and first.number_of_time_slices:
        return first.number_of_slices * first.number_of_time_slices
    if first.cardiac_number_of_images and first.cardiac_number_of_images > 0:
        return first.cardiac_number_of_images
    return None


def _position_keys(slices: Iterable[SliceInfo]) -> Counter[float]:
    return Counter(round(s.z_mm / POSITION_TOLERANCE_MM) * POSITION_TOLERANCE_MM
                   for s in slices if s.z_mm is not None)


def _slice_thickness(slices: Sequence[SliceInfo], positions: Sequence[float]) -> float | None:
    thicknesses = [s.slice_thickness_mm for s in slices if s.slice_thickness_mm]
    if thicknesses:
        return median(thicknesses)
    ordered = sorted(positions)
    gaps = [b - a for a, b in zip(ordered, ordered[1:], strict=False) if b > a]
    return median(gaps) if gaps else None


def classify_slices(slices: Sequence[SliceInfo]) -> str:
    """``ctp``, ``cta``, ``ncct`` or ``other`` for one series."""
    if not slices:
        return "other"
    first = slices[0]
    if first.sop_class_uid not in CT_SOP_CLASSES or (first.modality and first.modality != "CT"):
        return "other"
    if any("LOCALIZER" in s.image_type or "SCOUT" in s.image_type for s in slices[:3]):
        return "other"
    text = first.description
    contrast = any(s.contrast for s in slices) or bool(CTA_HINT.search(text))
    if UNENHANCED_HINT.search(text) and not any(s.contrast for s in slices):
        contrast = False
    # An explicit BodyPartExamined decides; without one, assume the stroke scanner's head
    # unless nothing in the description says so and something else is named there.
    head = first.body_part in HEAD_BODY_PARTS if first.body_part else (
        bool(HEAD_HINT.search(text)) or not BODY_HINT.search(text))
    if not head:
        return "other"

    if first.number_of_frames > 1:  # enhanced multi-frame: per-frame geometry not indexed
        if PERFUSION_HINT.search(text):
            return "ctp"
        return "cta" if contrast and CTA_HINT.search(text) else "other"

    positions = _position_keys(slices)
    if not positions:
        return "other"
    repeats = len(slices) / len(positions)
    time_points = max(len({s.temporal_index for s in slices if s.temporal_index is not None}),
                      len({s.acquisition_number for s in slices
                           if s.acquisition_number is not None}),
                      len({s.time_s for s in slices if s.time_s is not None}) // len(positions))
    if repeats >= CTP_MIN_REPEATS:
        return "ctp"
    if repeats >= 2 and (time_points >= 2 and PERFUSION_HINT.search(text)):
        return "ctp"
    if len(positions) < MIN_VOLUME_IMAGES:
        return "other"
    thickness = _slice_thickness(slices, list(positions))
    if contrast:
        return "cta" if thickness is not None and thickness <= CTA_MAX_SLICE_MM else "other"
    return "ncct"


def classify_series(headers: Sequence[Dataset]) -> str:
    """Classify one series from its headers (pydicom datasets, pixel data not needed)."""
    return classify_slices([slice_info(h) for h in headers])

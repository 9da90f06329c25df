"""Input fingerprints: what one analysed series looked like (scanner, kernel, slice thickness,
noise, contrast, head coverage, the model's out-of-distribution score) and what the model said.

Computed after the alert is out, from the stored series: every header is read without pixels,
and at most :data:`SAMPLED_SLICES` slices with them. Age is kept as a band and sex as the
DICOM code; no identifier but the case id and the series UID.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from scipy import ndimage
from sqlalchemy import select
from sqlalchemy.orm import Session

from strokealert.db.models.monitoring import Fingerprint

SAMPLED_SLICES = 16
BONE_HU = 700.0  # at and above: bone; its neighbourhood is left out of the contrast measure
TISSUE_HU = (0.0, 60.0)  # brain and blood, unenhanced
AGE_BANDS = ((50, "<50"), (65, "50-64"), (80, "65-79"))
OLDEST_BAND = "≥80"
SLICE_BANDS = ((1.0, "≤1 mm"), (2.0, "1-2 mm"), (3.0, "2-3 mm"))
THICKEST_BAND = ">3 mm"


@dataclass(frozen=True)
class InputValues:
    """The fingerprint of one input series (``None``: not known for it)."""

    manufacturer: str | None = None
    scanner_model: str | None = None
    kernel: str | None = None
    slice_thickness_mm: float | None = None
    noise_hu: float | None = None
    contrast_hu: float | None = None
    coverage_mm: float | None = None
    age_band: str | None = None
    sex: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Call:
    """What the model said about the series: its version, call, probability, abstention and
    out-of-distribution score."""

    model: str
    positive: bool | None
    score: float | None
    manual_review: bool
    ood_score: float | None


def age_band(years: int | None) -> str | None:
    """``<50``, ``50-64``, ``65-79`` or ``≥80`` (years), None when unknown."""
    if years is None or years < 0:
        return None
    return next((label for limit, label in AGE_BANDS if years < limit), OLDEST_BAND)


def slice_band(thickness_mm: float | None) -> str:
    """The slice-thickness subgroup of a fingerprint (mm)."""
    if thickness_mm is None:
        return "unknown"
    return next((label for limit, label in SLICE_BANDS if thickness_mm <= limit), THICKEST_BAND)


def noise_hu(slices_hu: np.ndarray) -> float | None:
    """Noise standard deviation (HU) in homogeneous soft tissue: the residual of each voxel
    from its in-plane 3x3 mean, where no 3x3 mean within two pixels leaves 0-60 HU (no edge,
    bone, air or vessel near), scaled for white noise (residual variance 8/9 of sigma²).
    A smoother reconstruction kernel's correlated noise reads lower: the texture counts."""
    planes = slices_hu.astype(np.float32)
    local = ndimage.uniform_filter(planes, size=(1, 3, 3))
    outside = (local <= TISSUE_HU[0]) | (local >= TISSUE_HU[1])
    near_edge = ndimage.binary_dilation(outside, structure=np.ones((1, 5, 5), bool))
    residual = (planes - local)[~near_edge]
    if residual.size < 500:
        return None
    mad = float(np.median(np.abs(residual - np.median(residual))))
    return round(1.4826 * mad / math.sqrt(8.0 / 9.0), 2)


def contrast_hu(slices_hu: np.ndarray) -> float | None:
    """Arterial enhancement (HU above unenhanced tissue), the contrast-timing proxy: the 99.5th
    percentile of the voxels between 60 and 700 HU that lie more than two pixels from bone,
    minus the median of the 0-60 HU voxels. Near zero without contrast or with a late bolus."""
    bone = ndimage.binary_dilation(slices_hu >= BONE_HU, structure=np.ones((1, 5, 5), bool))
    bright = slices_hu[(slices_hu > TISSUE_HU[1]) & (slices_hu < BONE_HU) & ~bone]
    tissue = slices_hu[(slices_hu > TISSUE_HU[0]) & (slices_hu < TISSUE_HU[1])]
    if tissue.size < 500:
        return None
    top = float(np.percentile(bright, 99.5)) if bright.size >= 50 else TISSUE_HU[1]
    return round(top - float(np.median(tissue)), 1)


def image_measures(slices_hu: np.ndarray) -> tuple[float | None, float | None]:
    """(noise, contrast) in HU of a stack of axial slices (z, y, x)."""
    return noise_hu(slices_hu), contrast_hu(slices_hu)


def sampled_indices(count: int) -> np.ndarray:
    """Indices of the (at most :data:`SAMPLED_SLICES`) evenly spaced slices of ``count`` whose
    pixels the image measures read."""
    return np.unique(np.linspace(0, count - 1, min(SAMPLED_SLICES, count)).round().astype(int))


def _text(ds: Dataset, keyword: str) -> str | None:
    value = ds.get(keyword)
    if value is None or value == "":
        return None
    if isinstance(value, pydicom.multival.MultiValue):
        value = "\\".join(str(v) for v in value)
    return str(value).strip()[:64] or None


def _float(ds: Dataset, keyword: str) -> float | None:
    try:
        value = ds.get(keyword)
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def header_age(ds: Dataset, known_years: int | None = None) -> int | None:
    """Age in years: ``known_years`` (the case's registry field), else PatientAge (``065Y``),
    else PatientBirthDate against StudyDate."""
    if known_years is not None:
        return known_years
    age = str(ds.get("PatientAge") or "")
    if len(age) == 4 and age[:3].isdigit():
        return int(age[:3]) if age[3] == "Y" else 0
    born, seen = str(ds.get("PatientBirthDate") or ""), str(ds.get("StudyDate") or "")
    try:
        b, s = date(int(born[:4]), int(born[4:6]), int(born[6:8])), \
            date(int(seen[:4]), int(seen[4:6]), int(seen[6:8]))
    except ValueError:
        return None
    return s.year - b.year - ((s.month, s.day) < (b.month, b.day))


def _z(ds: Dataset) -> float:
    position = ds.get("ImagePositionPatient")
    return float(position[2]) if position is not None and len(position) == 3 else 0.0


def from_series(paths: Sequence[Path], age_years: int | None = None) -> InputValues:
    """The fingerprint of one stored series: headers of every file, pixels of at most
    :data:`SAMPLED_SLICES` evenly spaced slices (HU through the rescale)."""
    headers = sorted(((pydicom.dcmread(p, stop_before_pixels=True), p) for p in paths),
                     key=lambda item: _z(item[0]))
    if not headers:
        return InputValues()
    first = headers[0][0]
    zs = [_z(ds) for ds, _ in headers]
    planes = []
    for index in sampled_indices(len(headers)):
        ds = pydicom.dcmread(headers[int(index)][1])
        pixels = ds.pixel_array.astype(np.float32)
        planes.append(pixels * float(ds.get("RescaleSlope", 1) or 1)
                      + float(ds.get("RescaleIntercept", 0) or 0))
    shapes = {p.shape for p in planes}
    noise, contrast = image_measures(np.stack(planes)) if len(shapes) == 1 else (None, None)
    sex = (_text(first, "PatientSex") or "")[:1].upper() or None
    return InputValues(
        manufacturer=_text(first, "Manufacturer"),
        scanner_model=_text(first, "ManufacturerModelName"),
        kernel=_text(first, "ConvolutionKernel"),
        slice_thickness_mm=_float(first, "SliceThickness"),
        noise_hu=noise, contrast_hu=contrast,
        coverage_mm=round(max(zs) - min(zs) + (_float(first, "SliceThickness") or 0.0), 1),
        age_band=age_band(header_age(first, age_years)),
        sex=sex if sex in ("F", "M", "O") else None)


def call_of(analysis: str, block: dict[str, Any]) -> Call:
    """The model's call in an analysis block (``lvo``, ``ncct`` or ``perfusion``)."""
    manual = bool(block.get("manual_review")) or block.get("status") != "ok" \
        or bool(block.get("incomplete"))
    ood = block.get("ood_score")
    if analysis == "lvo":
        model = str(block.get("model") or "lvo")
        positive, score = block.get("suspected"), block.get("probability")
    elif analysis == "ncct":
        ich = block.get("ich") or {}
        model = str(block.get("model") or ich.get("model") or "ncct")
        positive, score = ich.get("suspected"), ich.get("probability")
    else:
        model = str(block.get("model") or analysis)
        positive, score = None, None
    return Call(model=model[:128], positive=None if positive is None else bool(positive),
                score=None if score is None else float(score), manual_review=manual,
                ood_score=None if ood is None else float(ood))


def record(session: Session, *, case_id: str, analysis: str, series_uid: str,
           values: InputValues, call: Call, analysed_at: datetime,
           computed_at: datetime) -> Fingerprint:
    """Store (or replace) the fingerprint of ``series_uid``'s ``analysis``; flushes."""
    row = session.scalar(select(Fingerprint).where(Fingerprint.series_uid == series_uid,
                                                   Fingerprint.analysis == analysis))
    if row is None:
        row = Fingerprint(series_uid=series_uid, analysis=analysis)
        session.add(row)
    row.case_id, row.analysed_at, row.computed_at = case_id, analysed_at, computed_at
    row.model, row.positive, row.score = call.model, call.positive, call.score
    row.manual_review, row.ood_score = call.manual_review, call.ood_score
    for name, value in values.as_dict().items():
        setattr(row, name, value)
    session.flush()
    return row

"""One axial CT series as a volume: pick the largest series under some paths, read its images
into a (z, y, x) HU array on the LPS grid, z rising towards the vertex.

Shared by the analyses that read a whole series at once (LVO on the CTA, NCCT triage); images
whose geometry cannot be placed are left out (see :mod:`strokealert.dicom.geometry`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from strokealert.dicom.geometry import screen_series
from strokealert.errors import InputError

log = logging.getLogger(__name__)

MIN_SLICES = 8


def largest_series(paths: Sequence[Path], what: str = "CT") -> list[Path]:
    """The files of the largest DICOM series found under ``paths`` (files or folders);
    ``what`` names the series in the error message."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    from strokealert.dicom.sender import dicom_files

    series: dict[str, list[Path]] = {}
    for file in dicom_files(paths):
        try:
            header = pydicom.dcmread(file, stop_before_pixels=True,
                                     specific_tags=["SeriesInstanceUID"])
            series.setdefault(str(header.SeriesInstanceUID), []).append(file)
        except (InvalidDicomError, AttributeError, OSError, ValueError, EOFError):
            continue
    if not series:
        raise InputError(f"no DICOM images found for the {what}")
    return max(series.values(), key=len)


def read_volume(paths: Sequence[Path], what: str = "CT"
                ) -> tuple[np.ndarray, tuple[float, float, float]]:
    """A (z, y, x) float32 HU volume and its (z, y, x) spacing in mm from the files of one axial
    series: columns along patient left (+x), rows along posterior (+y), slices towards the
    vertex. ``what`` names the series in error messages."""
    import pydicom

    datasets = []
    for path in paths:
        try:
            datasets.append(pydicom.dcmread(path))
        except Exception as exc:  # unreadable or non-image file
            raise InputError(f"unreadable {what} image {path.name}: {exc}") from exc
    screening = screen_series(datasets, lambda i: hashlib.sha256(
        datasets[i].PixelData).hexdigest() if "PixelData" in datasets[i] else None)
    if screening.excluded:
        log.warning("%s: %d image(s) left out for their geometry: %s", what,
                    sum(screening.excluded.values()), dict(screening.excluded))
    slices = []
    for index in screening.kept:
        ds = datasets[index]
        slices.append((ds, [float(v) for v in ds.ImagePositionPatient],
                       [float(v) for v in ds.ImageOrientationPatient]))
    if len(slices) < MIN_SLICES:
        raise InputError(f"{what} series has only {len(slices)} images")
    row, col = np.array(slices[0][2][:3]), np.array(slices[0][2][3:])
    normal = np.cross(row, col)
    slices.sort(key=lambda item: float(np.dot(item[1], normal)))
    zpos = np.array([float(np.dot(item[1], normal)) for item in slices])
    gaps = np.diff(zpos)
    if np.any(gaps <= 1e-3):
        raise InputError(f"{what} series has duplicate slice positions")
    first = slices[0][0]
    volume = np.empty((len(slices), int(first.Rows), int(first.Columns)), dtype=np.float32)
    for i, (ds, _, _) in enumerate(slices):
        slope = float(getattr(ds, "RescaleSlope", 1.0))
        intercept = float(getattr(ds, "RescaleIntercept", 0.0))
        volume[i] = ds.pixel_array.astype(np.float32) * slope + intercept
    pixel = [float(v) for v in first.PixelSpacing]
    # Orient to the LPS grid: columns along +x, rows along +y.
    if row[0] < 0:
        volume = volume[:, :, ::-1]
    if col[1] < 0:
        volume = volume[:, ::-1, :]
    return np.ascontiguousarray(volume), (float(np.median(gaps)), pixel[0], pixel[1])

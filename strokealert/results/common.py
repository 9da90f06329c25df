"""What every result object shares: the device identity, series numbers and source geometry."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import UID, generate_uid

from strokealert import __version__

MANUFACTURER = "strokealert"
MODEL_NAME = "strokealert"
SOFTWARE_VERSION = __version__
DEVICE_SERIAL = "0"
NOT_FOR_DIAGNOSTIC_USE = "NOT FOR DIAGNOSTIC USE"

# Series numbers of the result series, high so they sort after the scanner's series in PACS.
SERIES_NUMBER_SC_PERFUSION = 9901
SERIES_NUMBER_SC_LVO = 9902
SERIES_NUMBER_SC_NCCT = 9903
SERIES_NUMBER_SEG = 9910
SERIES_NUMBER_SEG_NCCT = 9911
SERIES_NUMBER_SR = 9920


def new_uid() -> UID:
    """A fresh UID for a result object or series."""
    return generate_uid()


def _slice_normal(ds: Dataset) -> np.ndarray:
    orientation = np.array([float(v) for v in ds.ImageOrientationPatient])
    return np.cross(orientation[:3], orientation[3:])


def _acquisition_key(ds: Dataset) -> tuple[str, str, int]:
    return (str(ds.get("AcquisitionDateTime", "") or ""),
            f"{ds.get('AcquisitionDate', '')}{ds.get('AcquisitionTime', '')}",
            int(ds.get("InstanceNumber", 0) or 0))


def first_time_frame(datasets: Sequence[Dataset]) -> list[Dataset]:
    """One image per table position, the earliest acquired, ordered by rising position.

    Position is ImagePositionPatient along the slice normal (mm, rounded to 0.01 mm) — the
    same z order as :func:`perfusion.io.assemble`, so mask index z is ``result[z]``. A
    single-phase series (CTA) comes back sorted the same way.
    """
    if not datasets:
        raise ValueError("no source images given")
    normal = _slice_normal(datasets[0])
    by_position: dict[float, Dataset] = {}
    for ds in datasets:
        position = round(float(np.dot(normal, [float(v) for v in ds.ImagePositionPatient])), 2)
        kept = by_position.get(position)
        if kept is None or _acquisition_key(ds) < _acquisition_key(kept):
            by_position[position] = ds
    return [by_position[p] for p in sorted(by_position)]

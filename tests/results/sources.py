"""Small synthetic source series (in memory) and analysis blocks for the results tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from strokealert.phantoms import series as synthetic

CTP_SHAPE = (4, 64, 64)  # slices, rows, columns
CTP_FRAMES = 3
CTA_SLICES = 8


@dataclass
class StudySources:
    study: synthetic.StudyInfo
    ctp: list[Dataset]  # every frame, time-major
    cta: list[Dataset]
    core: np.ndarray  # (z, y, x) bool on the CTP grid
    hypoperfusion: np.ndarray
    perfusion: dict[str, Any]
    lvo: dict[str, Any]
    key_images: dict[str, np.ndarray]


def make_sources() -> StudySources:
    """CTP 3 frames x 4 slices of 64x64 (5 mm), CTA 8 slices, masks and blocks that fit."""
    study = synthetic.StudyInfo()
    ctp_series = synthetic.SeriesInfo(series_number=4, description="CTP 4D", contrast=True)
    cta_series = synthetic.SeriesInfo(series_number=3, description="CTA Head", contrast=True)
    slices, rows, columns = CTP_SHAPE
    image = np.full((rows, columns), 30.0)
    ctp = [
        synthetic.ct_slice(
            image, study=study, series=ctp_series, instance_number=t * slices + z + 1,
            position_mm=(-32.0, -32.0, 10.0 + 5.0 * z), pixel_spacing_mm=(1.0, 1.0),
            slice_thickness_mm=5.0,
            acquisition_datetime=study.study_datetime + timedelta(seconds=60 + 2 * t))
        for t in reversed(range(CTP_FRAMES)) for z in range(slices)  # latest frame first
    ]
    cta = [
        synthetic.ct_slice(
            image, study=study, series=cta_series, instance_number=z + 1,
            position_mm=(-32.0, -32.0, 0.0 + 2.0 * z), pixel_spacing_mm=(1.0, 1.0),
            slice_thickness_mm=2.0, acquisition_datetime=study.study_datetime)
        for z in range(CTA_SLICES)
    ]
    core = np.zeros(CTP_SHAPE, dtype=bool)
    core[1:3, 20:30, 40:50] = True
    hypoperfusion = np.zeros(CTP_SHAPE, dtype=bool)
    hypoperfusion[0:4, 15:40, 35:60] = True
    perfusion = {"status": "ok", "error": None, "core_ml": 21.4,
                 "hypoperfusion_ml": {"tmax4": 130.0, "tmax6": 102.0, "tmax8": 60.0,
                                      "tmax10": 35.7},
                 "mismatch_ml": 80.6, "mismatch_ratio": 4.77, "hir": 0.35, "side": "left",
                 "defuse3_eligible": True}
    lvo = {"status": "ok", "error": None, "probability": 0.97, "suspected": True,
           "threshold": 0.5, "side": "left", "site": "M1", "model": "deepsym@1.2.0"}
    summary = np.zeros((120, 200, 3), dtype=np.uint8)
    summary[10:50, 10:50] = (255, 0, 0)
    mip = np.zeros((80, 80, 3), dtype=np.uint8)
    mip[30:50, 30:50] = (200, 200, 200)
    return StudySources(study, ctp, cta, core, hypoperfusion, perfusion, lvo,
                        {"perfusion_summary.png": summary, "lvo_mip.png": mip})

"""What an analysis returns: ``VolumeAnalysis`` (arrays of one 4-D series) and
``PerfusionResult`` (the outcome of ``analyze_files``: the JSON block, file names, pictures)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from perfusion.aif import InputFunctions
from perfusion.lesions import Lesions
from perfusion.maps import Calibration
from perfusion.motion import MotionReport


@dataclass
class VolumeAnalysis:
    """Everything computed from one 4-D series, on the working grid (z, y, x)."""

    maps: dict[str, np.ndarray]
    tissue: np.ndarray
    lesions: Lesions
    inputs: InputFunctions
    times: np.ndarray
    spacing: tuple[float, float, float]
    affine: np.ndarray
    baseline: np.ndarray
    motion: MotionReport | None
    noise_hu: float
    calibration: Calibration | None
    timings_s: dict[str, float] = field(default_factory=dict)
    # Weights (maps.SHAPES, z, y, x) of the residue shapes fitted around each voxel
    # ("fitted" calibration, perfusion.fit).
    residue_shapes: np.ndarray | None = None

    @property
    def voxel_ml(self) -> float:
        return float(np.prod(self.spacing)) / 1000.0


@dataclass
class PerfusionResult:
    """Outcome of ``analyze_files``: the JSON block plus arrays for DICOM SEG / SC builders.

    ``maps`` / ``core_mask`` / ``hypoperfusion_mask`` are (z, y, x) on the working grid whose
    voxel (x, y, z) -> LPS mm affine is ``affine``; ``source_sop_instance_uids`` lists the
    images used. ``key_images`` are the PNG file names written, ``key_image_pixels`` the same
    pictures as (rows, columns, 3) uint8 RGB arrays keyed by those names.
    """

    status: str
    error: str | None = None
    analysis: VolumeAnalysis | None = None
    map_files: dict[str, str] = field(default_factory=dict)
    key_images: list[str] = field(default_factory=list)
    key_image_pixels: dict[str, np.ndarray] = field(default_factory=dict)
    study_instance_uid: str = ""
    series_instance_uid: str = ""
    frame_of_reference_uid: str = ""
    source_sop_instance_uids: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)
    # Weights (maps.SHAPES, z, y, x) of the residue shapes fitted around each voxel
    # ("fitted" calibration, perfusion.fit).
    residue_shapes: np.ndarray | None = None

    @property
    def maps(self) -> dict[str, np.ndarray]:
        return self.analysis.maps if self.analysis else {}

    @property
    def core_mask(self) -> np.ndarray | None:
        return self.analysis.lesions.core if self.analysis else None

    @property
    def hypoperfusion_mask(self) -> np.ndarray | None:
        return self.analysis.lesions.hypoperfusion if self.analysis else None

    @property
    def affine(self) -> np.ndarray | None:
        return self.analysis.affine if self.analysis else None

    @property
    def spacing(self) -> tuple[float, float, float] | None:
        return self.analysis.spacing if self.analysis else None

    def to_json(self) -> dict[str, Any]:
        """The ``perfusion`` block of ``strokealert.analysis/1``."""
        if self.status != "ok" or self.analysis is None:
            return {"status": self.status, "error": self.error}
        found = self.analysis.lesions
        ratio = found.mismatch_ratio
        return {
            "status": "ok", "error": None,
            "core_ml": round(found.core_ml, 1),
            "hypoperfusion_ml": {k: round(v, 1) for k, v in found.hypoperfusion_ml.items()},
            "mismatch_ml": round(found.mismatch_ml, 1),
            "mismatch_ratio": round(ratio, 2) if ratio is not None else None,
            "hir": round(found.hir, 2) if found.hir is not None else None,
            "side": found.side,
            "defuse3_eligible": found.defuse3_eligible,
            "maps": dict(self.map_files),
            "key_images": list(self.key_images),
            "curves": self.curves(),
            "input_functions": self.analysis.inputs.to_json(),
        }

    def curves(self) -> dict[str, list[float]]:
        """AIF and VOF (HU over baseline) against frame time (s), for the case viewer."""
        assert self.analysis is not None
        inputs = self.analysis.inputs
        curves = {"t_s": [round(float(t), 2) for t in self.analysis.times],
                  "aif": [round(float(v), 1) for v in inputs.aif]}
        if inputs.vof is not None:
            curves["vof"] = [round(float(v), 1) for v in inputs.vof]
        return curves

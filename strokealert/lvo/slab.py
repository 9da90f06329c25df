"""The CTA slab the phone's stack viewer scrolls: native axial thin-slab MIPs around the level
of the suspected segment (the circle of Willis when none), saved in HU without any header."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from strokealert.contracts.outputs import CTA_SLAB_FILE

SLAB_SLICES = 32  # slices kept
SLAB_STEP_MM = 2.0  # distance between slice centres (mm; the native spacing when coarser)
SLAB_THICKNESS_MM = 5.0  # each slice is the MIP of the native slices within this slab (mm)


@dataclass(frozen=True)
class Slab:
    """Axial thin-slab MIPs (slice, row, column) in HU and their geometry (mm)."""

    hu: np.ndarray  # int16
    spacing_mm: tuple[float, float, float]  # (slice step, row, column)
    thickness_mm: float

    def save(self, out_dir: Path) -> Path:
        """Write ``cta_slab.npz`` to ``out_dir`` (arrays only: no pickles, no DICOM header).

        Uncompressed: 17 MB at 512 × 512 written in about 10 ms, where deflating took about
        3 s on the alert's path."""
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / CTA_SLAB_FILE
        np.savez(path, hu=self.hu, spacing_mm=np.array(self.spacing_mm),
                            thickness_mm=np.array(self.thickness_mm))
        return path


def thin_slab_mips(volume_hu: np.ndarray, spacing_mm: Sequence[float], rotation: np.ndarray,
                   centre_mm: np.ndarray, height_mm: float) -> Slab:
    """:data:`SLAB_SLICES` native axial MIPs of :data:`SLAB_THICKNESS_MM` centred on the point
    ``height_mm`` along the head axis from the intracranial centroid ``centre_mm`` (scanner
    voxel-mm, x y z); ``volume_hu`` is (z, y, x) with z rising to the head."""
    dz, dy, dx = (float(s) for s in spacing_mm)
    point = rotation @ np.array([0.0, 0.0, height_mm]) + centre_mm
    step = max(SLAB_STEP_MM, dz)
    half = SLAB_THICKNESS_MM / 2 / dz
    slices = []
    for k in range(SLAB_SLICES):
        at = (point[2] + (k - SLAB_SLICES / 2 + 0.5) * step) / dz  # native slice index
        if not -0.5 <= at <= volume_hu.shape[0] - 0.5:
            continue
        low, high = math.ceil(at - half), math.floor(at + half)
        if low > high:
            low = high = round(at)
        low, high = max(low, 0), min(high, volume_hu.shape[0] - 1)
        slices.append(volume_hu[low:high + 1].max(axis=0))
    if not slices:  # the level lies outside the scan: its nearest native slice
        slices.append(volume_hu[int(np.clip(round(point[2] / dz), 0, volume_hu.shape[0] - 1))])
    hu = np.clip(np.rint(np.stack(slices)), -1024, 3071).astype(np.int16)
    return Slab(hu, (step, dy, dx), SLAB_THICKNESS_MM)

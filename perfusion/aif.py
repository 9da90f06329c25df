"""Arterial input and venous output functions, found automatically or given by hand.

Candidates are the strongest-enhancing voxels inside the head (bone excluded). The VOF is the
largest-area, late-peaking group (superior sagittal sinus); the AIF the earliest-peaking, tall
and narrow group. Partial volume shrinks a small artery's curve but not the sinus's, and both
carry the same amount of indicator, so the AIF is scaled up to the VOF's area.

Voxels are chosen on their neighbours' curves and measured on their own, a quarter from each
lattice of every other row and column (``_by_lattice``), so that no voxel's own noise helps or
hinders its choice. Chosen so that no two were neighbours, as before 6 Dec, a voxel that noise
had lifted was kept out by the neighbours it lifted: the AIF came out lower by about its
baseline noise at every frame (reference phantom, 2-s sampling: 5 % of its area at 10 HU, 10 %
at 20 HU). The partial-volume scale restores the area but not the shape: the tail, a tenth of
the peak, lost a tenth at 10 HU and a fifth at 20 HU, and the residue shape fitted to the
study was misjudged with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from perfusion.config import PerfusionConfig
from perfusion.errors import PerfusionError
from perfusion.maps import integral

MIN_VESSEL_HU = 40.0


@dataclass
class InputFunctions:
    """AIF and VOF curves (HU over baseline, on the frame grid) and where they were taken."""

    aif: np.ndarray
    vof: np.ndarray | None
    aif_voxels: list[tuple[int, int, int]] = field(default_factory=list)
    vof_voxels: list[tuple[int, int, int]] = field(default_factory=list)
    partial_volume_scale: float = 1.0
    manual: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"aif_voxels": [list(v) for v in self.aif_voxels],
                "vof_voxels": [list(v) for v in self.vof_voxels],
                "partial_volume_scale": round(self.partial_volume_scale, 3),
                "manual": self.manual}


def _smooth_time(curves: np.ndarray) -> np.ndarray:
    padded = np.concatenate([curves[:1], curves, curves[-1:]])
    return 0.25 * padded[:-2] + 0.5 * padded[1:-1] + 0.25 * padded[2:]


def _mean_curve(enhancement: np.ndarray, voxels: list[tuple[int, int, int]]) -> np.ndarray:
    z, y, x = (np.array(a) for a in zip(*voxels, strict=True))
    mean: np.ndarray = enhancement[:, z, y, x].mean(axis=1)
    return mean


def _neighbourhood_curves(enhancement: np.ndarray, coords: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Own and 8-neighbour-mean curves (T, voxels) at in-plane voxel ``coords``."""
    _, _, ny, nx = enhancement.shape
    z, y, x = coords.T
    own = enhancement[:, z, y, x]
    total = np.zeros_like(own)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                total += enhancement[:, z, np.clip(y + dy, 0, ny - 1),
                                     np.clip(x + dx, 0, nx - 1)]
    return own, total / 8.0


def _voxel(coords: np.ndarray) -> tuple[int, int, int]:
    """A (z, y, x) index row as plain ints."""
    return int(coords[0]), int(coords[1]), int(coords[2])


def _by_lattice(ranked_coords: np.ndarray, count: int) -> np.ndarray:
    """Positions (into ``ranked_coords``, best first) of the best ``count`` / 4 voxels (at
    least one) of each of the four in-plane lattices of every other row and column.

    A voxel is chosen on its neighbours' curves and measured on its own. No voxel's neighbour
    lies on its own lattice, so within a lattice a voxel's own noise plays no part in which
    of them are chosen, and each lattice's choice measures its voxels without bias. Choosing
    the best voxels of all lattices together would not: a voxel that enhanced more by noise
    lifts its neighbours' scores, and (were neighbours excluded) keeps itself out.
    """
    per_lattice = max(1, -(-count // 4))
    lattice = (ranked_coords[:, 1] % 2) * 2 + ranked_coords[:, 2] % 2
    chosen = [np.flatnonzero(lattice == k)[:per_lattice] for k in range(4)]
    return np.sort(np.concatenate(chosen))


def find_input_functions(enhancement: np.ndarray, baseline: np.ndarray, head: np.ndarray,
                         peak_enhancement: np.ndarray, dt: float, noise_hu: float,
                         config: PerfusionConfig) -> InputFunctions:
    """AIF and VOF from baseline-subtracted frames (t, z, y, x); see module doc.

    ``peak_enhancement`` (z, y, x, HU) limits the search to voxels near enhancing vessels.
    """
    n_t = enhancement.shape[0]
    if config.aif_voxels:
        aif = _mean_curve(enhancement, config.aif_voxels)
        vof_voxels = list(config.vof_voxels or [])
        vof = _mean_curve(enhancement, vof_voxels) if vof_voxels else None
        result = InputFunctions(aif, vof, list(config.aif_voxels), vof_voxels, manual=True)
        return _scale(result, dt, config)

    near_vessel = ndimage.binary_dilation(peak_enhancement > MIN_VESSEL_HU,
                                          structure=np.ones((1, 3, 3)))
    # Not next to bone: after motion, misregistered bone edges look like huge enhancement.
    near_bone = ndimage.binary_dilation(baseline > 300.0, structure=np.ones((1, 3, 3)))
    coords = np.argwhere(head & (baseline > -50) & (baseline < 150) & near_vessel & ~near_bone)
    if coords.shape[0] < 3:
        raise PerfusionError("no arterial input function found: no vessel enhances "
                             "(contrast bolus missing, extravasated or mistimed)")
    # Voxels are chosen on their 8 neighbours' mean curve and then measured on their own:
    # choosing on the same noisy values that are averaged would favour noise.
    own, ring = _neighbourhood_curves(enhancement, coords)
    ring_curves = _smooth_time(ring)
    peak = ring_curves.max(axis=0)
    # A vessel's bolus washes out: the last fifth of the acquisition stays under half the
    # peak (a step that stays up is motion or a misregistered edge, not a bolus).
    tail = ring_curves[-max(2, ring_curves.shape[0] // 5):].mean(axis=0)
    # Five times the noise of a neighbourhood's mean (8 voxels), not of one voxel: thin
    # arteries, whose neighbours are mostly tissue, were held out at 20 HU and the sinus alone
    # was left to be taken for the AIF.
    strong = (peak > max(MIN_VESSEL_HU, 5.0 * noise_hu / np.sqrt(8.0))) & (tail < 0.5 * peak)
    if strong.sum() < 3:
        raise PerfusionError("no arterial input function found: no vessel enhances "
                             "(contrast bolus missing, extravasated or mistimed)")
    # AIF: among the earliest-peaking vessels, the tallest and narrowest, judged on the
    # neighbours (the voxel itself must only enhance like a vessel).
    strong_idx = np.flatnonzero(strong)
    s_curves = ring_curves[:, strong_idx]
    s_ttp = np.argmax(s_curves, axis=0)
    s_peak = s_curves.max(axis=0)
    itself = _smooth_time(own[:, strong_idx]).max(axis=0) >= 0.5 * s_peak
    if not itself.any():
        raise PerfusionError("no arterial input function found: no early-enhancing artery")
    early = itself & (s_ttp <= np.percentile(s_ttp[itself], 20))
    tall = s_peak >= np.percentile(s_peak[early], 50)
    width = (s_curves >= 0.5 * s_peak).sum(axis=0) * dt
    score = np.where(early & tall, s_peak / np.maximum(width, dt), -np.inf)
    ranked = np.argsort(score)[::-1][: int((early & tall).sum())]
    aif_idx = strong_idx[ranked][_by_lattice(coords[strong_idx[ranked]], config.aif_voxel_count)]
    if aif_idx.size == 0:
        raise PerfusionError("no arterial input function found: no early-enhancing artery")
    aif = own[:, aif_idx].mean(axis=1)
    # VOF: among all enhancing vessels peaking at least two frames after the AIF, the largest
    # areas (sinus curves are lower but broader than arterial ones).
    s_area = integral(ring_curves[:, strong_idx].T, dt)
    late = s_ttp >= int(np.argmax(aif)) + 2
    if late.any():
        # Keep the smoother half: voxels at a moving edge jump from frame to frame (judged on
        # the neighbours, like the rest of the choice).
        late_curves = s_curves[:, late]
        rough = (np.abs(np.diff(late_curves, n=2, axis=0)).sum(axis=0)
                 / np.maximum(late_curves.max(axis=0), 1e-6))
        smooth = np.zeros_like(late)
        smooth[np.flatnonzero(late)[rough <= np.median(rough)]] = True
        late &= smooth
    late_ranked = strong_idx[late][np.argsort(s_area[late])[::-1]]
    vof_idx = late_ranked[_by_lattice(coords[late_ranked], config.aif_voxel_count)]
    aif_voxels = [_voxel(coords[i]) for i in aif_idx]
    vof_voxels = [_voxel(coords[i]) for i in vof_idx]
    # Median: robust to a voxel at a moving edge.
    vof = np.median(own[:, vof_idx], axis=1) if vof_idx.size else None
    aif_peak_frame = int(np.argmax(aif))
    if aif_peak_frame >= n_t - 2:
        raise PerfusionError("no arterial input function found: the bolus peak is not within "
                             "the acquisition (scan started too late or ended too early)")
    if aif.max() < 5.0 * noise_hu / np.sqrt(len(aif_voxels)) or aif.max() < MIN_VESSEL_HU:
        raise PerfusionError("no arterial input function found: arterial enhancement too weak")
    return _scale(InputFunctions(aif, vof, aif_voxels, vof_voxels), dt, config)


def _scale(result: InputFunctions, dt: float, config: PerfusionConfig) -> InputFunctions:
    """Partial-volume correction: scale the AIF up to the VOF's area (never down, at most 3x)."""
    if config.partial_volume_correction and result.vof is not None:
        ratio = float(integral(result.vof, dt) / max(float(integral(result.aif, dt)), 1e-6))
        result.partial_volume_scale = float(np.clip(ratio, 1.0, 3.0))
        result.aif = result.aif * result.partial_volume_scale
    return result

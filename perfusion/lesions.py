"""Core, hypoperfusion, mismatch and eligibility from the maps (volumes in mL).

Core: rCBF below ``core_rcbf`` of normal tissue, where normal tissue is the mean CBF (2-98th
percentile, so that stray vessels do not count) of the
voxels with Tmax < 4 s in the hemisphere without the hypoperfusion (both when none), and — by
default, as most packages do — only inside the Tmax > 6 s region so that CSF partial volume
and noise outside the hypoperfusion do not count. Near the threshold, noise scatters holes
through a core and frays its edge (a core voxel's CBF spreads by about half the threshold at
10 HU), so the core is closed in-plane with a disk of ``core_closing_mm`` and its holes are
filled: gaps and dents narrower than the disk join it, a convex core gains nothing and cores
further apart stay apart. Clusters smaller than ``min_cluster_ml`` are dropped. Side is
patient side (LPS: +x is patient left).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from perfusion.config import PerfusionConfig


@dataclass
class Lesions:
    """Masks (z, y, x) and volumes (mL) of the lesion analysis."""

    core: np.ndarray
    hypoperfusion: np.ndarray
    tmax_masks: dict[str, np.ndarray]
    rcbf: np.ndarray
    reference_cbf: float
    core_ml: float
    hypoperfusion_ml: dict[str, float]
    mismatch_ml: float
    mismatch_ratio: float | None
    hir: float | None
    side: str
    defuse3_eligible: bool
    extend_ia_eligible: bool
    hemisphere_ml: dict[str, float] = field(default_factory=dict)


def drop_small_clusters(mask: np.ndarray, min_voxels: int) -> np.ndarray:
    """Remove 3-D connected components (26-connectivity) smaller than ``min_voxels``."""
    if min_voxels <= 1 or not mask.any():
        return mask
    labels, count = ndimage.label(mask, structure=np.ones((3, 3, 3)))
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    keep = sizes >= min_voxels
    keep[0] = False
    kept: np.ndarray = keep[labels]
    return kept


def in_plane_pixel_mm(affine: np.ndarray) -> float:
    """Mean in-plane pixel size (mm) of a voxel (x, y, z) -> LPS affine."""
    return float(np.mean(np.linalg.norm(affine[:3, :2], axis=0)))


def close_in_plane(mask: np.ndarray, radius_px: float) -> np.ndarray:
    """Each slice of ``mask`` (z, y, x) closed with a disk of ``radius_px`` and its holes
    filled: gaps narrower than the disk and enclosed islands join the region around them."""
    r = int(np.floor(radius_px))
    if r < 1 or not mask.any():
        return mask
    disk = np.hypot(*np.mgrid[-r:r + 1, -r:r + 1]) <= radius_px
    padded = np.pad(mask, ((0, 0), (r, r), (r, r)))
    out = np.empty_like(mask)
    for z in range(mask.shape[0]):
        if not mask[z].any():
            out[z] = False
            continue
        closed = ndimage.binary_closing(padded[z], structure=disk)[r:-r, r:-r]
        out[z] = ndimage.binary_fill_holes(closed | mask[z])
    return out


def patient_x_mm(shape: tuple[int, int, int], affine: np.ndarray) -> np.ndarray:
    """LPS x (mm; + is patient left) of every voxel (z, y, x)."""
    nz, ny, nx = shape
    k, j, i = np.meshgrid(np.arange(nz), np.arange(ny), np.arange(nx), indexing="ij")
    x_mm: np.ndarray = affine[0, 0] * i + affine[0, 1] * j + affine[0, 2] * k + affine[0, 3]
    return x_mm


def nearest_measured(tissue: np.ndarray, unmeasured: np.ndarray
                     ) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """For each ``unmeasured`` voxel (z, y, x) in a slice with tissue: its index and the index
    of the nearest ``tissue`` voxel in the same slice."""
    targets: list[np.ndarray] = []
    sources: list[np.ndarray] = []
    for z in range(tissue.shape[0]):
        if not (tissue[z].any() and unmeasured[z].any()):
            continue
        _, (iy, ix) = ndimage.distance_transform_edt(~tissue[z], return_indices=True)
        y, x = np.nonzero(unmeasured[z])
        targets.append(np.stack([np.full_like(y, z), y, x]))
        sources.append(np.stack([np.full_like(y, z), iy[y, x], ix[y, x]]))
    if not targets:
        empty = np.zeros(0, dtype=int)
        return (empty, empty, empty), (empty, empty, empty)
    target, source = np.concatenate(targets, axis=1), np.concatenate(sources, axis=1)
    return tuple(target), tuple(source)


def find_lesions(maps: dict[str, np.ndarray], tissue: np.ndarray, voxel_ml: float,
                 affine: np.ndarray, config: PerfusionConfig,
                 unmeasured: np.ndarray | None = None) -> Lesions:
    """Threshold the maps inside ``tissue`` (see module doc).

    ``unmeasured``: parenchyma whose curves could not be used (the bone rim after motion
    correction). Each such voxel takes the lesion classes of the nearest measured tissue in
    its slice, so that a lesion reaching the cortex keeps its volume.
    """
    min_voxels = int(np.ceil(config.min_cluster_ml / voxel_ml))
    tmax, cbf = maps["tmax"], maps["cbf"]
    fill = None
    if unmeasured is not None and unmeasured.any():
        fill = nearest_measured(tissue, unmeasured & ~tissue)

    def threshold(mask: np.ndarray) -> np.ndarray:
        if fill is not None:
            mask = mask.copy()
            mask[fill[0]] = mask[fill[1]]
        return drop_small_clusters(mask, min_voxels)

    tmax_masks = {f"tmax{t:g}": threshold(tissue & (tmax > t)) for t in config.tmax_thresholds_s}
    hypo = threshold(tissue & (tmax > config.hypoperfusion_tmax_s))

    x_mm = patient_x_mm(tissue.shape, affine)
    midline = float(np.median(x_mm[tissue])) if tissue.any() else 0.0
    left = x_mm > midline
    hemi = {"left": float((hypo & left).sum()) * voxel_ml,
            "right": float((hypo & ~left).sum()) * voxel_ml}
    worse = max(hemi, key=lambda name: hemi[name])
    total = hemi["left"] + hemi["right"]
    side = worse if hemi[worse] >= config.min_side_ml and hemi[worse] >= 0.6 * total else "none"

    normal = tissue & (tmax < 4.0)
    if side != "none":
        normal &= left if side == "right" else ~left
    if normal.sum() < 50:
        normal = tissue
    values = cbf[normal]
    if values.size:
        low, high = np.percentile(values, [2, 98])
        reference = float(np.mean(values[(values >= low) & (values <= high)]))
    else:
        reference = 0.0
    rcbf = np.where(tissue, cbf / max(reference, 1e-6), 0.0).astype(np.float32)
    core = tissue & (rcbf < config.core_rcbf)
    if config.core_requires_tmax_s is not None:
        core &= tmax > config.core_requires_tmax_s
    if config.core_closing_mm > 0:
        radius = config.core_closing_mm / in_plane_pixel_mm(affine)
        core = close_in_plane(core, radius) & tissue
    core = threshold(core)
    if config.core_requires_tmax_s is not None:
        # The closing fills noise holes of the Tmax mask inside a core as well: a core inside
        # the hypoperfusion stays inside it, in every Tmax mask up to its threshold.
        if config.core_requires_tmax_s >= config.hypoperfusion_tmax_s:
            hypo = hypo | core
        for t in config.tmax_thresholds_s:
            if t <= config.core_requires_tmax_s:
                tmax_masks[f"tmax{t:g}"] = tmax_masks[f"tmax{t:g}"] | core

    core_ml = float(core.sum()) * voxel_ml
    hypo_ml = {name: float(m.sum()) * voxel_ml for name, m in tmax_masks.items()}
    tmax6_ml = float(hypo.sum()) * voxel_ml
    mismatch = max(tmax6_ml - core_ml, 0.0)
    ratio = tmax6_ml / core_ml if core_ml > 0 else None
    tmax10 = hypo_ml.get("tmax10", 0.0)
    hir = tmax10 / tmax6_ml if tmax6_ml > 0 else None
    # No core: the ratio is infinite, which meets any minimum ratio.
    defuse3 = (core_ml < config.defuse3_max_core_ml and mismatch >= config.defuse3_min_mismatch_ml
               and (ratio is None or ratio >= config.defuse3_min_ratio))
    extend = (core_ml < config.extend_ia_max_core_ml
              and mismatch > config.extend_ia_min_mismatch_ml
              and (ratio is None or ratio > config.extend_ia_min_ratio))
    return Lesions(core=core, hypoperfusion=hypo, tmax_masks=tmax_masks, rcbf=rcbf,
                   reference_cbf=reference, core_ml=core_ml, hypoperfusion_ml=hypo_ml,
                   mismatch_ml=mismatch, mismatch_ratio=ratio, hir=hir, side=side,
                   defuse3_eligible=bool(defuse3), extend_ia_eligible=bool(extend),
                   hemisphere_ml=hemi)

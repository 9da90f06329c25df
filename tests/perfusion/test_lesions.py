"""Lesion masks: the in-plane closing of the core, unmeasured tissue."""

from __future__ import annotations

import numpy as np

from perfusion.config import PerfusionConfig
from perfusion.lesions import close_in_plane, find_lesions, in_plane_pixel_mm


def _disk(shape: tuple[int, int], centre: tuple[float, float], radius: float) -> np.ndarray:
    y, x = np.mgrid[: shape[0], : shape[1]]
    return np.hypot(y - centre[0], x - centre[1]) <= radius


def test_closing_fills_noise_holes_and_notches_but_does_not_grow_a_region() -> None:
    core = np.zeros((64, 64), dtype=bool)
    core[16:49, 16:49] = True
    noisy = core.copy()
    noisy[30:33, 28:31] = False  # an enclosed hole
    noisy[16:21, 30:34] = False  # a notch, 4 px wide and 5 deep, opening on the edge
    closed = close_in_plane(noisy[None], 3.0)[0]
    assert closed[30:33, 28:31].all()
    # The notch fills up to the edge (a disk just outside may still dip into its mouth).
    assert closed[17:21, 30:34].all()
    assert not (closed & ~core).any()  # a convex region gains nothing
    assert close_in_plane(core[None], 3.0)[0].sum() == core.sum()


def test_closing_keeps_distant_regions_apart_and_leaves_empty_slices() -> None:
    two = _disk((64, 64), (32, 14), 6) | _disk((64, 64), (32, 50), 6)  # 24 px apart
    volume = np.stack([two, np.zeros_like(two)])
    closed = close_in_plane(volume, 3.0)
    assert (closed == volume).all()
    assert close_in_plane(volume, 0.5) is volume  # under one pixel: nothing to close


def test_pixel_size_from_the_affine() -> None:
    affine = np.diag([0.8, 0.8, 5.0, 1.0])
    affine[:3, :2] = [[0.0, -0.8], [0.8, 0.0], [0.0, 0.0]]  # rotated in-plane
    assert abs(in_plane_pixel_mm(affine) - 0.8) < 1e-9


def test_unmeasured_rim_takes_the_lesion_classes_of_the_nearest_measured_tissue() -> None:
    shape = (1, 40, 60)
    tissue = np.zeros(shape, dtype=bool)
    tissue[0, 5:35, 5:55] = True
    rim = np.zeros(shape, dtype=bool)
    rim[0, 4:36, 4] = rim[0, 4:36, 55] = True  # a column of unmeasured cortex on each side
    tissue_both = tissue | rim
    tmax = np.where(tissue, 2.0, 0.0).astype(np.float32)
    tmax[0, 10:30, 5:15] = 9.0  # hypoperfusion reaching the right edge (low x = patient right)
    cbf = np.where(tissue, 50.0, 0.0).astype(np.float32)
    cbf[0, 15:25, 5:10] = 5.0  # a core touching it too
    maps = {"tmax": tmax, "cbf": cbf}
    config = PerfusionConfig(min_cluster_ml=0.0, min_side_ml=0.0, core_closing_mm=0.0)
    without = find_lesions(maps, tissue, 1.0, np.eye(4), config)
    found = find_lesions(maps, tissue, 1.0, np.eye(4), config, unmeasured=rim)
    assert found.hypoperfusion[0, 10:30, 4].all() and not found.hypoperfusion[0, 30:, 4].any()
    assert found.core[0, 15:25, 4].all() and not found.core[0, :, 55].any()
    assert found.hypoperfusion_ml["tmax6"] == without.hypoperfusion_ml["tmax6"] + 20
    assert found.core_ml == without.core_ml + 10
    assert found.side == without.side == "right"
    assert not (found.hypoperfusion & ~tissue_both).any()


def test_a_closed_core_stays_inside_the_hypoperfusion() -> None:
    shape = (1, 40, 60)
    tissue = np.zeros(shape, dtype=bool)
    tissue[0, 5:35, 5:55] = True
    tmax = np.where(tissue, 2.0, 0.0).astype(np.float32)
    tmax[0, 8:32, 5:30] = 9.0
    cbf = np.where(tissue, 50.0, 0.0).astype(np.float32)
    cbf[0, 12:28, 8:24] = 5.0
    tmax[0, 18:20, 14:16] = 5.0  # a noise hole in the Tmax map inside the core
    maps = {"tmax": tmax, "cbf": cbf}
    config = PerfusionConfig(min_cluster_ml=0.0, min_side_ml=0.0, core_closing_mm=2.0)
    found = find_lesions(maps, tissue, 1.0, np.eye(4), config)
    assert found.core[0, 12:28, 8:24].all() and found.core_ml == 16 * 16
    assert not (found.core & ~found.hypoperfusion).any()
    assert not (found.core & ~found.tmax_masks["tmax4"]).any()
    assert found.hypoperfusion_ml["tmax6"] == 24 * 25
    assert found.mismatch_ml == 24 * 25 - 16 * 16

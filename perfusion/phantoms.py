"""Digital CTP phantoms with known truth: a Kudo/ASIST-style tile grid and a stroke head.

Curves follow the indicator-dilution model C_t(t) = (rho / k_H) * CBF * (C_a (*) R)(t - delay)
with CBF in mL/g/s inside and mL/100 g/min outside, times in s and values in HU.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage, special

from perfusion.config import HEMATOCRIT_FACTOR, TISSUE_DENSITY_G_PER_ML

FINE_DT_S = 0.05
RESIDUES = ("exponential", "box", "linear", "gamma")
# Shape of the gamma distribution of transit times behind the "gamma" residue (1 would be the
# exponential residue, infinity the box).
GAMMA_SHAPE = 3.0


def regular_times(n_frames: int = 40, interval_s: float = 1.5) -> np.ndarray:
    """Frame times (s) of a regular acquisition."""
    return np.arange(n_frames, dtype=float) * interval_s


def irregular_times() -> np.ndarray:
    """A typical variable-rate protocol: every 1 s up to 30 s, then every 2.5 s up to 62.5 s."""
    return np.concatenate([np.arange(0.0, 30.0, 1.0), np.arange(30.0, 63.0, 2.5)])


def gamma_variate(t: np.ndarray, arrival_s: float, peak: float, alpha: float = 3.0,
                  beta_s: float = 1.5) -> np.ndarray:
    """Gamma-variate bolus of height ``peak`` arriving at ``arrival_s``."""
    tau = np.clip(t - arrival_s, 0.0, None)
    curve = tau**alpha * np.exp(-tau / beta_s)
    scaled: np.ndarray = peak * curve / (alpha * beta_s) ** alpha / np.exp(-alpha)
    return scaled


def arterial_curve(t: np.ndarray, arrival_s: float = 6.0, peak_hu: float = 350.0,
                   recirculation: float = 0.08) -> np.ndarray:
    """Arterial enhancement (HU): first pass plus a low, broad recirculation."""
    first = gamma_variate(t, arrival_s, peak_hu)
    second = gamma_variate(t, arrival_s + 12.0, peak_hu * recirculation, alpha=3.0, beta_s=3.0)
    both: np.ndarray = first + second
    return both


def venous_curve(t: np.ndarray, arterial: np.ndarray, delay_s: float = 4.0,
                 dispersion_s: float = 2.0) -> np.ndarray:
    """A delayed, dispersed copy of ``arterial`` with the same area (indicator conserved)."""
    dt = t[1] - t[0]
    kernel_t = np.arange(0.0, 10 * dispersion_s, dt)
    kernel = np.exp(-kernel_t / dispersion_s)
    kernel /= kernel.sum()
    dispersed = np.convolve(arterial, kernel)[: t.size]
    return np.interp(t - delay_s, t, dispersed, left=0.0)


def residue_function(kind: str, t: np.ndarray, mtt_s: float) -> np.ndarray:
    """R(t) with R(0) = 1 and area ``mtt_s``: exponential (one compartment), box (plug flow),
    linear (uniform transit times up to 2 MTT) or gamma (transit times gamma-distributed
    with shape GAMMA_SHAPE: R = 1 - their CDF)."""
    if kind == "exponential":
        return np.exp(-t / mtt_s)
    if kind == "box":
        return (t < mtt_s).astype(float)
    if kind == "linear":
        return np.clip(1.0 - t / (2.0 * mtt_s), 0.0, None)
    if kind == "gamma":
        survival: np.ndarray = special.gammaincc(GAMMA_SHAPE, GAMMA_SHAPE * np.clip(t, 0, None)
                                                 / mtt_s)
        return survival
    raise ValueError(f"unknown residue function {kind!r}; one of {RESIDUES}")


def tissue_curve(t_fine: np.ndarray, arterial_fine: np.ndarray, cbf: float, mtt_s: float,
                 delay_s: float, residue: str = "exponential",
                 density: float = TISSUE_DENSITY_G_PER_ML,
                 hematocrit: float = HEMATOCRIT_FACTOR) -> np.ndarray:
    """Tissue enhancement (HU) on the fine grid for CBF (mL/100 g/min), MTT and delay (s)."""
    dt = t_fine[1] - t_fine[0]
    if cbf <= 0 or mtt_s <= 0:
        return np.zeros_like(t_fine)
    r = residue_function(residue, t_fine, mtt_s)
    flow = density / hematocrit * cbf / 6000.0
    curve = flow * dt * np.convolve(arterial_fine, r)[: t_fine.size]
    return np.asarray(np.interp(t_fine - delay_s, t_fine, curve, left=0.0))


def _fine_grid(times: np.ndarray) -> np.ndarray:
    return np.arange(0.0, float(times[-1]) + 15.0, FINE_DT_S)


@dataclass
class Phantom:
    """Frames (t, z, y, x) in HU, frame times (s), spacing (z, y, x) mm and the truth."""

    frames: np.ndarray
    times: np.ndarray
    spacing: tuple[float, float, float]
    truth: dict[str, Any] = field(default_factory=dict)
    # Truth maps on the voxel grid (NaN outside tissue): cbf, cbv, mtt, tmax; masks core, tmax6.
    truth_maps: dict[str, np.ndarray] = field(default_factory=dict)


def tile_phantom(
    *,
    cbv_values: Sequence[float] = (1.0, 2.0, 3.0, 4.0, 5.0),
    mtt_values: Sequence[float] = (3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0),
    delays_s: Sequence[float] = (0.0, 1.0, 2.0, 3.0, 4.0),
    **options: Any,
) -> Phantom:
    """Kudo/ASIST-style grid: rows CBV, columns MTT, one slice per delay, plus AIF and VOF tiles.

    ``options`` as for ``cell_phantom`` (residue, noise_hu, times, tile_px, pixel_mm,
    slice_mm, baseline_hu, aif_partial_volume, seed).
    """
    cells: list[tuple[float, float] | None] = [(cbv, 60.0 * cbv / mtt) for cbv in cbv_values
                                               for mtt in mtt_values]
    phantom = cell_phantom(cells, len(mtt_values), delays_s=delays_s, **options)
    phantom.truth.update(cbv_values=list(cbv_values), mtt_values=list(mtt_values))
    return phantom


def cell_phantom(
    cells: Sequence[tuple[float, float] | None],
    columns: int,
    *,
    delays_s: Sequence[float],
    residue: str = "exponential",
    noise_hu: float = 10.0,
    times: np.ndarray | None = None,
    tile_px: int = 16,
    pixel_mm: float = 1.0,
    slice_mm: float = 5.0,
    baseline_hu: float = 35.0,
    aif_partial_volume: float = 0.8,
    seed: int = 0,
) -> Phantom:
    """Tiles of uniform tissue, ``cells`` = (CBV mL/100 g, CBF mL/100 g/min) row by row in
    ``columns`` columns (None: a tile that does not enhance, no truth), one slice per delay
    (s), and a last row with an AIF tile and a VOF tile. ``truth['cells']`` lists (row,
    column, CBV, CBF, MTT).

    The AIF tile shows the arterial curve scaled by ``aif_partial_volume`` (a small artery);
    the VOF tile the full-area venous curve, so partial-volume scaling can recover the truth.
    """
    times = regular_times() if times is None else np.asarray(times, dtype=float)
    t_fine = _fine_grid(times)
    arterial = arterial_curve(t_fine)
    venous = venous_curve(t_fine, arterial)
    n_rows, n_z = -(-len(cells) // columns), len(delays_s)
    ny, nx = (n_rows + 1) * tile_px, columns * tile_px
    frames = np.full((times.size, n_z, ny, nx), baseline_hu, dtype=np.float32)
    truth_cbf = np.full((n_z, ny, nx), np.nan, dtype=np.float32)
    truth_cbv, truth_mtt, truth_tmax = (truth_cbf.copy() for _ in range(3))
    listed = []
    for z, delay in enumerate(delays_s):
        for index, cell in enumerate(cells):
            if cell is None:
                continue
            (row, col), (cbv, cbf) = divmod(index, columns), cell
            mtt = 60.0 * cbv / cbf
            tile = (z, slice(row * tile_px, (row + 1) * tile_px),
                    slice(col * tile_px, (col + 1) * tile_px))
            curve = _sample(tissue_curve(t_fine, arterial, cbf, mtt, delay, residue), t_fine,
                            times)
            frames[(slice(None), *tile)] += curve[:, None, None]
            truth_cbf[tile], truth_cbv[tile] = cbf, cbv
            truth_mtt[tile], truth_tmax[tile] = mtt, delay
            if z == 0:
                listed.append((row, col, cbv, cbf, mtt))
        vessel_row = slice(n_rows * tile_px + tile_px // 4, n_rows * tile_px + 3 * tile_px // 4)
        aif_cols = slice(tile_px // 4, 3 * tile_px // 4)
        vof_cols = slice(nx - 3 * tile_px // 4, nx - tile_px // 4)
        frames[:, z, vessel_row, aif_cols] += _sample(aif_partial_volume * arterial, t_fine,
                                                      times)[:, None, None]
        frames[:, z, vessel_row, vof_cols] += _sample(venous, t_fine, times)[:, None, None]
    frames += _noise(frames.shape, noise_hu, seed)
    truth = {"kind": "tile", "residue": residue, "noise_hu": noise_hu,
             "delays_s": list(delays_s), "tile_px": tile_px, "cells": listed,
             "times_s": [float(x) for x in times]}
    maps = {"cbf": truth_cbf, "cbv": truth_cbv, "mtt": truth_mtt, "tmax": truth_tmax}
    return Phantom(frames, times, (slice_mm, pixel_mm, pixel_mm), truth, maps)


def _sample(fine: np.ndarray, t_fine: np.ndarray, times: np.ndarray) -> np.ndarray:
    idx = np.clip(np.rint(times / FINE_DT_S).astype(int), 0, t_fine.size - 1)
    sampled: np.ndarray = fine[idx]
    return sampled


def _noise(shape: tuple[int, ...], noise_hu: float, seed: int) -> np.ndarray:
    if noise_hu <= 0:
        return np.zeros(shape, dtype=np.float32)
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape, dtype=np.float32) * np.float32(noise_hu))


# Anatomical head: tissue classes (CBF mL/100 g/min, CBV mL/100 g, delay s) and baseline HU.
HEAD_CLASSES = {
    "gm": (55.0, 4.0, 0.5, 38.0),
    "wm": (22.0, 2.0, 1.0, 28.0),
    "oligemia": (40.0, 4.0, 4.5, 36.0),
    "penumbra": (25.0, 4.0, 7.5, 36.0),
    "core": (5.0, 1.0, 9.0, 34.0),
}


def head_phantom(
    *,
    shape: tuple[int, int, int] = (16, 128, 128),
    spacing: tuple[float, float, float] = (5.0, 1.5, 1.5),
    times: np.ndarray | None = None,
    noise_hu: float = 10.0,
    motion: bool = False,
    motion_scale: float = 1.0,
    lesion_side: str = "right",
    lesion: bool = True,
    residue: str = "exponential",
    seed: int = 0,
) -> Phantom:
    """A stroke head: skull, scalp, GM/WM, ventricles, arteries, sagittal sinus and an MCA lesion.

    Every tissue class has the residue function ``residue`` (RESIDUES).

    The lesion (core inside penumbra inside a thin oligaemic rim) sits in the lateral MCA
    territory of ``lesion_side`` (patient side; columns grow towards patient left, LPS).
    ``motion`` adds a rigid in-plane rotation and translation to later frames.
    """
    times = regular_times() if times is None else np.asarray(times, dtype=float)
    labels, pv_artery = head_labels(shape, spacing, lesion_side if lesion else None)
    voxel_ml = float(np.prod(spacing)) / 1000.0
    t_fine = _fine_grid(times)
    arterial = arterial_curve(t_fine, arrival_s=5.0)
    venous = venous_curve(t_fine, arterial)
    class_curves = {name: tissue_curve(t_fine, arterial, cbf, 60.0 * cbv / cbf, delay, residue)
                    for name, (cbf, cbv, delay, _) in HEAD_CLASSES.items()}
    sampled = {name: np.interp(times, t_fine, c) for name, c in class_curves.items()}
    art_s, ven_s = np.interp(times, t_fine, arterial), np.interp(times, t_fine, venous)

    baseline = np.full(shape, -1000.0, dtype=np.float32)
    baseline[labels == LABELS["scalp"]] = 40.0
    baseline[labels == LABELS["skull"]] = 1200.0
    baseline[labels == LABELS["csf"]] = 5.0
    baseline[labels == LABELS["sinus"]] = 40.0
    for name, (*_, hu) in HEAD_CLASSES.items():
        baseline[labels == LABELS[name]] = hu
    artery = pv_artery > 0
    baseline[artery] = pv_artery[artery] * 40.0 + (1 - pv_artery[artery]) * 38.0

    frames = np.empty((times.size, *shape), dtype=np.float32)
    class_masks = {name: labels == LABELS[name] for name in HEAD_CLASSES}
    sinus = labels == LABELS["sinus"]
    for i in range(times.size):
        frame = baseline.copy()
        for name, mask in class_masks.items():
            frame[mask] += sampled[name][i]
        frame[sinus] += ven_s[i]
        frame[artery] += pv_artery[artery] * art_s[i]
        frames[i] = frame

    transforms: list[dict[str, Any]] = []
    if motion:
        frames, transforms = _apply_motion(frames, spacing, motion_scale, seed)
    frames += _noise(frames.shape, noise_hu, seed + 1)

    cbf_map = np.full(shape, np.nan, dtype=np.float32)
    cbv_map, tmax_map = cbf_map.copy(), cbf_map.copy()
    for name, (cbf, cbv, delay, _) in HEAD_CLASSES.items():
        cbf_map[class_masks[name]], cbv_map[class_masks[name]] = cbf, cbv
        tmax_map[class_masks[name]] = delay
    core = class_masks["core"]
    tmax6 = core | class_masks["penumbra"]
    core_ml = float(core.sum()) * voxel_ml
    tmax6_ml = float(tmax6.sum()) * voxel_ml
    mismatch = tmax6_ml - core_ml
    ratio = tmax6_ml / core_ml if core_ml > 0 else None
    truth = {
        "kind": "head", "noise_hu": noise_hu, "motion": motion, "residue": residue,
        "core_ml": round(core_ml, 2),
        "hypoperfusion_ml": {
            "tmax4": round(float((tmax6 | class_masks["oligemia"]).sum()) * voxel_ml, 2),
            "tmax6": round(tmax6_ml, 2), "tmax8": round(core_ml, 2),
            "tmax10": 0.0},
        "mismatch_ml": round(mismatch, 2),
        "mismatch_ratio": round(ratio, 3) if ratio else None,
        "side": lesion_side if lesion else "none",
        "defuse3_eligible": bool(lesion and core_ml < 70 and mismatch >= 15
                                 and (ratio is None or ratio >= 1.8)),
        "classes": {name: {"cbf": cbf, "cbv": cbv, "mtt": round(60 * cbv / cbf, 3),
                           "tmax": delay} for name, (cbf, cbv, delay, _) in HEAD_CLASSES.items()},
        "times_s": [float(x) for x in times],
        "motion_transforms": transforms,
    }
    maps = {"cbf": cbf_map, "cbv": cbv_map, "tmax": tmax_map, "core": core, "tmax6": tmax6}
    return Phantom(frames, times, (spacing[0], spacing[1], spacing[2]), truth, maps)


LABELS = {"air": 0, "scalp": 1, "skull": 2, "csf": 3, "sinus": 4, "gm": 5, "wm": 6,
          "oligemia": 7, "penumbra": 8, "core": 9}


def head_labels(shape: tuple[int, int, int], spacing: Sequence[float],
                lesion_side: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Label volume (see LABELS) and the arterial partial-volume fraction (0..1) per voxel."""
    nz, ny, nx = shape
    z = (np.arange(nz) - (nz - 1) / 2.0)[:, None, None] * spacing[0]
    y = (np.arange(ny) - (ny - 1) / 2.0)[None, :, None] * spacing[1]
    x = (np.arange(nx) - (nx - 1) / 2.0)[None, None, :] * spacing[2]
    # Head narrows towards the vertex: radii shrink with height above the slab centre.
    taper = np.sqrt(np.clip(1.0 - ((z + 20.0) / 110.0) ** 2, 0.2, None))
    ry_brain, rx_brain = 80.0 * taper, 65.0 * taper

    def inside(ry: np.ndarray, rx: np.ndarray) -> np.ndarray:
        within: np.ndarray = (y / ry) ** 2 + (x / rx) ** 2 <= 1.0
        return within

    brain = inside(ry_brain, rx_brain)
    skull = inside(ry_brain + 7, rx_brain + 7) & ~brain
    scalp = inside(ry_brain + 12, rx_brain + 12) & ~brain & ~skull
    # Real heads are not ellipses: a frontal bony ridge, an occipital protuberance and a few
    # calcifications (pineal, choroid plexus) make rotations visible to registration.
    ridge = (((y + ry_brain + 4) / 6.0) ** 2 + ((x - 8.0) / 14.0) ** 2 <= 1.0)
    protuberance = (((y - ry_brain - 6) / 5.0) ** 2 + ((x + 6.0) / 9.0) ** 2 <= 1.0) & (z < 0)
    skull = skull | ((ridge | protuberance) & ~brain)
    labels = np.zeros(shape, dtype=np.uint8)
    labels[scalp] = LABELS["scalp"]
    labels[skull] = LABELS["skull"]
    for cy, cx, cz in ((18.0, 0.0, -5.0), (-2.0, 14.0, 5.0), (-4.0, -16.0, 5.0)):
        spot = ((y - cy) ** 2 + (x - cx) ** 2 <= 2.5**2) & (np.abs(z - cz) <= 3.0)
        labels[spot & brain] = LABELS["skull"]
    wm = inside(0.72 * ry_brain, 0.72 * rx_brain)
    labels[brain] = LABELS["gm"]
    labels[brain & wm] = LABELS["wm"]
    ventricles = (((y + 5) / 28.0) ** 2 + ((np.abs(x) - 9) / 6.0) ** 2 <= 1.0) & (np.abs(z) < 22)
    labels[ventricles & brain] = LABELS["csf"]
    sinus = ((y - (ry_brain - 6)) ** 2 + x**2 <= 4.0**2) & brain
    labels[sinus] = LABELS["sinus"]

    if lesion_side is not None:
        sign = -1.0 if lesion_side == "right" else 1.0  # patient right = low column index
        # Lateral MCA territory: an angular sector around the lateral axis, mid slab.
        angle = np.degrees(np.arctan2(y, sign * x)) * np.ones(shape)
        radial = np.sqrt((y / ry_brain) ** 2 + (x / rx_brain) ** 2) * np.ones(shape)
        level = np.abs(z + 5.0) * np.ones(shape)
        territory = brain & ~ventricles & ~sinus & (sign * x > 0)
        oligemia = territory & (np.abs(angle) < 50) & (radial > 0.35) & (level < 26)
        penumbra = territory & (np.abs(angle) < 42) & (radial > 0.4) & (level < 21)
        core = territory & (np.abs(angle) < 24) & (radial > 0.5) & (radial < 0.92) & (level < 13)
        labels[oligemia] = LABELS["oligemia"]
        labels[penumbra] = LABELS["penumbra"]
        labels[core] = LABELS["core"]

    # Arteries: the healthy-side M1 and both internal carotid tips as thin tubes (partial
    # volume by distance from the centre line); the occluded M1 does not fill.
    occluded = lesion_side
    pv = np.zeros(shape, dtype=np.float32)
    m1_z = -5.0
    for side, sign in (("left", 1.0), ("right", -1.0)):
        if side == occluded:
            continue
        along = (sign * x > 8) & (sign * x < 45)
        dist = np.sqrt(((z - m1_z) / 2.5) ** 2 * 1.0 + ((y + 2.0) / 1.0) ** 2)
        pv = np.maximum(pv, np.clip(1.2 - dist / 2.0, 0.0, 1.0) * along)
    for sign in (1.0, -1.0):
        dist = np.sqrt((y + 10.0) ** 2 + (x - sign * 10.0) ** 2)
        pv = np.maximum(pv, np.clip(1.5 - dist / 1.5, 0.0, 1.0) * (z < m1_z + 3))
    pv = np.where(brain & (labels != LABELS["sinus"]), pv, 0.0).astype(np.float32)
    return labels, pv


def _apply_motion(frames: np.ndarray, spacing: Sequence[float], scale: float,
                  seed: int) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Rigid in-plane motion of frames after the first few: rotation about z, translation."""
    rng = np.random.default_rng(seed + 7)
    n_t, nz, ny, nx = frames.shape
    centre = np.array([(ny - 1) / 2.0, (nx - 1) / 2.0])
    out = frames.copy()
    transforms = []
    for i in range(n_t):
        if i < 3:
            transforms.append({"frame": i, "rotation_deg": 0.0, "shift_mm": [0.0, 0.0]})
            continue
        angle = float(rng.uniform(-2.0, 2.0) * scale)
        shift_mm = rng.uniform(-2.0, 2.0, size=2) * scale
        theta = np.radians(angle)
        rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        shift_px = shift_mm / np.array(spacing[1:])
        offset = centre - rot @ centre - rot @ shift_px
        for z in range(nz):
            out[i, z] = ndimage.affine_transform(frames[i, z], rot, offset=offset, order=1,
                                                 mode="nearest")
        transforms.append({"frame": i, "rotation_deg": round(angle, 3),
                           "shift_mm": [round(float(v), 3) for v in shift_mm]})
    return out, transforms

"""CTP phantom family "collaterals": interface, determinism, truth definitions, indicator-dilution
bookkeeping, residue shapes, CT noise texture and level, lesion side and collateral grade."""

from __future__ import annotations

import json
import time
from functools import lru_cache
from typing import Any

import numpy as np
import pytest

from strokealert.phantoms.ctp_families.collaterals import (
    GRADES,
    K_H,
    RESIDUES,
    RHO,
    SITES,
    CtpCase,
    make_case,
)

SMALL: dict[str, Any] = {"shape": (6, 64, 64), "spacing": (5.0, 3.0, 3.0), "n_frames": 24}


@lru_cache(maxsize=32)
def _small(seed: int = 0, noise_hu: float = 10.0, residue: str = "exponential",
           lesion: bool = True, n_frames: int = 24, interval_s: float = 1.5,
           site: str | None = None, grade: str | None = None) -> CtpCase:
    kw = {**SMALL, "n_frames": n_frames}
    return make_case(seed=seed, noise_hu=noise_hu, residue=residue, lesion=lesion,
                     interval_s=interval_s, site_override=site, grade_override=grade, **kw)


@pytest.fixture(scope="module")
def default_case() -> tuple[CtpCase, float]:
    t0 = time.perf_counter()
    case = make_case(seed=2)
    return case, time.perf_counter() - t0


def _parenchyma(case: CtpCase) -> np.ndarray:
    return np.isfinite(case.maps["cbf"])


def _check_definitions(case: CtpCase) -> None:
    maps, truth = case.maps, case.truth
    par = _parenchyma(case)
    assert np.array_equal(par, np.isfinite(maps["cbv"]))
    assert np.array_equal(par, np.isfinite(maps["tmax"]))
    core = par & (maps["cbf"].astype(np.float64) < 0.3 * truth["normal_cbf"])
    tmax6 = par & (maps["tmax"].astype(np.float64) > 6.0)
    assert np.array_equal(core, maps["core"])
    assert np.array_equal(tmax6, maps["tmax6"])
    voxel_ml = float(np.prod(case.spacing)) / 1000.0
    assert truth["voxel_ml"] == pytest.approx(voxel_ml)
    assert truth["core_ml"] == pytest.approx(core.sum() * voxel_ml)
    assert truth["tmax6_ml"] == pytest.approx(tmax6.sum() * voxel_ml)
    assert truth["core_outside_tmax6_ml"] == pytest.approx((core & ~tmax6).sum() * voxel_ml)
    # normal_cbf: mean CBF of normal-side parenchyma with Tmax < 4 s (approximate split at the
    # brain's centre column; the generator splits at the true midsagittal plane)
    xs = np.nonzero(par)[2]
    mid = xs.mean()
    x = np.arange(par.shape[2])[None, None, :]
    side = truth["side"]
    half = {"left": x < mid - 2, "right": x > mid + 2, "none": np.ones_like(x, bool)}[side]
    ref = par & half & (maps["tmax"] < 4.0)
    assert truth["normal_cbf"] == pytest.approx(float(maps["cbf"][ref].mean()), rel=0.04)


def test_default_case_interface_and_truth(default_case: tuple[CtpCase, float]) -> None:
    case, seconds = default_case
    assert seconds < 40.0  # about 5 s on two cores
    assert case.frames.shape == (40, 16, 128, 128) and case.frames.dtype == np.float32
    assert case.times.dtype == np.float64
    assert np.allclose(case.times, np.arange(40) * 1.5)
    assert case.spacing == (5.0, 1.5, 1.5)
    assert set(case.maps) == {"cbf", "cbv", "tmax", "core", "tmax6"}
    for k in ("cbf", "cbv", "tmax"):
        assert case.maps[k].dtype == np.float32 and case.maps[k].shape == (16, 128, 128)
    for k in ("core", "tmax6"):
        assert case.maps[k].dtype == np.bool_ and case.maps[k].shape == (16, 128, 128)
    truth = json.loads(json.dumps(case.truth))
    for key in ("family", "core_ml", "tmax6_ml", "side", "residue", "noise_hu", "seed",
                "normal_cbf", "voxel_ml", "site", "collateral_grade", "aif"):
        assert key in truth
    assert truth["family"] == "collaterals"
    assert truth["side"] in ("left", "right") and truth["site"] in SITES
    assert truth["collateral_grade"] in GRADES
    assert 250.0 <= truth["aif"]["peak_hu"] <= 600.0 and 4.0 <= truth["aif"]["arrival_s"] <= 10
    assert 15.0 < truth["normal_cbf"] < 50.0
    assert 5.0 < truth["tmax6_ml"] < 300.0
    # head: bone, air, brain present; parenchyma in a plausible range for an 80 mm slab
    base = case.frames[0]
    assert (base > 600).mean() > 0.02 and (base < -900).mean() > 0.1
    assert 500.0 < truth["parenchyma_ml"] < 1400.0
    _check_definitions(case)


@pytest.mark.parametrize("seed", [0, 3, 9])
def test_truth_definitions_small(seed: int) -> None:
    _check_definitions(_small(seed))


def test_cbf_cbv_mtt_ranges(default_case: tuple[CtpCase, float]) -> None:
    case, _ = default_case
    par = _parenchyma(case)
    cbf, cbv = case.maps["cbf"][par], case.maps["cbv"][par]
    assert cbf.min() > 0 and cbf.max() < 80.0
    assert cbv.min() > 0 and cbv.max() < 7.0
    mtt = 60.0 * cbv / cbf
    assert 1.0 <= mtt.min() and mtt.max() <= 29.5
    normal = par & (case.maps["tmax"] < 2.0)
    # normal tissue: grey-matter-rich voxels reach grey-matter values, white matter is lower
    assert np.percentile(case.maps["cbf"][normal], 98) > 40.0
    assert np.percentile(case.maps["cbf"][normal], 10) < 30.0
    # penumbra keeps (or raises) its CBV while CBF falls; core loses CBV
    pen = case.maps["tmax6"] & ~case.maps["core"]
    if pen.sum() > 50 and normal.sum() > 50:
        rel_cbf = case.maps["cbf"][pen].mean() / case.maps["cbf"][normal].mean()
        rel_cbv = case.maps["cbv"][pen].mean() / case.maps["cbv"][normal].mean()
        assert rel_cbv > rel_cbf + 0.15


def test_deterministic() -> None:
    a = make_case(seed=5, **SMALL)
    b = make_case(seed=5, **SMALL)
    assert np.array_equal(a.frames, b.frames)
    assert json.dumps(a.truth) == json.dumps(b.truth)
    for k in a.maps:
        assert np.array_equal(a.maps[k], b.maps[k], equal_nan=k in ("cbf", "cbv", "tmax"))
    c = make_case(seed=6, **SMALL)
    assert not np.array_equal(a.frames, c.frames)


def test_same_head_and_lesion_for_other_noise_and_residue() -> None:
    a = _small(3, 10.0, "exponential")
    b = _small(3, 20.0, "box")
    clean_a = _small(3, 0.0, "exponential")
    clean_b = _small(3, 0.0, "box")
    for k in ("cbf", "cbv", "tmax", "core", "tmax6"):
        assert np.array_equal(a.maps[k], b.maps[k], equal_nan=k in ("cbf", "cbv", "tmax"))
    for k in ("core_ml", "tmax6_ml", "site", "side", "collateral_grade", "normal_cbf", "aif"):
        assert a.truth[k] == b.truth[k]
    # before contrast arrival the noise-free frames are identical whatever the residue
    assert np.array_equal(clean_a.frames[0], clean_b.frames[0])
    assert not np.allclose(clean_a.frames[-8], clean_b.frames[-8])
    # same noise pattern, scaled
    na = a.frames.astype(np.float64) - clean_a.frames
    nb = b.frames.astype(np.float64) - clean_b.frames
    assert np.allclose(nb, 2.0 * na, atol=1e-2)


@pytest.mark.parametrize("seed", [0, 7])
def test_no_lesion(seed: int) -> None:
    case = _small(seed, 10.0, lesion=False)
    with_lesion = _small(seed, 10.0)
    assert case.truth["side"] == "none" and case.truth["site"] is None
    assert case.truth["core_ml"] == 0.0 and not case.maps["core"].any()
    assert case.truth["tmax6_ml"] == 0.0 and not case.maps["tmax6"].any()
    assert np.nanmax(case.maps["tmax"]) < 4.0
    _check_definitions(case)
    # same head: the baseline before the bolus is the same with and without the lesion
    clean = _small(seed, 0.0, lesion=False)
    clean_l = _small(seed, 0.0)
    assert np.array_equal(clean.frames[0], clean_l.frames[0])
    assert np.array_equal(_parenchyma(case), _parenchyma(with_lesion))


def test_noise_level_texture_and_centre() -> None:
    noisy = _small(1, 10.0)
    clean = _small(1, 0.0)
    d = noisy.frames.astype(np.float64) - clean.frames
    par = _parenchyma(noisy)
    sd = float(d[:, par].std())
    assert 8.5 <= sd <= 11.5
    # texture: band-pass (FBP-like): neighbours positively but not fully correlated
    x = d - d.mean(axis=(2, 3), keepdims=True)
    r_x = float((x[..., 1:] * x[..., :-1]).mean() / (x * x).mean())
    r_y = float((x[:, :, 1:] * x[:, :, :-1]).mean() / (x * x).mean())
    assert 0.15 < r_x < 0.9 and 0.15 < r_y < 0.9
    # independent between frames (apart from the tiny global jitter)
    r_t = float((x[1:] * x[:-1]).mean() / (x * x).mean())
    assert abs(r_t) < 0.05
    # noise is stronger in the centre of the head than at its periphery
    local = d.std(axis=0)
    ys, xs = np.nonzero(par.any(axis=0))
    cy, cx = ys.mean(), xs.mean()
    yy, xx = np.mgrid[: par.shape[1], : par.shape[2]]
    radius = np.hypot(yy - cy, xx - cx)[None].repeat(par.shape[0], axis=0)
    rmax = radius[par].max()
    centre = par & (radius < 0.3 * rmax)
    periphery = par & (radius > 0.75 * rmax)
    assert local[centre].mean() > 1.08 * local[periphery].mean()


@pytest.mark.parametrize("residue", RESIDUES)
def test_indicator_dilution_bookkeeping(residue: str) -> None:
    case = _small(4, 0.0, residue, n_frames=180, interval_s=1.0)
    d = case.frames.astype(np.float64) - case.frames[0].astype(np.float64)
    aif = np.asarray(case.truth["aif_hu"])
    assert aif.shape == case.times.shape
    aif_area = np.trapezoid(aif, case.times)
    par = _parenchyma(case) & (case.maps["tmax"] < 2.0)
    assert par.sum() > 100
    area = np.trapezoid(d[:, par], case.times, axis=0)
    expected = RHO / K_H * case.maps["cbv"][par].astype(np.float64) / 100.0 * aif_area
    ratio = area / expected
    assert np.all(np.abs(ratio - 1.0) < 0.03)
    # the best arterial voxel shows the AIF (times its partial-volume fraction)
    z, y, x = case.truth["aif_voxel"]
    frac = case.truth["aif_voxel_fraction"]
    assert frac > 0.75
    assert np.allclose(d[:, z, y, x], frac * aif, atol=0.02 * aif.max())
    # the veins peak after the arteries
    lag = case.times[int(np.argmax(case.truth["vof_hu"]))] - case.times[int(np.argmax(aif))]
    assert 2.0 <= lag <= 8.0


def test_residue_shapes_differ() -> None:
    exp = _small(2, 0.0, "exponential")
    box = _small(2, 0.0, "box")
    gam = _small(2, 0.0, "gamma")
    par = _parenchyma(exp) & (exp.maps["tmax"] < 2.0)
    # the most white-matter-like normal voxels (lowest CBF among those with full brain tissue)
    idx = np.argsort(np.where(par, exp.maps["cbf"], np.inf).ravel())[:20]
    t = exp.times

    def curves(c: CtpCase) -> np.ndarray:
        f = c.frames.reshape(c.frames.shape[0], -1)[:, idx].astype(np.float64)
        return f - f[0]

    ce, cb, cg = curves(exp), curves(box), curves(gam)
    # same CBF and CBV (same area), but the narrower the transit-time spread, the higher and
    # more compact the curve: exponential < gamma (shape 2-5) < box (plug flow)
    peak_g = np.median(cg.max(axis=0) / ce.max(axis=0))
    peak_b = np.median(cb.max(axis=0) / ce.max(axis=0))
    assert 1.03 < peak_g < peak_b and peak_b > 1.15
    assert np.median(np.abs(cb - ce).max(axis=0) / ce.max(axis=0)) > 0.1
    assert np.allclose(np.trapezoid(cb, t, axis=0), np.trapezoid(ce, t, axis=0), rtol=0.15)


def test_lesion_on_the_stated_side() -> None:
    sides = set()
    for seed in (0, 2, 4, 5):
        case = _small(seed, 10.0)
        side = case.truth["side"]
        sides.add(side)
        par = _parenchyma(case)
        mid = np.nonzero(par)[2].mean()
        lx = np.nonzero(case.maps["tmax6"])[2].mean()
        assert (lx > mid + 5) if side == "left" else (lx < mid - 5)
    assert sides == {"left", "right"}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_poor_collaterals_give_a_larger_core(seed: int) -> None:
    good = _small(seed, 0.0, site="m1", grade="good")
    mid = _small(seed, 0.0, site="m1", grade="intermediate")
    poor = _small(seed, 0.0, site="m1", grade="poor")
    assert good.truth["collateral_grade"] == "good" and poor.truth["site"] == "m1"
    # same anatomy and reference
    assert np.array_equal(_parenchyma(good), _parenchyma(poor))
    assert good.truth["normal_cbf"] == pytest.approx(poor.truth["normal_cbf"])
    # r(L) is ordered by grade at every path length, so the cores nest
    assert not (good.maps["core"] & ~mid.maps["core"]).any()
    assert not (mid.maps["core"] & ~poor.maps["core"]).any()
    assert poor.truth["core_ml"] > mid.truth["core_ml"] + 5 > good.truth["core_ml"] + 5
    assert poor.truth["tmax6_ml"] >= good.truth["tmax6_ml"]
    assert np.nanmean(poor.maps["cbf"]) < np.nanmean(good.maps["cbf"])


def test_lenticulostriate_core_in_proximal_occlusion() -> None:
    case = _small(1, 0.0)  # proximal M1, intermediate collaterals
    assert case.truth["site"] == "m1" and case.truth["lenticulostriate_affected"]
    core = case.maps["core"]
    # the deepest (most central) part of the lesion hemisphere is core
    par = _parenchyma(case)
    zz, yy, xx = np.nonzero(core)
    assert core.sum() > 0
    mid = np.nonzero(par)[2].mean()
    dist = np.abs(xx - mid)
    assert np.percentile(dist, 10) < 10  # within 30 mm of the midline: basal ganglia


@pytest.mark.parametrize(
    "kwargs",
    [
        {"residue": "lognormal"},
        {"noise_hu": -1.0},
        {"noise_hu": float("nan")},
        {"seed": -3},
        {"interval_s": 0.0},
        {"n_frames": 1},
        {"shape": (6, 8, 64)},
        {"spacing": (5.0, 0.0, 3.0)},
        {"lesion": "yes"},
    ],
)
def test_invalid_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        make_case(**{**SMALL, **kwargs})

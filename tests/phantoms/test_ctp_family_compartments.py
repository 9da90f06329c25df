"""CTP phantom family "compartments": the truth of the generator itself (shapes, determinism,
anatomy independence, indicator-dilution bookkeeping, noise level and texture, truth masks and
volumes, lesion side, no-core cases, the Tmax definition)."""

from __future__ import annotations

import functools
import json
import time
from typing import Any

import numpy as np
import pytest
from scipy import signal, special

from strokealert.phantoms.ctp_families import compartments as cp
from strokealert.phantoms.ctp_families.compartments import (
    RESIDUES,
    CtpCase,
    dispersed_residue_peak,
    lesion_plan,
    make_case,
    noise_plan,
)

SMALL: dict[str, Any] = {"shape": (6, 64, 64), "spacing": (5.0, 3.0, 3.0), "n_frames": 24}


@functools.cache
def small(
    seed: int = 0,
    residue: str = "exponential",
    noise_hu: float = 10.0,
    lesion: bool = True,
    n_frames: int = 24,
) -> CtpCase:
    kw = dict(SMALL, n_frames=n_frames)
    return make_case(seed=seed, residue=residue, noise_hu=noise_hu, lesion=lesion, **kw)


@pytest.fixture(scope="module")
def full_pair() -> tuple[CtpCase, CtpCase, float]:
    """One full-size case (default arguments, seed 3) and its noise-free twin."""
    t0 = time.perf_counter()
    noisy = make_case(seed=3)
    elapsed = time.perf_counter() - t0
    clean = make_case(seed=3, noise_hu=0.0)
    return noisy, clean, elapsed


def _seed_where(pred: Any, limit: int = 200) -> int:
    for s in range(limit):
        if pred(s):
            return s
    raise AssertionError("no seed found")


# ------------------------------------------------------------------------------- structure


def test_shapes_dtypes_and_json() -> None:
    case = small(0)
    t, z, y, x = case.frames.shape
    assert (t, z, y, x) == (24, 6, 64, 64)
    assert case.frames.dtype == np.float32
    assert case.times.dtype == np.float64 and case.times.shape == (24,)
    assert case.times[0] == 0.0
    np.testing.assert_allclose(np.diff(case.times), 1.5)
    assert case.spacing == (5.0, 3.0, 3.0)
    for key in ("cbf", "cbv", "tmax"):
        assert case.maps[key].dtype == np.float32
        assert case.maps[key].shape == (z, y, x)
        par = case.maps["parenchyma"]
        assert np.isnan(case.maps[key][~par]).all()
        assert np.isfinite(case.maps[key][par]).all()
    for key in ("core", "tmax6", "parenchyma"):
        assert case.maps[key].dtype == np.bool_
        assert case.maps[key].shape == (z, y, x)
    truth = json.loads(json.dumps(case.truth))
    for key in (
        "core_ml",
        "tmax6_ml",
        "tmax4_ml",
        "side",
        "residue",
        "noise_hu",
        "seed",
        "normal_cbf",
        "noise_kind",
        "lesion_site",
    ):
        assert key in truth
    assert truth["side"] in ("left", "right", "none")
    assert truth["noise_kind"] in cp.NOISE_KINDS
    assert truth["lesion_site"] in ("M1", "M2", "none")
    assert np.isfinite(case.frames).all()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        make_case(residue="lognormal", **SMALL)
    with pytest.raises(ValueError):
        make_case(noise_hu=-1.0, **SMALL)


def test_deterministic_per_seed() -> None:
    a = make_case(seed=7, **SMALL)
    b = make_case(seed=7, **SMALL)
    np.testing.assert_array_equal(a.frames, b.frames)
    assert json.dumps(a.truth, sort_keys=True) == json.dumps(b.truth, sort_keys=True)
    for key in a.maps:
        np.testing.assert_array_equal(a.maps[key], b.maps[key])
    c = small(8)
    assert not np.array_equal(a.maps["tissue_fraction"], c.maps["tissue_fraction"])


def test_anatomy_unchanged_by_residue_noise_and_lesion() -> None:
    ref = small(4, "exponential", 0.0, True)
    others = [
        small(4, "gamma", 0.0, True),
        small(4, "box", 0.0, True),
        small(4, "exponential", 0.0, False),
        small(4, "exponential", 10.0, True),
        small(4, "box", 20.0, False),
    ]
    anat = (
        "parenchyma",
        "gm_fraction",
        "wm_fraction",
        "tissue_fraction",
        "vessel_fraction",
        "csf_fraction",
    )
    for o in others:
        for key in anat:
            np.testing.assert_array_equal(ref.maps[key], o.maps[key])
        if o.truth["noise_hu"] == 0:
            # frame 0 precedes the bolus: it is the unenhanced baseline, identical
            np.testing.assert_array_equal(ref.frames[0], o.frames[0])


def test_baseline_hu_ranges(full_pair: tuple[CtpCase, CtpCase, float]) -> None:
    _, clean, _ = full_pair
    base = clean.frames[0]
    pure = clean.maps["parenchyma"] & (clean.maps["tissue_fraction"] > 0.97)
    assert 20.0 <= float(base[pure].min()) and float(base[pure].max()) <= 46.0
    assert float(base.max()) > 1000.0  # skull
    assert float(base[:, 0, 0].max()) == pytest.approx(-1000.0)  # air in the corners
    pure_gm = clean.maps["gm_fraction"] > 0.98
    pure_wm = clean.maps["wm_fraction"] > 0.98
    assert base[pure_gm].mean() > base[pure_wm].mean() + 5.0
    vol = clean.truth["parenchyma_ml"]
    assert 600.0 < vol < 1300.0


def test_full_size_generation_time(full_pair: tuple[CtpCase, CtpCase, float]) -> None:
    noisy, _, elapsed = full_pair
    assert noisy.frames.shape == (40, 16, 128, 128)
    assert elapsed < 60.0  # ~2-3 s on an unloaded core; generous for loaded CI machines


# ------------------------------------------------------------------------------- physiology


@pytest.mark.parametrize("residue", RESIDUES)
def test_noise_free_tissue_curves_reproduce_cbv(residue: str) -> None:
    case = small(2, residue, 0.0, False, n_frames=40)
    m = case.maps
    sel = (m["gm_fraction"] >= 0.95) & (m["vessel_fraction"] == 0) & m["parenchyma"]
    assert sel.sum() >= 20
    aif = np.asarray(case.truth["aif_hu"])
    a_area = np.trapezoid(aif, case.times)
    enh = case.frames[:, sel] - case.frames[0, sel][None, :]
    t_area = np.trapezoid(enh, case.times, axis=0)
    cbv_est = t_area / a_area * cp.K_H / cp.RHO * 100.0 / m["tissue_fraction"][sel]
    rel = cbv_est / m["cbv"][sel] - 1.0
    # truncation of the plateau tail costs a few per cent, never more than 5 %
    assert np.all(np.abs(rel) < 0.05), (rel.min(), rel.max())
    assert abs(float(np.median(rel))) < 0.04


def test_aif_and_venous_truth(full_pair: tuple[CtpCase, CtpCase, float]) -> None:
    _, clean, _ = full_pair
    tr = clean.truth
    aif = np.asarray(tr["aif_hu"])
    vof = np.asarray(tr["vof_hu"])
    t = clean.times
    assert 3.0 <= tr["aif"]["arrival_s"] <= 9.0
    assert 250.0 <= tr["aif"]["peak_hu"] <= 600.0
    assert 0.85 * tr["aif"]["peak_hu"] <= aif.max() <= tr["aif"]["peak_hu"]
    # exactly zero until 2.5 s before arrival (plus half the acquisition window)
    assert np.all(aif[t < tr["aif"]["arrival_s"] - 2.5 - 0.3] == 0.0)
    assert aif[0] == 0.0
    # recirculation and plateau keep the late arterial curve above zero
    assert aif[-1] > 0.02 * aif.max()
    ratio = vof.max() / aif.max()
    assert 0.9 <= ratio <= 1.9
    delay = t[int(np.argmax(vof))] - t[int(np.argmax(aif))]
    assert 3.0 <= delay <= 10.0
    # the ICA voxel shows the AIF scaled by its vessel fraction
    z, y, x = tr["aif_voxel"]
    curve = clean.frames[:, z, y, x] - clean.frames[0, z, y, x]
    vf = clean.maps["vessel_fraction"][z, y, x]
    assert vf > 0.8
    assert curve.max() == pytest.approx(vf * aif.max(), rel=0.1)


def test_noise_sd_and_kinds() -> None:
    for kind in cp.NOISE_KINDS:
        seed = _seed_where(lambda s, k=kind: noise_plan(s)["kind"] == k)
        noisy = small(seed, "exponential", 10.0, True)
        clean = small(seed, "exponential", 0.0, True)
        assert noisy.truth["noise_kind"] == kind
        diff = noisy.frames.astype(np.float64) - clean.frames
        z_ok = np.asarray(noisy.truth["noise_factor_by_slice"]) == 1.0
        assert z_ok.any()
        d = diff[:, z_ok]
        offsets = d.mean(axis=(1, 2, 3))
        # the frame mean is the offset plus the (texture dependent) mean of the noise
        np.testing.assert_allclose(offsets, noisy.truth["frame_offset_hu"], atol=1.0)
        assert np.corrcoef(offsets, noisy.truth["frame_offset_hu"])[0, 1] > 0.6
        assert np.all(np.abs(noisy.truth["frame_offset_hu"]) <= 1.0)
        resid = d - offsets[:, None, None, None]
        sd_per_frame = resid.reshape(resid.shape[0], -1).std(axis=1)
        assert np.all(np.abs(sd_per_frame / 10.0 - 1.0) < 0.10), (kind, sd_per_frame)
        # per-voxel temporal sd also matches
        assert abs(float(np.median(resid.std(axis=0))) / 10.0 - 1.0) < 0.10
        # texture: neighbouring pixels are correlated for the filtered kinds only
        a = resid[:, :, :, :-1].ravel()
        b = resid[:, :, :, 1:].ravel()
        corr = float(np.corrcoef(a, b)[0, 1])
        if kind == "white":
            assert abs(corr) < 0.05
        elif kind == "blur":
            assert corr > 0.2
        else:
            assert abs(corr) > 0.02


def test_noise_independent_between_frames() -> None:
    noisy = small(0, "exponential", 10.0, True)
    clean = small(0, "exponential", 0.0, True)
    d = noisy.frames.astype(np.float64) - clean.frames
    d -= d.mean(axis=(1, 2, 3), keepdims=True)
    corr = np.corrcoef(d[0].ravel(), d[1].ravel())[0, 1]
    assert abs(corr) < 0.05


def test_posterior_fossa_noise(full_pair: tuple[CtpCase, CtpCase, float]) -> None:
    noisy, clean, _ = full_pair
    factor = np.asarray(noisy.truth["noise_factor_by_slice"])
    z = np.asarray(noisy.truth["slice_z_mm"])
    assert np.all(factor[z < cp.PF_Z_MM] == pytest.approx(1.3))
    assert np.all(factor[z >= cp.PF_Z_MM] == 1.0)
    assert (factor > 1).any() and (factor == 1).any()
    d = noisy.frames.astype(np.float64) - clean.frames
    d -= d.mean(axis=(2, 3), keepdims=True)
    sd = d.std(axis=(0, 2, 3))
    np.testing.assert_allclose(sd, 10.0 * factor, rtol=0.05)


# ------------------------------------------------------------------------------- truth masks


def _check_masks(case: CtpCase) -> None:
    m, tr = case.maps, case.truth
    core, t6, par = m["core"], m["tmax6"], m["parenchyma"]
    assert not (core & ~t6).any()
    assert not (core & ~par).any()
    assert not (t6 & ~par).any()
    vml = float(np.prod(case.spacing)) / 1000.0
    assert tr["core_ml"] == pytest.approx(core.sum() * vml)
    assert tr["tmax6_ml"] == pytest.approx(t6.sum() * vml)
    assert tr["tmax4_ml"] == pytest.approx(m["tmax4"].sum() * vml)
    # definitions recomputed from the maps
    tmax = np.where(par, m["tmax"], np.nan)
    np.testing.assert_array_equal(t6, par & (np.nan_to_num(tmax) > 6.0))
    cbf = np.nan_to_num(m["cbf"], nan=np.inf)
    np.testing.assert_array_equal(core, par & (cbf < 0.3 * tr["normal_cbf"]))
    # core lies in the designed core compartment, with delays beyond 6 s
    assert np.all(m["lesion"][core] == 3)
    assert np.all(m["delay"][core] > 6.0)
    # tmax >= delay everywhere, and equals it (<= 1.5 s) in normal tissue
    assert np.all(m["tmax"][par] >= m["delay"][par] - 1e-5)
    normal = par & (m["lesion"] == 0)
    np.testing.assert_allclose(m["tmax"][normal], m["delay"][normal], atol=1e-5)
    assert float(m["delay"][normal].max()) <= 1.5 + 1e-6
    if tr["side"] != "none":
        nx = core.shape[2]
        sign = 1 if tr["side"] == "left" else -1
        hemi = (np.arange(nx) - (nx - 1) / 2.0) * sign < 0
        sel = par & hemi[None, None, :] & (m["tmax"] < 4.0)
        assert tr["normal_cbf"] == pytest.approx(float(np.mean(m["cbf"][sel])), rel=0.03)


def test_truth_masks_full_size(full_pair: tuple[CtpCase, CtpCase, float]) -> None:
    noisy, clean, _ = full_pair
    _check_masks(noisy)
    assert noisy.truth["core_ml"] == clean.truth["core_ml"]
    assert noisy.truth["tmax6_ml"] == clean.truth["tmax6_ml"]
    assert noisy.truth["tmax6_ml"] > 0


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
def test_truth_masks_and_side_small(seed: int) -> None:
    case = small(seed)
    _check_masks(case)
    tr, m = case.truth, case.maps
    plan = lesion_plan(seed)
    assert tr["side"] == plan["side"]
    assert tr["lesion_site"] == plan["site"]
    les = m["lesion"] > 0
    assert les.any() and tr["tmax6_ml"] > 0
    nx = les.shape[2]
    cols = np.nonzero(les)[2]
    centre = (nx - 1) / 2.0
    if tr["side"] == "left":  # x grows towards the patient's left
        assert np.all(cols > centre)
    else:
        assert np.all(cols < centre)
    t6_cols = np.nonzero(m["tmax6"])[2]
    assert np.all((t6_cols > centre) == (tr["side"] == "left"))


@pytest.mark.parametrize("residue", RESIDUES)
def test_every_residue_has_consistent_truth(residue: str) -> None:
    case = small(2, residue, 5.0, True)
    _check_masks(case)
    assert case.truth["residue"] == residue


def test_no_lesion() -> None:
    case = small(3, "exponential", 10.0, False)
    tr = case.truth
    assert tr["side"] == "none" and tr["lesion_site"] == "none"
    assert tr["core_ml"] == 0.0 and tr["tmax6_ml"] == 0.0 and tr["tmax4_ml"] == 0.0
    assert not case.maps["core"].any() and not case.maps["tmax6"].any()
    assert not (case.maps["lesion"] > 0).any()
    par = case.maps["parenchyma"]
    assert tr["normal_cbf"] == pytest.approx(float(np.mean(case.maps["cbf"][par])), rel=1e-4)
    _check_masks(case)


def test_no_core_lesion_case_exists() -> None:
    plans = [lesion_plan(s) for s in range(60)]
    no_core = [s for s, p in enumerate(plans) if p["no_core"]]
    assert 1 <= len(no_core) <= 15
    seed = no_core[0]
    case = small(seed)
    assert case.truth["planned_no_core"]
    assert case.truth["core_ml"] == 0.0
    assert case.truth["tmax6_ml"] > 0.0
    assert not (case.maps["lesion"] == 3).any()


def test_lesion_plan_spread() -> None:
    plans = [lesion_plan(s) for s in range(200)]
    cores = np.array([p["core_target_ml"] for p in plans if not p["no_core"]])
    assert cores.min() >= 1.5 and cores.max() <= 100.0
    assert 0.25 < np.mean(cores < 10.0) < 0.6
    sides = {p["side"] for p in plans}
    sites = {p["site"] for p in plans}
    assert sides == {"left", "right"} and sites == {"M1", "M2"}
    assert any(p["deep"] for p in plans) and any(not p["deep"] for p in plans)


def test_penumbra_flow_is_spread_not_floored(full_pair: tuple[CtpCase, CtpCase, float]) -> None:
    _, clean, _ = full_pair
    m = clean.maps
    pen = (m["lesion"] == 2) & m["parenchyma"] & (m["gm_fraction"] > 0.9)
    if pen.sum() < 20:
        pytest.skip("too little grey-matter penumbra in this seed")
    normal_gm = float(
        np.nanmean(m["cbf"][(m["lesion"] == 0) & m["parenchyma"] & (m["gm_fraction"] > 0.9)])
    )
    r = m["cbf"][pen] / normal_gm
    assert r.min() < 0.55 and r.max() > 0.6
    assert np.unique(np.round(r, 3)).size > 20
    assert np.mean(np.isclose(r, r.min(), atol=1e-3)) < 0.05


# ------------------------------------------------------------------------------- Tmax definition


def _numeric_peak(residue: str, mtt: float, beta: float) -> float:
    dt = 0.002
    t = np.arange(0.0, 4.0 * mtt + 12.0 * beta + 5.0, dt)
    if residue == "exponential":
        r = np.exp(-t / mtt)
    elif residue == "gamma":
        r = special.gammaincc(3.0, t / (mtt / 3.0))
    else:
        r = (t < mtt).astype(np.float64)
    h = np.exp(-t / beta) / beta * dt
    y = signal.fftconvolve(r, h)[: t.size]
    if residue == "box":  # the plateau's rise to 95 % of its maximum (module doc)
        return float(t[int(np.argmax(y >= 0.95 * y.max()))])
    return float(t[int(np.argmax(y))])


@pytest.mark.parametrize("residue", RESIDUES)
@pytest.mark.parametrize(("mtt", "beta"), [(4.0, 0.5), (8.0, 2.0), (15.0, 3.0), (3.0, 3.0)])
def test_dispersed_residue_peak_matches_numeric(residue: str, mtt: float, beta: float) -> None:
    got = float(dispersed_residue_peak(residue, mtt, beta))
    assert got == pytest.approx(_numeric_peak(residue, mtt, beta), abs=0.03)


@pytest.mark.parametrize("residue", RESIDUES)
def test_undispersed_peak_is_zero(residue: str) -> None:
    assert float(dispersed_residue_peak(residue, 5.0, 0.0)) == 0.0

"""Tests of the "dosecurve" CT perfusion phantom family (no perfusion analysis is run)."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from strokealert.phantoms.ctp_families.dosecurve import (
    GAMMA_SHAPE,
    RESIDUES,
    CtpCase,
    default_times,
    make_case,
    residue_function,
)

# a cheap grid with the default FOV and slab: 3-mm pixels, coarse fine grid
SMALL: dict[str, Any] = {
    "shape": (16, 64, 64),
    "spacing": (5.0, 3.0, 3.0),
    "supersample": (2, 3, 3),
}
NOISE = 10.0
SEED = 3


@pytest.fixture(scope="module")
def clean() -> CtpCase:
    return make_case(seed=SEED, noise_hu=0.0)


@pytest.fixture(scope="module")
def noisy() -> CtpCase:
    return make_case(seed=SEED, noise_hu=NOISE)


@pytest.fixture(scope="module")
def noise_diff(clean: CtpCase, noisy: CtpCase) -> np.ndarray[Any, np.dtype[np.float64]]:
    return noisy.frames.astype(np.float64) - clean.frames.astype(np.float64)


def _maps_equal(a: CtpCase, b: CtpCase) -> bool:
    if a.maps.keys() != b.maps.keys():
        return False
    return all(
        np.array_equal(a.maps[k], b.maps[k], equal_nan=a.maps[k].dtype.kind == "f") for k in a.maps
    )


def _truth_without(case: CtpCase, *keys: str) -> str:
    return json.dumps({k: v for k, v in case.truth.items() if k not in keys}, sort_keys=True)


# --------------------------------------------------------------------------- interface


def test_shapes_dtypes_and_units(noisy: CtpCase) -> None:
    c = noisy
    times = default_times()
    assert c.frames.shape == (times.size, 16, 128, 128)
    assert c.frames.dtype == np.float32
    assert c.times.dtype == np.float64
    np.testing.assert_array_equal(c.times, times)
    assert c.times[0] == 0.0 and np.all(np.diff(c.times) > 0)
    assert 60.0 <= c.times[-1] <= 90.0
    assert set(np.round(np.diff(c.times), 6)) == {1.0, 2.0, 3.0}  # irregular sampling
    assert c.spacing == (5.0, 1.5, 1.5)
    for key in ("cbf", "cbv", "tmax", "core", "tmax6"):
        assert c.maps[key].shape == (16, 128, 128)
    par = c.maps["parenchyma"]
    for key in ("cbf", "cbv", "tmax", "mtt", "delay", "cbf_rel"):
        m = c.maps[key]
        assert m.dtype == np.float32
        np.testing.assert_array_equal(np.isnan(m), ~par)
    assert c.maps["core"].dtype == np.bool_ and c.maps["tmax6"].dtype == np.bool_
    # JSON-serialisable truth with the required keys
    json.dumps(c.truth)
    for key in ("seed", "residue", "noise_hu", "core_ml", "tmax6_ml", "side"):
        assert key in c.truth
    assert c.truth["seed"] == SEED and c.truth["residue"] == "exponential"
    assert c.truth["noise_hu"] == NOISE and c.truth["side"] in ("left", "right")
    assert c.truth["voxel_ml"] == pytest.approx(5.0 * 1.5 * 1.5 / 1000.0)
    assert c.truth["gamma_shape"] == GAMMA_SHAPE != 1.0
    # physiological units: mL/100 g/min and mL/100 g
    ncbf, ncbv = c.truth["normal_cbf"], c.truth["normal_cbv"]
    assert 45.0 < ncbf["cortex"] < 75.0 and 15.0 < ncbf["wm"] < 30.0
    assert 3.0 < ncbv["cortex"] < 5.5 and 1.5 < ncbv["wm"] < 2.8
    assert 1.5 < c.truth["normal_cbf"]["cortex"] / c.truth["normal_cbf"]["wm"] < 4.0


def test_absolute_hu_and_partial_volume(clean: CtpCase) -> None:
    f0 = clean.frames[0]
    assert f0[:, 0, 0].max() == pytest.approx(-1000.0)  # air in the corner
    par = clean.maps["parenchyma"]
    assert 20.0 < float(np.median(f0[par])) < 45.0
    assert f0.max() > 900.0  # bone
    fr = clean.maps
    total = fr["fraction_parenchyma"] + fr["fraction_csf"] + fr["fraction_vessel"]
    assert float(total.max()) <= 1.0 + 1e-5
    # averaging the fine grid mixes tissues within 5-mm slices
    mixed = (
        (fr["fraction_cortex"] > 0.15) & (fr["fraction_wm"] > 0.15) & (fr["fraction_csf"] > 0.05)
    )
    assert int(mixed.sum()) > 1000
    gm = fr["fraction_cortex"][par]
    assert np.any((gm > 0.3) & (gm < 0.7)) and np.any(gm > 0.95)


# --------------------------------------------------------------------------- streams


def test_deterministic_per_seed() -> None:
    a = make_case(seed=5, noise_hu=NOISE, **SMALL)
    b = make_case(seed=5, noise_hu=NOISE, **SMALL)
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.times, b.times)
    assert json.dumps(a.truth, sort_keys=True) == json.dumps(b.truth, sort_keys=True)
    assert _maps_equal(a, b)
    c = make_case(seed=6, noise_hu=NOISE, **SMALL)
    assert not np.array_equal(a.frames, c.frames)


def test_noise_free_frames_are_the_same_case(clean: CtpCase, noisy: CtpCase) -> None:
    assert _maps_equal(clean, noisy)
    keys = ("noise_hu", "frame_noise_sd_hu", "frame_offset_hu", "quantised")
    assert _truth_without(clean, *keys) == _truth_without(noisy, *keys)
    assert clean.truth["frame_offset_hu"] == [0.0] * clean.times.size
    # noise-free frames are exact (not rounded), noisy ones quantised to whole HU
    assert not np.all(clean.frames == np.round(clean.frames))
    assert np.all(noisy.frames == np.round(noisy.frames))
    assert noisy.truth["quantised"] and not clean.truth["quantised"]
    # the difference is noise only: zero mean, SD of the order of noise_hu
    d = noisy.frames.astype(np.float64) - clean.frames
    assert abs(float(d.mean())) < 0.5
    assert 0.5 * NOISE < float(d[:, clean.maps["parenchyma"]].std()) < 2.5 * NOISE


def test_residue_and_noise_leave_head_and_lesion_unchanged() -> None:
    base = make_case(seed=2, residue="exponential", noise_hu=0.0, **SMALL)
    for residue in ("gamma", "box"):
        other = make_case(seed=2, residue=residue, noise_hu=0.0, **SMALL)
        assert _maps_equal(base, other)
        assert _truth_without(base, "residue") == _truth_without(other, "residue")
        np.testing.assert_array_equal(base.frames[0], other.frames[0])
    n10 = make_case(seed=2, noise_hu=10.0, **SMALL)
    n20 = make_case(seed=2, noise_hu=20.0, **SMALL)
    assert _maps_equal(base, n20)
    # the same noise pattern, scaled (up to the 1-HU quantisation of each)
    d10 = n10.frames.astype(np.float64) - base.frames
    d20 = n20.frames.astype(np.float64) - base.frames
    assert float(np.abs(d20 - 2.0 * d10).max()) <= 1.5 + 1e-6


# --------------------------------------------------------------------------- noise


def _frame_sd(
    diff: np.ndarray[Any, np.dtype[np.float64]], mask: np.ndarray[Any, Any], offsets: list[float]
) -> np.ndarray[Any, np.dtype[np.float64]]:
    return np.array(
        [math.sqrt(float(np.mean((diff[i][mask] - offsets[i]) ** 2))) for i in range(len(diff))]
    )


def test_baseline_noise_is_noise_hu(
    noisy: CtpCase, noise_diff: np.ndarray[Any, np.dtype[np.float64]]
) -> None:
    tr = noisy.truth
    nb = tr["baseline_frames"]
    assert nb >= 5
    assert nb == int(np.sum(noisy.times < tr["aif_arrival_s"]))
    par = noisy.maps["parenchyma"]
    sd = _frame_sd(noise_diff[:nb], par, tr["frame_offset_hu"][:nb])
    expected = math.sqrt(NOISE**2 + 1.0 / 12.0)  # + quantisation
    np.testing.assert_allclose(sd, expected, rtol=0.03)
    # what one measures from the noisy frames alone: the temporal SD over baseline frames
    tsd = noisy.frames[:nb].astype(np.float64).std(axis=0, ddof=1)
    assert float(np.sqrt(np.mean(tsd[par] ** 2))) == pytest.approx(NOISE, rel=0.05)


def test_late_sparse_frames_are_noisier_by_the_dose_law(
    noisy: CtpCase, noise_diff: np.ndarray[Any, np.dtype[np.float64]]
) -> None:
    tr = noisy.truth
    dt = np.diff(noisy.times, prepend=noisy.times[0] - (noisy.times[1] - noisy.times[0]))
    law = NOISE * np.maximum(dt, 1.0) ** 0.4
    np.testing.assert_allclose(tr["frame_noise_sd_hu"], law, rtol=1e-9)
    np.testing.assert_allclose(tr["tube_current_relative"], np.maximum(dt, 1.0) ** -0.8)
    sd = _frame_sd(noise_diff, noisy.maps["parenchyma"], tr["frame_offset_hu"])
    np.testing.assert_allclose(sd, np.sqrt(law**2 + 1.0 / 12.0), rtol=0.03)
    late = sd[dt == 3.0].mean() / sd[dt == 1.0].mean()
    assert 1.3 < late < 1.6
    assert sd[dt == 2.0].mean() / sd[dt == 1.0].mean() == pytest.approx(2.0**0.4, rel=0.03)


def test_noise_texture_radial_profile_and_offsets(
    noisy: CtpCase, noise_diff: np.ndarray[Any, np.dtype[np.float64]]
) -> None:
    tr = noisy.truth
    off = np.array(tr["frame_offset_hu"])
    n = noise_diff - off[:, None, None, None]
    par = noisy.maps["parenchyma"]
    _, ny, nx = par.shape
    yy, xx = np.mgrid[:ny, :nx]
    r = np.hypot(yy - ny / 2.0, xx - nx / 2.0) * 1.5
    centre = par & (r < 20.0)[None]
    rim = par & (r > 55.0)[None]
    ratio = math.sqrt(float(np.mean(n[:, centre] ** 2)) / float(np.mean(n[:, rim] ** 2)))
    assert ratio > 1.1  # the centre of the head is noisier
    # NPS: ramp x window -> little power at the lowest frequencies, a mid-frequency peak
    spec = np.mean(np.abs(np.fft.fft2(n[:10, 4:12], axes=(-2, -1))) ** 2, axis=(0, 1))
    f = np.hypot(*np.meshgrid(np.fft.fftfreq(ny, 1.5), np.fft.fftfreq(nx, 1.5), indexing="ij"))
    low = spec[(f > 0) & (f < 0.03)].mean()
    mid = spec[(f > 0.1) & (f < 0.2)].mean()
    high = spec[f > 0.3].mean()
    assert low < 0.5 * mid and high < mid
    # independent between frames
    assert abs(float(np.corrcoef(n[3][par], n[4][par])[0, 1])) < 0.02
    # a small global offset per frame (tube output), recovered from the frame means
    assert 0.03 * NOISE < float(off.std()) < 0.3 * NOISE
    means = noise_diff.reshape(noise_diff.shape[0], -1).mean(axis=1)
    assert float(np.corrcoef(means, off)[0, 1]) > 0.95


# --------------------------------------------------------------------------- residues


@pytest.mark.parametrize("residue", RESIDUES)
def test_residue_functions(residue: str) -> None:
    t = np.linspace(0.0, 200.0, 200001)
    mtt = 6.0
    r = residue_function(t, mtt, residue)
    assert r[0] == 1.0
    assert np.all(np.diff(r) <= 1e-12)  # non-increasing: its peak is at t = 0
    assert float(np.sum(r[:-1]) * (t[1] - t[0])) == pytest.approx(mtt, rel=1e-3)
    assert residue_function(np.array([-1.0]), mtt, residue)[0] == 0.0


def test_residue_shapes_really_differ() -> None:
    t = np.linspace(0.0, 20.0, 201)
    curves = {res: residue_function(t, 5.0, res) for res in RESIDUES}
    for a in RESIDUES:
        for b in RESIDUES:
            if a < b:
                assert float(np.abs(curves[a] - curves[b]).max()) > 0.1
    cases = {res: make_case(seed=4, residue=res, noise_hu=0.0, **SMALL) for res in RESIDUES}
    par = cases["exponential"].maps["parenchyma"]
    enh = {k: c.frames[:, par] - c.frames[0, par] for k, c in cases.items()}
    for a in RESIDUES:
        for b in RESIDUES:
            if a < b:
                assert float(np.abs(enh[a] - enh[b]).max()) > 1.0
    # box (plug flow) gives the highest, exponential the lowest tissue peak at equal CBV
    peaks = {k: float(np.median(v.max(axis=0))) for k, v in enh.items()}
    assert peaks["box"] > peaks["gamma"] > peaks["exponential"]


def test_tissue_curves_conserve_cbv() -> None:
    """Over a long acquisition, the area of each voxel's enhancement over the AIF's area is
    its whole-voxel CBV (central volume theorem, no rho or k_H)."""
    times = np.arange(0.0, 200.0, 1.0)
    for residue in RESIDUES:
        c = make_case(seed=1, residue=residue, noise_hu=0.0, times=times, **SMALL)
        ok = c.maps["parenchyma"] & (c.maps["fraction_vessel"] == 0.0)
        enh = c.frames.astype(np.float64) - c.frames[0]
        ratio = 100.0 * enh[:, ok].sum(axis=0) / np.sum(c.truth["aif_hu"])
        np.testing.assert_allclose(ratio, c.maps["cbv_voxel"][ok], rtol=0.01, atol=0.01)


# --------------------------------------------------------------------------- truth


def test_truth_volumes_match_masks(clean: CtpCase) -> None:
    m, tr = clean.maps, clean.truth
    par = m["parenchyma"]
    v = tr["voxel_ml"]
    assert tr["core_ml"] == pytest.approx(m["core"].sum() * v)
    assert tr["tmax6_ml"] == pytest.approx(m["tmax6"].sum() * v)
    assert tr["penumbra_ml"] == pytest.approx((m["tmax6"] & ~m["core"]).sum() * v)
    assert not np.any(m["core"] & ~par) and not np.any(m["tmax6"] & ~par)
    np.testing.assert_array_equal(m["tmax6"], par & (np.nan_to_num(m["tmax"]) > 6.0))
    np.testing.assert_array_equal(m["core"], par & (np.nan_to_num(m["cbf_rel"], nan=9.0) < 0.3))
    assert not np.any(m["core"] & ~m["tmax6"])  # every core voxel is also Tmax > 6 s
    assert tr["core_ml"] > 0.0 and tr["tmax6_ml"] > tr["core_ml"]
    # Tmax = arrival delay + residue peak time (0); MTT = CBV/CBF
    assert tr["residue_peak_s"] == 0.0
    np.testing.assert_array_equal(m["tmax"][par], m["delay"][par])
    np.testing.assert_allclose(m["mtt"][par], 60.0 * m["cbv"][par] / m["cbf"][par], rtol=1e-4)
    # relative CBF: against the fraction-weighted normal mean of the same tissue kinds
    ncbf = tr["normal_cbf"]
    ref = (
        m["fraction_cortex"] * ncbf["cortex"]
        + m["fraction_deep_gm"] * ncbf["deep_gm"]
        + m["fraction_wm"] * ncbf["wm"]
    )
    np.testing.assert_allclose(m["cbf_rel"][par], m["cbf_voxel"][par] / ref[par], rtol=1e-4)
    np.testing.assert_allclose(
        m["cbf"][par], m["cbf_voxel"][par] / m["fraction_parenchyma"][par], rtol=1e-4
    )


def test_ischaemia_follows_the_autoregulation_model(clean: CtpCase) -> None:
    m = clean.maps
    par = m["parenchyma"]
    core, tmax6 = m["core"], m["tmax6"]
    normal = par & (m["delay"] < 1.5) & (np.abs(m["cbf_rel"] - 1.0) < 0.1)
    pen = tmax6 & ~core
    cortex = m["kind"] == 1
    cbv_rel = m["cbv"]
    # penumbra: long MTT, raised (or kept) CBV; core: low CBV and CBF
    assert np.median(m["mtt"][pen & cortex]) > 1.3 * np.median(m["mtt"][normal & cortex])
    assert np.median(cbv_rel[pen & cortex]) > np.median(cbv_rel[core & cortex])
    assert np.median(cbv_rel[core & cortex]) < 0.8 * np.median(cbv_rel[normal & cortex])
    assert np.median(m["cbf_rel"][core]) < 0.3
    oligaemic = par & (m["cbf_rel"] > 0.95) & (m["delay"] > 3.0)
    assert np.median(cbv_rel[oligaemic & cortex]) > 1.1 * np.median(cbv_rel[normal & cortex])


def test_lesion_input_is_late_and_dispersed_and_vof_conserves_area(clean: CtpCase) -> None:
    tr = clean.truth
    t = clean.times
    aif, les, vof = (np.array(tr[k]) for k in ("aif_hu", "lesion_input_hu", "vof_hu"))
    delay = tr["lesion_input_delay_s"]
    assert delay > 2.0
    assert tr["lesion_input_dispersion_s"] == pytest.approx(tr["dispersion_per_s"] * delay)
    assert t[np.argmax(les)] >= t[np.argmax(aif)] + delay - 1.0
    assert les.max() < 0.9 * aif.max()  # dispersed
    assert t[np.argmax(vof)] > t[np.argmax(aif)] and vof.max() < aif.max()
    assert tr["vof_area_ratio"] == pytest.approx(1.0, abs=1e-3)
    # the analysis' AIF voxel (healthy ICA/M1) and the sinus voxel carry those curves
    z, y, x = tr["aif_voxel"]
    assert (x >= 64) == (tr["side"] == "right")  # healthy side
    curve = clean.frames[:, z, y, x] - clean.frames[0, z, y, x]
    assert float(np.corrcoef(curve, aif)[0, 1]) > 0.99
    assert curve.max() > 150.0
    z, y, x = tr["vof_voxel"]
    curve = clean.frames[:, z, y, x] - clean.frames[0, z, y, x]
    assert float(np.corrcoef(curve, vof)[0, 1]) > 0.99
    # nothing enhances before the bolus reaches the ICA
    nb = tr["baseline_frames"]
    np.testing.assert_allclose(clean.frames[1:nb] - clean.frames[0], 0.0, atol=1e-3)


def test_lesion_side() -> None:
    sides = set()
    for seed in (0, 1, 3, 7):
        c = make_case(seed=seed, noise_hu=0.0, **SMALL)
        side = c.truth["side"]
        sides.add(side)
        tmax6 = c.maps["tmax6"]
        assert tmax6.sum() > 0
        nx = tmax6.shape[2]
        xs = np.nonzero(tmax6)[2]
        # x increases towards the patient's left
        on_left = float(np.mean(xs >= nx // 2))
        assert on_left > 0.98 if side == "left" else on_left < 0.02
        # the lesion's curves peak later than the mirrored healthy tissue's
        enh = c.frames.astype(np.float64) - c.frames[0]
        mirror = tmax6[:, :, ::-1] & c.maps["parenchyma"] & ~tmax6
        ttp_les = c.times[np.argmax(enh[:, tmax6].mean(axis=1))]
        ttp_mir = c.times[np.argmax(enh[:, mirror].mean(axis=1))]
        assert ttp_les > ttp_mir + 3.0
    assert sides == {"left", "right"}


def test_no_lesion() -> None:
    with_lesion = make_case(seed=0, noise_hu=0.0, **SMALL)
    c = make_case(seed=0, noise_hu=0.0, lesion=False, **SMALL)
    tr, m = c.truth, c.maps
    assert tr["side"] == "none" and tr["occlusion"] == "none"
    assert tr["core_ml"] == 0.0 and tr["tmax6_ml"] == 0.0
    assert not m["core"].any() and not m["tmax6"].any()
    assert tr["lesion_input_hu"] is None
    par = m["parenchyma"]
    assert float(np.abs(m["cbf_rel"][par] - 1.0).max()) < 0.15
    assert float(m["tmax"][par].max()) < 2.0
    # the same head and inputs as with the lesion
    for key in ("parenchyma", "fraction_cortex", "fraction_wm", "fraction_vessel", "kind"):
        np.testing.assert_array_equal(m[key], with_lesion.maps[key])
    assert tr["aif_hu"] == with_lesion.truth["aif_hu"]
    # left and right hemispheres perfuse alike
    enh = c.frames.astype(np.float64) - c.frames[0]
    left, right = par.copy(), par.copy()
    left[:, :, : par.shape[2] // 2] = False
    right[:, :, par.shape[2] // 2 :] = False
    np.testing.assert_allclose(enh[:, left].mean(axis=1), enh[:, right].mean(axis=1), atol=0.6)


def test_lesion_sizes_vary_between_seeds() -> None:
    cores = [make_case(seed=s, noise_hu=0.0, **SMALL).truth["core_ml"] for s in (0, 4)]
    assert max(cores) > 80.0 and min(cores) < 5.0


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "kwargs",
    [
        {"residue": "gaussian"},
        {"residue": "Exponential"},
        {"noise_hu": -1.0},
        {"noise_hu": float("nan")},
        {"noise_hu": float("inf")},
        {"seed": -1},
        {"seed": 1.5},
        {"seed": True},
        {"lesion": "yes"},
        {"shape": (0, 64, 64)},
        {"shape": (4, 8, 8)},
        {"spacing": (5.0, 0.0, 1.5)},
        {"times": [1.0, 2.0, 3.0]},
        {"times": [0.0, 2.0, 1.0]},
        {"times": [0.0]},
        {"supersample": (0, 1, 1)},
    ],
)
def test_input_validation(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        make_case(**kwargs)

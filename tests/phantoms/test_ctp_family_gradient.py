"""Tests for the held-out "gradient" synthetic CTP phantom family."""

from __future__ import annotations

import json

import numpy as np
import pytest

from strokealert.phantoms.ctp_families.gradient import RESIDUES, CtpCase, make_case

SMALL: dict[str, object] = {"shape": (6, 64, 64), "spacing": (5.0, 3.0, 3.0), "n_frames": 24}


def _small(**kw: object) -> CtpCase:
    args = dict(SMALL)
    args.update(kw)
    return make_case(**args)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def full_case() -> CtpCase:
    return make_case(seed=3)


def test_shapes_dtypes_and_json(full_case: CtpCase) -> None:
    c = full_case
    assert c.frames.shape == (40, 16, 128, 128)
    assert c.frames.dtype == np.float32
    assert c.times.shape == (40,) and c.times.dtype == np.float64
    assert c.times[0] == 0.0 and np.allclose(np.diff(c.times), 1.5)
    assert c.spacing == (5.0, 1.5, 1.5)
    for key in ("cbf", "cbv", "tmax"):
        assert c.maps[key].shape == (16, 128, 128) and c.maps[key].dtype == np.float32
    for key in ("core", "tmax6"):
        assert c.maps[key].dtype == np.bool_
    assert np.all(np.isfinite(c.frames))
    json.dumps(c.truth)
    for key in ("core_ml", "tmax6_ml", "side", "residue", "noise_hu", "seed", "normal_cbf"):
        assert key in c.truth


def test_truth_volumes_match_masks(full_case: CtpCase) -> None:
    c = full_case
    voxel_ml = float(np.prod(c.spacing)) / 1000.0
    assert c.truth["core_ml"] == pytest.approx(c.maps["core"].sum() * voxel_ml)
    assert c.truth["tmax6_ml"] == pytest.approx(c.maps["tmax6"].sum() * voxel_ml)
    assert c.truth["core_ml"] > 1.0
    assert c.truth["tmax6_ml"] > c.truth["core_ml"]


def test_masks_consistent_with_maps(full_case: CtpCase) -> None:
    c = full_case
    core, tmax6 = c.maps["core"], c.maps["tmax6"]
    assert not np.any(core & ~tmax6)
    paren = np.isfinite(c.maps["cbf"])
    assert not np.any(core & ~paren)
    n = c.truth["normal_cbf"]
    assert np.array_equal(core, paren & (np.nan_to_num(c.maps["cbf"], nan=np.inf) < 0.3 * n))
    assert np.array_equal(tmax6, paren & (np.nan_to_num(c.maps["tmax"], nan=0.0) > 6.0))
    assert 20.0 < n < 45.0
    # graded deficit: rCBF within tmax6 spans a continuum, not a pile-up at one value
    r = c.maps["cbf"][tmax6] / n
    hist, _ = np.histogram(r, bins=np.arange(0.0, 1.01, 0.1))
    assert np.count_nonzero(hist) >= 6
    assert hist.max() < 0.5 * hist.sum()


def test_lesion_on_stated_side(full_case: CtpCase) -> None:
    for c in (full_case, _small(seed=0), _small(seed=2), _small(seed=4)):
        side = c.truth["side"]
        assert side in ("left", "right")
        x = np.nonzero(c.maps["tmax6"])[2]
        assert x.size > 0
        # x increases towards the patient's left
        nx = c.maps["tmax6"].shape[2]
        centre = (x.mean() + 0.5) / nx
        assert (centre > 0.5) == (side == "left")


def test_determinism_per_seed() -> None:
    a, b = _small(seed=5), _small(seed=5)
    assert np.array_equal(a.frames, b.frames)
    assert a.truth == b.truth
    for key in a.maps:
        assert np.array_equal(a.maps[key], b.maps[key], equal_nan=True)
    c = _small(seed=6)
    assert not np.array_equal(a.frames, c.frames)


@pytest.mark.parametrize("noise_hu", [5.0, 10.0, 20.0])
def test_noise_sd_in_flat_region(noise_hu: float) -> None:
    noisy = _small(seed=1, noise_hu=noise_hu)
    clean = _small(seed=1, noise_hu=0.0)
    # air corner: baseline exactly -1000 HU, no enhancement
    air = np.all(clean.frames == -1000.0, axis=0)
    assert air.sum() > 500
    sd = float(noisy.frames[:, air].std())
    assert sd == pytest.approx(noise_hu, rel=0.15)
    # noise is independent between frames
    d = noisy.frames[1:, air] - noisy.frames[:-1, air]
    assert float(d.std()) == pytest.approx(np.sqrt(2.0) * noise_hu, rel=0.15)
    # and spatially correlated in-plane
    f = noisy.frames[0] - clean.frames[0]
    corr = np.corrcoef(f[:, :, :-1].ravel(), f[:, :, 1:].ravel())[0, 1]
    assert corr > 0.3


@pytest.mark.parametrize("residue", RESIDUES)
def test_every_residue(residue: str) -> None:
    c = _small(seed=2, residue=residue, noise_hu=0.0)
    assert c.truth["residue"] == residue
    paren = np.isfinite(c.maps["cbf"])
    enh = c.frames - c.frames[0]
    curve = enh[:, paren].mean(axis=1)
    assert curve.max() > 1.0  # tissue enhances
    assert np.all(np.isfinite(c.frames))
    # normal tissue enhances more and earlier than deep-deficit tissue
    normal = paren & (c.maps["tmax"] < 1.5)
    deep = c.maps["core"]
    assert deep.any()
    assert enh[:, normal].mean(axis=1).max() > enh[:, deep].mean(axis=1).max()
    t_norm = int(np.argmax(enh[:, normal].mean(axis=1)))
    t_deep = int(np.argmax(enh[:, deep].mean(axis=1)))
    assert t_deep > t_norm


def test_residues_share_truth() -> None:
    a = _small(seed=7, residue="exponential")
    b = _small(seed=7, residue="box")
    assert a.truth["core_ml"] == b.truth["core_ml"]
    assert np.array_equal(a.maps["tmax6"], b.maps["tmax6"])
    assert not np.array_equal(a.frames, b.frames)


def test_unknown_residue_rejected() -> None:
    with pytest.raises(ValueError):
        _small(residue="lagged")


def test_no_lesion() -> None:
    c = _small(seed=3, lesion=False)
    assert c.truth["side"] == "none"
    assert c.truth["core_ml"] == 0.0 and c.truth["tmax6_ml"] == 0.0
    assert not c.maps["core"].any() and not c.maps["tmax6"].any()
    assert float(np.nanmax(c.maps["tmax"])) <= 1.0

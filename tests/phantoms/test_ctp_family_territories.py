"""CTP phantom family "territories": determinism, geometry, truth bookkeeping, lesion side, curve
physiology, noise level and every residue shape."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from strokealert.phantoms.ctp_families.territories import RESIDUES, CtpCase, make_case


def _small(**kwargs: Any) -> CtpCase:
    """A coarse case over the same field of view (8 x 10 mm slices, 64 x 64 at 3 mm)."""
    return make_case(shape=(8, 64, 64), spacing=(10.0, 3.0, 3.0), **kwargs)


@pytest.fixture(scope="module")
def default_case() -> CtpCase:
    return make_case(seed=3)


@pytest.fixture(scope="module")
def clean_case() -> CtpCase:
    return make_case(seed=4, noise_hu=0.0)


def _voxel_ml(case: CtpCase) -> float:
    return float(np.prod(case.spacing)) / 1000.0


def _contralateral(case: CtpCase) -> np.ndarray:
    """Voxels on the side away from the lesion (array x grows towards the patient's left)."""
    nx = case.frames.shape[3]
    x = np.arange(nx)[None, None, :]
    centre = float(np.nonzero(case.maps["parenchyma"])[2].mean())
    left = np.broadcast_to(x > centre, case.maps["parenchyma"].shape)
    return ~left if case.truth["side"] == "left" else left


def _normal_gm_voxel(case: CtpCase) -> tuple[int, int, int]:
    m = case.maps
    vessel = m["frac_artery"] + m["frac_collateral"] + m["frac_vein"]
    ok = (m["parenchyma"] & (m["frac_gm"] > 0.9) & (vessel < 1e-3) & (m["tmax"] < 2.0)
          & _contralateral(case))
    idx = np.argwhere(ok)
    assert len(idx) > 20
    z, y, x = idx[len(idx) // 2]
    return int(z), int(y), int(x)


def test_deterministic_per_seed() -> None:
    a = _small(seed=7)
    b = _small(seed=7)
    c = _small(seed=8)
    assert np.array_equal(a.frames, b.frames)
    assert a.truth == b.truth
    for key in a.maps:
        assert np.array_equal(a.maps[key], b.maps[key], equal_nan=a.maps[key].dtype.kind == "f")
    assert not np.array_equal(a.frames, c.frames)
    assert a.truth["core_ml"] != c.truth["core_ml"]


def test_shapes_dtypes_and_truth_keys(default_case: CtpCase) -> None:
    case = default_case
    assert case.frames.shape == (40, 16, 128, 128) and case.frames.dtype == np.float32
    assert case.times.shape == (40,) and case.times.dtype == np.float64
    assert np.allclose(np.diff(case.times), 1.5) and case.times[0] == 0.0
    assert case.spacing == (5.0, 1.5, 1.5)
    assert np.isfinite(case.frames).all()
    par = case.maps["parenchyma"]
    for key in ("cbf", "cbv", "mtt", "tmax"):
        arr = case.maps[key]
        assert arr.shape == (16, 128, 128) and arr.dtype == np.float32
        assert np.isnan(arr[~par]).all() and np.isfinite(arr[par]).all()
    for key in ("core", "tmax6"):
        assert case.maps[key].dtype == np.bool_ and case.maps[key].shape == (16, 128, 128)
    m = case.maps
    assert np.allclose(m["mtt"][par], 60.0 * m["cbv"][par] / m["cbf"][par], rtol=1e-4)
    truth = json.loads(json.dumps(case.truth))
    for key in ("core_ml", "tmax6_ml", "tmax4_ml", "normal_cbf", "noise_hu"):
        assert isinstance(truth[key], float)
    assert truth["side"] in ("left", "right") and truth["residue"] == "exponential"
    assert truth["seed"] == 3 and truth["noise_hu"] == 10.0
    # air outside, bone and brain at their CT numbers in the first (unenhanced) frame
    assert case.frames[0, :, :4, :4].mean() == pytest.approx(-1000.0, abs=5.0)
    assert np.median(case.frames[0][m["frac_bone"] > 0.95]) > 700.0
    assert 20.0 < float(np.median(case.frames[0][par])) < 45.0


def test_truth_volumes_are_mask_counts(default_case: CtpCase) -> None:
    m, t = default_case.maps, default_case.truth
    ml = _voxel_ml(default_case)
    assert t["core_ml"] == pytest.approx(m["core"].sum() * ml)
    assert t["tmax6_ml"] == pytest.approx(m["tmax6"].sum() * ml)
    assert t["tmax4_ml"] == pytest.approx(m["tmax4"].sum() * ml)
    assert np.array_equal(m["tmax4"], m["parenchyma"] & (m["tmax"] > 4.0))
    assert np.array_equal(m["tmax6"], m["parenchyma"] & (m["tmax"] > 6.0))
    assert np.array_equal(m["core"], m["parenchyma"] & (m["cbf"] < 0.3 * t["normal_cbf"]))
    assert 1.0 < t["core_ml"] < t["tmax6_ml"] < t["tmax4_ml"]
    assert 30.0 < t["normal_cbf"] < 50.0


@pytest.mark.parametrize("seed", range(6))
def test_core_inside_tmax6_and_on_stated_side(seed: int) -> None:
    case = _small(seed=seed, noise_hu=0.0)
    m = case.maps
    assert m["core"].any() and m["tmax6"].any()
    assert not (m["core"] & ~m["tmax6"]).any()
    x_lesion = float(np.nonzero(m["tmax6"])[2].mean())
    x_brain = float(np.nonzero(m["parenchyma"])[2].mean())
    side = case.truth["side"]
    assert side in ("left", "right")
    # x grows towards the patient's left
    assert (x_lesion > x_brain + 5) if side == "left" else (x_lesion < x_brain - 5)
    assert not (m["tmax4"] & ~_side_mask(case)).any()


def _side_mask(case: CtpCase) -> np.ndarray:
    """The lesion's hemisphere, from the truth territory map (4-6 = patient left)."""
    terr = case.maps["territory"]
    return (terr >= 4) if case.truth["side"] == "left" else ((terr >= 1) & (terr <= 3))


def test_core_volumes_vary_between_seeds() -> None:
    cores = [_small(seed=s, noise_hu=0.0, n_frames=4).truth["core_ml"]
             for s in range(12)]
    assert min(cores) < 12.0 and max(cores) > 30.0
    assert all(0.5 < c < 100.0 for c in cores)


def test_noise_free_gm_curve(clean_case: CtpCase) -> None:
    case = clean_case
    aif = np.asarray(case.truth["aif"]["hu_at_frames"])
    assert 250.0 <= aif.max() <= 600.0
    arrival = case.times[np.argmax(aif > 1.0)]
    assert 4.0 - 1.5 <= arrival <= 10.0 + 1.5
    z, y, x = _normal_gm_voxel(case)
    tissue = case.frames[:, z, y, x] - case.frames[0, z, y, x]
    assert 5.0 <= tissue.max() <= 60.0
    assert np.argmax(tissue) > np.argmax(aif)
    az, ay, ax = case.truth["artery_voxel"]
    artery = case.frames[:, az, ay, ax] - case.frames[0, az, ay, ax]
    assert artery.max() > 100.0
    assert np.argmax(tissue) > np.argmax(artery)
    vz, vy, vx = case.truth["vein_voxel"]
    vein = case.frames[:, vz, vy, vx] - case.frames[0, vz, vy, vx]
    assert np.argmax(vein) > np.argmax(aif)


def test_noise_level_in_flat_region() -> None:
    for noise in (5.0, 20.0):
        case = _small(seed=2, noise_hu=noise)
        air = case.maps["frac_air"] > 0.999
        assert air.sum() > 2000
        sd = case.frames.std(axis=0, ddof=1)[air].mean()
        assert sd == pytest.approx(noise, rel=0.15)
        # spatially correlated (band-limited) texture, not white
        clean = _small(seed=2, noise_hu=0.0)
        n = (case.frames - clean.frames)[:, 3]
        corr = np.corrcoef(n[:, :, :-1].ravel(), n[:, :, 1:].ravel())[0, 1]
        assert 0.1 < corr < 0.9


@pytest.mark.parametrize("residue", RESIDUES)
def test_every_residue(residue: str, clean_case: CtpCase) -> None:
    case = make_case(seed=4, noise_hu=0.0, residue=residue)
    assert case.truth["residue"] == residue
    assert np.isfinite(case.frames).all()
    assert case.truth["core_ml"] == clean_case.truth["core_ml"]  # same truth for every shape
    z, y, x = _normal_gm_voxel(case)
    tissue = case.frames[:, z, y, x] - case.frames[0, z, y, x]
    assert tissue.min() > -1e-3 and 5.0 <= tissue.max() <= 60.0
    ref = clean_case.frames[:, z, y, x] - clean_case.frames[0, z, y, x]
    if residue == "box":  # plug flow keeps the bolus together: a higher peak than the exponential
        assert tissue.max() > 1.05 * ref.max()
    elif residue == "exponential":
        assert np.allclose(tissue, ref)
    else:
        assert not np.allclose(tissue, ref, atol=0.05)


def test_unknown_residue_rejected() -> None:
    with pytest.raises(ValueError):
        make_case(residue="lognormal")


def test_no_lesion() -> None:
    case = _small(seed=5, lesion=False, noise_hu=0.0)
    with_lesion = _small(seed=5, noise_hu=0.0)
    t = case.truth
    assert t["side"] == "none"
    assert t["core_ml"] == 0.0 and t["tmax6_ml"] == 0.0 and t["tmax4_ml"] == 0.0
    assert not case.maps["core"].any() and not case.maps["tmax6"].any()
    assert float(np.nanmax(case.maps["tmax"])) < 2.5
    # same head: the unenhanced frame differs at most where the occluded vessels run
    differs = case.frames[0] != with_lesion.frames[0]
    assert not (differs & (with_lesion.maps["frac_collateral"] == 0)).any()
    assert with_lesion.maps["frac_collateral"].any() and not case.maps["frac_collateral"].any()

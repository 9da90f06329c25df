"""The ``coronal`` NCCT phantom family: interface, geometry, determinism, tissue HU, bleeds,
ischaemia, ASPECTS regions, mimics and the DICOM round trip (matrix 96)."""

from __future__ import annotations

import importlib
import json
from functools import cache
from pathlib import Path

import numpy as np
import pydicom
import pytest
from scipy import ndimage

from strokealert.phantoms.ncct_families import (
    ASPECTS_REGIONS,
    BLEED_KINDS,
    FAMILIES,
    MIMICS,
    NcctCase,
    NcctLabel,
    coronal,
    write_case,
)

M = 96
SEED = 4
ISCH = ("L", "I", "M1", "M2", "M3", "M5")


@cache
def _labelled(seed: int, label: NcctLabel) -> tuple[NcctCase, np.ndarray, np.ndarray]:
    return coronal.render_labelled(seed, label, matrix=M)


def _plain() -> tuple[NcctCase, np.ndarray, np.ndarray]:
    return _labelled(SEED, NcctLabel())


def _ml(case: NcctCase, code: int) -> float:
    return float(np.count_nonzero(case.blood_mask == code)) * float(np.prod(case.spacing_mm)) / 1e3


def test_registered_as_a_family() -> None:
    assert "coronal" in FAMILIES
    module = importlib.import_module("strokealert.phantoms.ncct_families.coronal")
    assert module.FAMILY == "coronal"
    assert callable(module.render) and callable(module.render_labelled)
    for name in ("air", "bone", "csf", "ventricle", "grey", "white", "caudate", "putamen",
                 "pallidum", "thalamus", "internal_capsule", "insula", "blood", "calcification",
                 "artery", "venous_sinus"):
        assert name in coronal.TISSUES
    assert len(set(coronal.TISSUES)) == len(coronal.TISSUES) < 256


def test_geometry_and_details() -> None:
    case, region, tissue = _plain()
    d = case.details
    vol = case.volume_hu
    assert vol.dtype == np.int16 and vol.ndim == 3 and vol.shape[1:] == (M, M)
    assert region.shape == tissue.shape == case.blood_mask.shape == vol.shape
    assert region.dtype == tissue.dtype == case.blood_mask.dtype == np.uint8
    thick, px, py = case.spacing_mm
    assert px == py and 220.0 <= px * M <= 250.0
    assert 2.5 <= thick <= 5.0 and d["slice_thickness_mm"] == thick
    assert 120.0 - thick <= vol.shape[0] * thick <= 210.0 + thick
    assert isinstance(d["kernel"], str) and d["kernel"]
    assert 3.0 <= d["noise_sd_hu"] <= 6.0
    pose = d["pose"]
    assert abs(pose["pitch_deg"]) <= 15 and abs(pose["roll_deg"]) <= 8
    assert abs(pose["yaw_deg"]) <= 8
    origin = d["origin_mm"]
    assert len(origin) == 3
    assert origin[0] == pytest.approx(-(M - 1) / 2 * px, abs=1e-3)
    assert origin[1] == pytest.approx(-(M - 1) / 2 * py, abs=1e-3)
    for key in ("head", "tissue_hu", "bleeds", "mimics", "bleed_volumes_ml"):
        assert isinstance(d[key], dict)
    assert "ischaemic_delta_hu" in d
    # Outside the reconstruction circle, and only there, the value is -1024.
    assert np.all(vol[:, 0, 0] == -1024) and np.all(vol[:, -1, -1] == -1024)
    centre = vol[:, M // 2 - 2:M // 2 + 2, M // 2 - 2:M // 2 + 2]
    assert np.all(centre != -1024)
    # A head is there: bone ring, brain, air around.
    assert np.count_nonzero(tissue == coronal.TISSUES.index("bone")) > 1000
    assert np.count_nonzero(tissue == coronal.TISSUES.index("white")) > 5000
    json.dumps(d)


def test_deterministic_and_seed_dependent() -> None:
    case, region, tissue = _plain()
    coronal._head.cache_clear()
    again, region2, tissue2 = coronal.render_labelled(SEED, NcctLabel(), matrix=M)
    assert np.array_equal(case.volume_hu, again.volume_hu)
    assert np.array_equal(region, region2) and np.array_equal(tissue, tissue2)
    assert case.details == again.details
    other = coronal.render(SEED + 1, NcctLabel(), matrix=M)
    assert other.details["head"] != case.details["head"]
    assert other.details["tissue_hu"] != case.details["tissue_hu"]
    if other.volume_hu.shape == case.volume_hu.shape:
        assert not np.array_equal(other.volume_hu, case.volume_hu)


def test_same_seed_same_head_whatever_the_label() -> None:
    case = _plain()[0]
    for label in (NcctLabel(bleeds=BLEED_KINDS), NcctLabel(mimics=MIMICS),
                  NcctLabel(ischaemic_regions=ISCH, ischaemic_side="left")):
        other = _labelled(SEED, label)[0]
        assert other.volume_hu.shape == case.volume_hu.shape
        assert other.spacing_mm == case.spacing_mm
        for key in ("head", "tissue_hu", "pose", "origin_mm", "kernel", "noise_sd_hu"):
            assert other.details[key] == case.details[key]


@pytest.mark.parametrize("seed", [SEED, 11, 23])
def test_drawn_tissue_hu_in_range(seed: int) -> None:
    hu = coronal._head(seed).hu if seed != SEED else _plain()[0].details["tissue_hu"]
    ranges = {"csf": (0, 10), "white": (22, 30), "grey": (32, 42), "caudate": (33, 42),
              "putamen": (33, 42), "pallidum": (33, 42), "thalamus": (33, 42),
              "bone": (700, 1800), "diploe": (300, 800), "petrous": (700, 1800),
              "fat": (-110, -85), "soft_tissue": (40, 60), "venous_sinus": (40, 55),
              "artery": (40, 55), "oedema": (15, 25)}
    for name, (lo, hi) in ranges.items():
        assert lo <= hu[name] <= hi, name
    assert 6.0 <= hu["grey"] - hu["white"] <= 12.0


def test_rendered_tissue_hu_match_the_drawn_values() -> None:
    case, _, tissue = _plain()
    vol = case.volume_hu.astype(float)
    hu = case.details["tissue_hu"]

    def core(name: str) -> np.ndarray:
        mask = tissue == coronal.TISSUES.index(name)
        return ndimage.binary_erosion(mask, structure=np.ones((1, 3, 3)))

    white = float(np.median(vol[core("white")]))
    assert abs(white - hu["white"]) < 4.0
    assert 20.0 <= white <= 32.0
    vent = float(np.median(vol[core("ventricle")]))
    assert hu["ventricle"] - 4.0 < vent < hu["ventricle"] + 8.0
    assert float(np.median(vol[core("bone")])) > 500.0
    assert float(np.median(vol[tissue == coronal.TISSUES.index("air")])) < -900.0
    grey = vol[tissue == coronal.TISSUES.index("grey")]
    assert float(np.median(grey)) > white + 2.0
    # Noise is present, of the drawn order, and spatially correlated.
    patch = vol[core("white")]
    assert 0.5 * case.details["noise_sd_hu"] < float(np.std(patch)) < 4.0 * case.details[
        "noise_sd_hu"]


def test_unlabelled_case_has_no_blood() -> None:
    case, _, tissue = _plain()
    assert not case.blood_mask.any()
    assert case.details["bleed_volumes_ml"] == {} and case.details["bleeds"] == {}
    assert case.details["ischaemic_delta_hu"] is None and case.details["mimics"] == {}
    assert not np.any(tissue == coronal.TISSUES.index("blood"))
    assert case.blood_volume_ml() == 0.0


def _check_bleed(case: NcctCase, kind: str) -> None:
    code = 1 + BLEED_KINDS.index(kind)
    reported = case.details["bleed_volumes_ml"][kind]
    got = _ml(case, code)
    assert reported > 0.0
    assert abs(got - reported) <= 0.35 * reported + 0.6, (kind, got, reported)
    info = case.details["bleeds"][kind]
    assert 40.0 <= info["hu"] <= 90.0
    assert info["side"] in ("left", "right", "midline")
    values = case.volume_hu[case.blood_mask == code].astype(float)
    assert float(np.median(values)) > 38.0, kind


def test_every_bleed_kind_together() -> None:
    case, _, tissue = _labelled(SEED, NcctLabel(bleeds=BLEED_KINDS))
    assert set(case.details["bleed_volumes_ml"]) == set(BLEED_KINDS)
    assert set(np.unique(case.blood_mask)) == set(range(len(BLEED_KINDS) + 1))
    for kind in BLEED_KINDS:
        _check_bleed(case, kind)
    assert np.array_equal(case.blood_mask > 0, tissue == coronal.TISSUES.index("blood"))
    assert case.blood_volume_ml() == pytest.approx(
        sum(case.details["bleed_volumes_ml"].values()), rel=0.35, abs=3.0)


@pytest.mark.parametrize("kind", BLEED_KINDS)
def test_each_bleed_kind_alone(kind: str) -> None:
    case = _labelled(SEED + 2, NcctLabel(bleeds=(kind,)))[0]
    assert set(case.details["bleeds"]) == {kind}
    assert set(np.unique(case.blood_mask)) == {0, 1 + BLEED_KINDS.index(kind)}
    _check_bleed(case, kind)
    plain, _, tissue = _labelled(SEED + 2, NcctLabel())
    soft = np.isin(tissue, [coronal.TISSUES.index(t) for t in
                            ("csf", "ventricle", "grey", "white", "cerebellum", "brainstem")])
    core = ndimage.binary_erosion(soft, structure=np.ones((1, 3, 3)))
    blood = case.volume_hu[case.blood_mask > 0].astype(float)
    white = plain.volume_hu[core & (tissue == coronal.TISSUES.index("white"))].astype(float)
    assert float(np.median(blood)) > float(np.median(white)) + 8.0
    inside = (case.blood_mask > 0) & core
    if np.count_nonzero(inside) > 20:
        assert float(np.mean(case.volume_hu[inside])) > float(
            np.mean(plain.volume_hu[inside])) + 5.0


def test_bleed_volumes_span_small_and_large() -> None:
    vols = [v for s in range(30, 42)
            for v in [coronal._draw_extra_axial(np.random.default_rng([s, 104]), "epidural")
                      .target_ml, coronal._draw_iph(np.random.default_rng([s, 100])).target_ml]]
    assert min(vols) < 5.0 and max(vols) > 25.0 and all(0.5 <= v <= 80.0 for v in vols)


def test_ischaemia_darkens_its_regions_on_its_side_only() -> None:
    plain, region, _ = _plain()
    label = NcctLabel(ischaemic_regions=ISCH, ischaemic_side="left")
    case, region2, _ = _labelled(SEED, label)
    delta = case.details["ischaemic_delta_hu"]
    assert 2.0 <= delta <= 6.0
    assert np.array_equal(region, region2)
    diff = case.volume_hu.astype(float) - plain.volume_hu.astype(float)
    for name in ISCH:
        left = 1 + ASPECTS_REGIONS.index(name)
        right = left + 10
        assert np.count_nonzero(region == left) > 5, name
        change = float(np.mean(diff[region == left]))
        assert -1.3 * delta <= change <= -0.5 * delta, (name, change, delta)
        assert abs(float(np.mean(diff[region == right]))) < 0.15 * delta, name
    for name in set(ASPECTS_REGIONS) - set(ISCH):
        left = 1 + ASPECTS_REGIONS.index(name)
        if np.count_nonzero(region == left) > 20:
            assert float(np.mean(diff[region == left])) > -0.5 * delta, name
    touched = np.isin(region, [1 + ASPECTS_REGIONS.index(n) for n in ISCH]).any(axis=(1, 2))
    near = ndimage.binary_dilation(touched, iterations=2)
    assert np.all(diff[~near] == 0.0)


def test_region_map() -> None:
    case, region, tissue = _plain()
    assert region.max() <= 20
    assert set(np.unique(region)) == set(range(21))
    cols = np.arange(M)[None, None, :]
    for code in range(1, 11):
        left = np.broadcast_to(cols, region.shape)[region == code].mean()
        right = np.broadcast_to(cols, region.shape)[region == code + 10].mean()
        assert left > right, ASPECTS_REGIONS[code - 1]
    lenti = np.isin(region, [2, 12])
    assert np.all(np.isin(tissue[lenti], [coronal.TISSUES.index("putamen"),
                                          coronal.TISSUES.index("pallidum")]))
    putamen = tissue == coronal.TISSUES.index("putamen")
    assert np.mean(lenti[putamen]) > 0.95
    insula = np.isin(region, [4, 14])
    assert np.all(tissue[insula] == coronal.TISSUES.index("insula"))
    assert np.all(tissue[np.isin(region, [1, 11])] == coronal.TISSUES.index("caudate"))
    assert np.all(region[tissue == coronal.TISSUES.index("csf")] == 0)
    assert np.all(region[tissue == coronal.TISSUES.index("bone")] == 0)


def test_every_mimic_is_drawn() -> None:
    plain = _plain()[0]
    case, _, tissue = _labelled(SEED, NcctLabel(mimics=MIMICS))
    mimics = case.details["mimics"]
    assert set(mimics) == set(MIMICS)
    assert not case.blood_mask.any()
    calc = tissue == coronal.TISSUES.index("calcification")
    total = 0
    for name in MIMICS:
        if name.endswith("_calcification"):
            assert mimics[name]["samples"] > 0, name
            assert mimics[name]["hu"] > 90.0
            total += mimics[name]["samples"]
    assert np.count_nonzero(calc) >= 4
    assert float(np.max(case.volume_hu[calc])) > 90.0
    assert mimics["hyperdense_vessel"]["hu"] >= 60.0
    assert mimics["hyperdense_vessel"]["vessel"] in ("mca", "basilar")
    assert mimics["residual_contrast"]["artery_hu"] > 90.0
    streak = mimics["streak_artefact"]
    assert streak["source"] in ("petrous", "dental") and streak["slices"]
    k = streak["slices"][0]
    assert float(np.abs(case.volume_hu[k].astype(float) - plain.volume_hu[k]).max()) > 15.0
    artery = tissue == coronal.TISSUES.index("artery")
    assert float(np.mean(case.volume_hu[artery])) > float(np.mean(plain.volume_hu[artery])) + 10


def test_write_case_round_trip(tmp_path: Path) -> None:
    case = _plain()[0]
    truth = write_case(case, tmp_path)
    files = sorted((tmp_path / "dicom").glob("*.dcm"))
    assert len(files) == case.volume_hu.shape[0] == truth["images"]
    sets = sorted((pydicom.dcmread(f) for f in files), key=lambda ds: int(ds.InstanceNumber))
    vol = np.stack([ds.pixel_array.astype(np.int32) * int(ds.RescaleSlope)
                    + int(ds.RescaleIntercept) for ds in sets])
    assert np.array_equal(vol, case.volume_hu.astype(np.int32))
    first = sets[0]
    assert float(first.SliceThickness) == pytest.approx(case.spacing_mm[0], abs=1e-3)
    assert [float(v) for v in first.PixelSpacing] == pytest.approx(list(case.spacing_mm[1:]),
                                                                   abs=1e-5)
    assert str(first.ConvolutionKernel) == case.details["kernel"]
    pos = [float(v) for v in first.ImagePositionPatient]
    assert pos == pytest.approx(case.details["origin_mm"], abs=1e-3)
    z1 = float(sets[1].ImagePositionPatient[2])
    assert z1 - pos[2] == pytest.approx(case.spacing_mm[0], abs=1e-3)
    saved = json.loads((tmp_path / "truth.json").read_text())
    assert saved["family"] == "coronal" and saved["seed"] == SEED
    assert np.load(tmp_path / "truth_blood.npz")["mask"].shape == case.volume_hu.shape

"""The template-atlas NCCT family: determinism, geometry, HU, bleeds, ASPECTS, ischaemia, mimics,
DICOM round trip. Small matrices keep it quick; the atlas is built once per process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from scipy import ndimage

from strokealert.phantoms.ncct_families import (
    ASPECTS_REGIONS,
    BLEED_KINDS,
    MIMICS,
    NcctLabel,
    write_case,
)
from strokealert.phantoms.ncct_families import template as fam

N = 96
SEED = 3
T = {name: i for i, name in enumerate(fam.TISSUES)}


@pytest.fixture(scope="module")
def base() -> tuple[Any, np.ndarray, np.ndarray]:
    return fam.render_labelled(SEED, NcctLabel(), matrix=N)


@pytest.fixture(scope="module")
def bled() -> tuple[Any, np.ndarray, np.ndarray]:
    small = {kind: 4.0 for kind in BLEED_KINDS}  # small: no mass effect, anatomy unmoved
    return fam._render(SEED, NcctLabel(bleeds=BLEED_KINDS), matrix=N, bleed_ml=small)


def test_deterministic_and_seed_dependent(base: Any) -> None:
    case, region, tissue = base
    again, region2, tissue2 = fam.render_labelled(SEED, NcctLabel(), matrix=N)
    assert np.array_equal(case.volume_hu, again.volume_hu)
    assert np.array_equal(region, region2) and np.array_equal(tissue, tissue2)
    assert case.details == again.details
    other = fam.render(SEED + 1, NcctLabel(), matrix=N)
    assert other.volume_hu.shape != case.volume_hu.shape or not np.allclose(
        other.volume_hu, case.volume_hu)
    assert fam.render(SEED, NcctLabel(), matrix=N).details == case.details


def test_geometry_and_details(base: Any) -> None:
    case, region, tissue = base
    d = case.details
    dz, dy, dx = case.spacing_mm
    assert case.family == fam.FAMILY == "template"
    assert case.volume_hu.shape[1:] == (N, N) and region.shape == case.volume_hu.shape
    assert tissue.shape == case.volume_hu.shape and case.blood_mask.shape == tissue.shape
    assert region.dtype == np.uint8 and tissue.dtype == np.uint8
    assert case.blood_mask.dtype == np.uint8 and not case.blood_mask.any()
    assert dz == d["slice_thickness_mm"] in (2.5, 3.0, 4.0, 5.0)
    assert dy == dx and 220.0 <= dx * N <= 260.0 + 1e-6
    assert isinstance(d["kernel"], str) and d["ischaemic_delta_hu"] is None
    assert d["bleed_volumes_ml"] == {} and d["midline_shift_mm"] == 0.0
    assert 2.5 <= d["noise_sd_hu"] <= 6.0 and d["mimics_placed"] == []
    for key in ("pitch_deg", "roll_deg", "yaw_deg"):
        assert abs(d[key]) <= 15.0
    assert np.hypot(*d["head_offset_mm"]) <= 10.0 + 1e-6
    assert 170 <= d["head_length_mm"] <= 200 and 135 <= d["head_width_mm"] <= 155
    ox, oy, oz = d["origin_mm"]
    assert ox == pytest.approx(-(N - 1) / 2 * dx) and oy == pytest.approx(ox)
    # the head lies wholly inside the image: the in-plane border is air in every slice
    vol = case.volume_hu
    border = np.concatenate([vol[:, 0, :], vol[:, -1, :], vol[:, :, 0], vol[:, :, -1]], axis=1)
    assert border.max() < -500
    assert (tissue[:, [0, -1], :] == T["air"]).all() and (tissue[:, :, [0, -1]] == T["air"]).all()
    # coverage from the foramen magnum (brainstem low down) to above the vertex (air on top)
    low = tissue[:3]
    assert np.isin(low, [T["brainstem"], T["cerebellum"]]).any()
    head = (tissue != T["air"]).reshape(tissue.shape[0], -1).sum(axis=1)
    assert head[-1] < 0.05 * head.max()
    assert (head > 0).all() or head[0] > 0


def _interior(mask: np.ndarray) -> np.ndarray:
    return np.asarray(ndimage.binary_erosion(mask, structure=np.ones((1, 3, 3), bool)))


def test_hu_of_tissues(base: Any) -> None:
    case, _, tissue = base
    vol, hu = case.volume_hu, case.details["hu"]
    assert 34 <= hu["grey"] <= 44 and 22 <= hu["white"] <= 30 and 2 <= hu["csf"] <= 10
    assert 7 <= hu["grey"] - hu["white"] <= 13
    assert 900 <= hu["bone_cortical"] <= 1900 and hu["fat"] < -80

    def med(*names: str) -> float:
        m = _interior(np.isin(tissue, [T[n] for n in names]))
        assert m.sum() > 20, names
        return float(np.median(vol[m]))

    assert 21 <= med("white") <= 31 and abs(med("white") - hu["white"]) < 3
    assert 29 <= med("putamen", "caudate", "thalamus") <= 45
    assert med("putamen", "caudate", "thalamus") > med("white") + 3
    assert 0 <= med("ventricle") <= 14
    assert med("bone_cortical", "bone_diploe") > 700
    assert med("fat") < -30 and med("air") < -900


def test_each_bleed_lands_in_its_compartment(base: Any, bled: Any) -> None:
    case, _, tissue = bled
    _, _, t0 = base
    assert set(case.details["bleed_volumes_ml"]) == set(BLEED_KINDS)
    assert case.details["midline_shift_mm"] == 0.0
    assert case.blood_volume_ml() == pytest.approx(
        sum(case.details["bleed_volumes_ml"].values()), abs=0.01)
    vox = np.prod(case.spacing_mm) / 1000.0
    bone = np.isin(t0, [T["bone_cortical"], T["bone_diploe"], T["bone_base"]])
    to_bone = ndimage.distance_transform_edt(~bone, sampling=case.spacing_mm)
    for i, kind in enumerate(BLEED_KINDS):
        m = case.blood_mask == i + 1
        assert m.sum() * vox > 0.8, kind
        assert (tissue[m] == T["blood"]).all()
        before = t0[m]
        if kind == "intraparenchymal":
            assert np.isin(before, fam._PARENCHYMA).mean() > 0.95
        elif kind == "intraventricular":
            assert np.isin(before, [T["ventricle"], T["choroid_plexus"]]).mean() > 0.95
        elif kind == "subarachnoid":
            assert (before == T["csf"]).mean() > 0.95
        else:
            assert np.isin(before, fam._INTRACRANIAL_T).mean() > 0.95
            assert np.median(to_bone[m]) < 12.0 and to_bone[m].min() <= 1.5 * case.spacing_mm[1]
        hu = float(np.median(case.volume_hu[_interior(m)] if _interior(m).any()
                             else case.volume_hu[m]))
        assert 40 <= hu <= 90, (kind, hu)


def test_large_bleed_shifts_the_midline() -> None:
    case = fam._render(5, NcctLabel(bleeds=("intraparenchymal",)), matrix=N,
                       bleed_ml={"intraparenchymal": 55.0})[0]
    assert case.details["midline_shift_mm"] > 1.0
    assert 30 <= case.details["bleed_volumes_ml"]["intraparenchymal"] <= 90


def _head_frame(case: Any, mask: np.ndarray) -> np.ndarray:
    kz, ky, kx = np.nonzero(mask)
    dz, dy, dx = case.spacing_mm
    ox, oy, oz = case.details["origin_mm"]
    p = np.stack([ox + kx * dx, oy + ky * dy, oz + kz * dz])
    rot = np.array(case.details["rotation"])
    return np.asarray(rot.T @ (p - np.array(case.details["head_centre_mm"])[:, None]))


def test_aspects_regions_present_and_mirrored(base: Any) -> None:
    case, region, tissue = base
    assert set(np.unique(region)) == set(range(21))
    assert np.isin(tissue[region > 0], fam._PARENCHYMA).all()
    for code in range(1, 11):
        left, right = region == code, region == code + 10
        assert 0.4 < left.sum() / right.sum() < 2.5, ASPECTS_REGIONS[code - 1]
        hl, hr = _head_frame(case, left).mean(axis=1), _head_frame(case, right).mean(axis=1)
        assert hl[0] > 3 and hr[0] < -3  # left is +x (LPS)
        assert abs(hl[0] + hr[0]) < 8 and abs(hl[1] - hr[1]) < 8 and abs(hl[2] - hr[2]) < 8
    hz = {c: _head_frame(case, region == c)[2].mean() for c in (5, 8)}
    assert 10 < hz[8] - hz[5] < 35  # supraganglionic about 2 cm above ganglionic


def test_ischaemia_lowers_exactly_the_labelled_regions(base: Any) -> None:
    case0, region, _ = base
    label = NcctLabel(ischaemic_regions=("M2", "L"), ischaemic_side="left")
    case = fam.render(SEED, label, matrix=N)
    delta = case.details["ischaemic_delta_hu"]
    assert 2.0 <= delta <= 6.0
    diff = case.volume_hu - case0.volume_hu
    hit = np.isin(region, [1 + ASPECTS_REGIONS.index("M2"), 1 + ASPECTS_REGIONS.index("L")])
    assert -1.2 * delta < np.median(diff[_interior(hit)]) < -0.7 * delta
    far = ndimage.distance_transform_edt(~hit, sampling=case.spacing_mm) > 12.0
    assert np.abs(diff[far]).max() < 0.1
    mirror = np.isin(region, [11 + ASPECTS_REGIONS.index("M2"), 11 + ASPECTS_REGIONS.index("L")])
    assert np.abs(diff[mirror & far]).max() < 0.1
    other = fam.render(SEED, NcctLabel(ischaemic_regions=("C",), ischaemic_side="right"),
                       matrix=N)
    assert other.details["ischaemic_delta_hu"] is not None


def test_mimics_present_when_asked(base: Any) -> None:
    case0, _, t0 = base
    case, _, tissue = fam.render_labelled(SEED, NcctLabel(mimics=MIMICS), matrix=N)
    assert case.details["mimics_placed"] == sorted(MIMICS)
    assert not case.blood_mask.any()
    calc = tissue == T["calcification"]
    assert not (t0 == T["calcification"]).any() and calc.sum() >= 4
    assert np.percentile(case.volume_hu[calc], 90) > 100
    sinus = t0 == T["venous_sinus"]
    assert np.median(case.volume_hu[sinus]) > np.median(case0.volume_hu[sinus]) + 20
    streak = fam.render(SEED, NcctLabel(mimics=("streak_artefact",)), matrix=N)
    diff = np.abs(streak.volume_hu - case0.volume_hu)
    assert diff[: diff.shape[0] // 5].max() > 3.0  # beam hardening in the posterior fossa
    assert diff[diff.shape[0] // 2:].max() == 0.0  # and nowhere above the tentorium


def test_write_case_dicom_round_trip(base: Any, tmp_path: Path) -> None:
    case, _, _ = base
    truth = write_case(case, tmp_path)
    files = sorted((tmp_path / "dicom").glob("*.dcm"))
    assert len(files) == case.volume_hu.shape[0] == truth["images"]
    dss = sorted((pydicom.dcmread(f) for f in files), key=lambda d: int(d.InstanceNumber))
    back = np.stack([d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept)
                     for d in dss])
    assert np.array_equal(back, np.round(case.volume_hu))
    assert [float(v) for v in dss[0].ImagePositionPatient] == pytest.approx(
        list(case.details["origin_mm"]), abs=1e-3)
    assert float(dss[0].SliceThickness) == pytest.approx(case.spacing_mm[0])
    assert str(dss[0].ConvolutionKernel) == case.details["kernel"]
    saved = np.load(tmp_path / "truth_blood.npz")["mask"]
    assert np.array_equal(saved, case.blood_mask)
    assert truth["family"] == "template" and truth["aspects"] == 10

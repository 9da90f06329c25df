"""Tests of the harmonic NCCT phantom family (spherical-harmonic anatomy, scanner physics)."""

from __future__ import annotations

import json
from functools import lru_cache
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
    write_case,
)
from strokealert.phantoms.ncct_families import harmonic as fam

EMPTY = NcctLabel()
ALL_BLEEDS = NcctLabel(bleeds=BLEED_KINDS)
ISCH = NcctLabel(ischaemic_regions=("L", "I", "M2", "M5"), ischaemic_side="left")


@lru_cache(maxsize=32)
def _render(seed: int, label: NcctLabel, matrix: int) -> tuple[NcctCase, np.ndarray, np.ndarray]:
    return fam.render_labelled(seed, label, matrix=matrix)


def _tissue(name: str) -> int:
    return fam.TISSUES.index(name)


def test_interface_constants() -> None:
    assert fam.FAMILY == "harmonic" and "harmonic" in FAMILIES
    assert isinstance(fam.TISSUES, tuple) and len(set(fam.TISSUES)) == len(fam.TISSUES)
    for name in ("air", "grey_matter", "white_matter", "csf", "blood", "cortical_bone"):
        assert name in fam.TISSUES


def test_geometry_and_details() -> None:
    case, region, tissue = _render(3, EMPTY, 64)
    vol = case.volume_hu
    assert vol.dtype in (np.int16, np.float32)
    assert vol.ndim == 3 and vol.shape[1:] == (64, 64)
    assert 30 <= vol.shape[0] <= 64
    assert region.shape == vol.shape and region.dtype == np.uint8
    assert tissue.shape == vol.shape and tissue.dtype == np.uint8
    assert case.blood_mask.shape == vol.shape and case.blood_mask.dtype == np.uint8
    dz, dy, dx = case.spacing_mm
    assert dz in (2.5, 3.0, 4.0, 5.0)
    assert dy == dx and 205 / 64 <= dx <= 255 / 64
    d = case.details
    json.dumps(d)
    assert d["ischaemic_delta_hu"] is None
    assert isinstance(d["kernel"], str) and d["kernel"]
    pose = d["pose"]
    assert abs(pose["pitch_deg"]) <= 20 and abs(pose["yaw_deg"]) <= 15
    assert abs(pose["roll_deg"]) <= 12
    assert len(pose["offset_mm"]) == 3
    assert d["slice_thickness_mm"] == dz and d["n_slices"] == vol.shape[0]
    assert 2.0 <= d["noise_sd_hu"] <= 7.0
    assert len(d["origin_mm"]) == 3
    meas = d["measurements"]
    assert 160 <= meas["fronto_occipital_mm"] <= 210
    assert 120 <= meas["biparietal_mm"] <= 170
    assert 65 <= meas["cephalic_index"] <= 95
    assert 0.18 <= meas["evans_index"] <= 0.40
    assert 0.05 <= meas["bicaudate_index"] <= 0.30
    assert 15 <= meas["tentorial_angle_deg"] <= 50
    # air outside the head, soft tissue and bone inside
    corners = np.concatenate([vol[:, :4, :4].ravel(), vol[:, :4, -4:].ravel()])
    assert np.median(corners) < -950
    assert (tissue == _tissue("air")).any() and (tissue == _tissue("cortical_bone")).any()
    assert vol[tissue == _tissue("cortical_bone")].mean() > 600


def test_pose_coverage_and_physics_vary_with_seed() -> None:
    seen = set()
    for seed in (3, 4, 5):
        case, _, tissue = _render(seed, EMPTY, 64)
        d = case.details
        seen.add((d["kernel"], d["slice_thickness_mm"], d["pose"]["pitch_deg"]))
        # the brain is covered from the posterior fossa to the vertex
        brain = np.isin(tissue, [_tissue("white_matter"), _tissue("grey_matter")])
        per_slice = brain.reshape(brain.shape[0], -1).sum(axis=1)
        assert per_slice.max() > 200
        assert (tissue[0] == _tissue("cerebellar_cortex")).any() or (
            tissue[:4] == _tissue("cerebellar_cortex")).any()
    assert len(seen) == 3


def test_deterministic_and_seed_dependent() -> None:
    a = fam.render(8, EMPTY, matrix=64)
    b = fam.render(8, EMPTY, matrix=64)
    c = fam.render(9, EMPTY, matrix=64)
    assert np.array_equal(a.volume_hu, b.volume_hu)
    assert a.details == b.details
    assert a.details["measurements"] != c.details["measurements"]
    if a.volume_hu.shape == c.volume_hu.shape:
        assert not np.array_equal(a.volume_hu, c.volume_hu)


def test_same_head_whatever_the_label() -> None:
    base, reg0, tis0 = _render(5, EMPTY, 64)
    isch, reg1, tis1 = _render(5, ISCH, 64)
    bleed, _, tis2 = _render(5, ALL_BLEEDS, 64)
    for other in (isch, bleed):
        for key in ("pose", "patient", "measurements", "tissue_hu", "kernel", "origin_mm",
                    "slice_thickness_mm", "noise_sd_hu"):
            assert other.details[key] == base.details[key]
        assert other.volume_hu.shape == base.volume_hu.shape
    # ischaemia changes attenuation only, never anatomy
    assert np.array_equal(tis0, tis1) and np.array_equal(reg0, reg1)
    touched = ndimage.binary_dilation(np.isin(reg0, [2, 4, 6, 9]), iterations=3)
    diff = np.abs(base.volume_hu.astype(float) - isch.volume_hu.astype(float))
    assert np.mean(diff[~touched] > 1) < 0.01
    # haemorrhage leaves the skull and scalp where they were
    bone = tis0 == _tissue("cortical_bone")
    assert np.mean(tis2[bone] == _tissue("cortical_bone")) > 0.97


def test_tissue_hu_in_range_and_matched() -> None:
    case, _, tissue = _render(6, EMPTY, 96)
    hu = case.details["tissue_hu"]
    assert 24 <= hu["white_matter"] <= 32
    assert 32 <= hu["grey_matter"] <= 46 and hu["grey_matter"] - hu["white_matter"] >= 5
    assert 0 <= hu["csf"] <= 15
    assert 50 <= hu["blood"] <= 90
    assert hu["cortical_bone"] > 1000 and hu["fat"] < -70 and hu["air"] == -1000
    assert 35 <= hu["vessel"] <= 60
    vol = case.volume_hu.astype(float)
    for name, tol in (("white_matter", 5.0), ("ventricle", 7.0), ("fat", 20.0),
                      ("muscle", 10.0), ("thalamus", 6.0)):
        m = tissue == _tissue(name)
        core = ndimage.binary_erosion(m, structure=np.ones((1, 3, 3)), iterations=1)
        core &= ndimage.binary_erosion(m, structure=np.ones((3, 1, 1)))
        assert core.sum() > 20, name
        assert abs(np.median(vol[core]) - hu[name]) < tol, name
    bone = ndimage.binary_erosion(tissue == _tissue("cortical_bone"), iterations=1)
    if bone.sum() > 20:
        assert np.median(vol[bone]) > 500


def test_unlabelled_case_has_no_blood() -> None:
    case, _, tissue = _render(3, EMPTY, 64)
    assert not case.blood_mask.any()
    assert case.blood_volume_ml() == 0.0
    assert not (tissue == _tissue("blood")).any()
    assert case.details["bleeds"] == [] and case.details["bleed_volumes_ml"] == {}


def _near(mask: np.ndarray, other: np.ndarray, iterations: int = 2) -> float:
    grown = ndimage.binary_dilation(other, iterations=iterations)
    return float(np.mean(grown[mask]))


@pytest.mark.parametrize("kind", BLEED_KINDS)
def test_each_bleed_kind_alone(kind: str) -> None:
    seed = 20 + BLEED_KINDS.index(kind)
    label = NcctLabel(bleeds=(kind,))
    case, _, tissue = fam.render_labelled(seed, label, matrix=64)
    base, _, tis0 = _render(seed, EMPTY, 64)
    code = BLEED_KINDS.index(kind) + 1
    mask = case.blood_mask
    assert set(np.unique(mask)) == {0, code}
    vox_ml = float(np.prod(case.spacing_mm)) / 1000
    assert (mask > 0).sum() * vox_ml == pytest.approx(case.details["bleed_volumes_ml"][kind],
                                                     abs=2e-3)
    assert case.blood_volume_ml() > 0.2
    assert (tissue[mask > 0] == _tissue("blood")).all()
    rec = case.details["bleeds"][0]
    assert rec["kind"] == kind and 50 <= rec["hu"] <= 90 or kind in (
        "intraventricular", "subarachnoid")
    # blood is denser than what it replaced (same head, same noise)
    diff = case.volume_hu.astype(float) - base.volume_hu.astype(float)
    assert diff[mask > 0].mean() > 8
    # where it occurs
    if kind in ("subdural", "epidural"):
        bone = np.isin(tis0, [_tissue("cortical_bone"), _tissue("diploe")])
        assert _near(mask > 0, bone, 3) > 0.3
        assert (ndimage.binary_dilation(mask > 0) & bone).sum() > 10
        assert not bone[mask > 0].any()
    elif kind == "intraventricular":
        assert _near(mask > 0, tis0 == _tissue("ventricle"), 1) > 0.8
    elif kind == "subarachnoid":
        assert _near(mask > 0, tis0 == _tissue("csf"), 1) > 0.8
    else:
        brain = np.isin(tis0, [_tissue(n) for n in ("grey_matter", "white_matter", "putamen",
                                                    "pallidum", "thalamus", "caudate",
                                                    "brainstem", "cerebellar_cortex",
                                                    "cerebellar_white")])
        assert np.mean(brain[mask > 0]) > 0.7


def test_all_bleeds_together() -> None:
    case, _, tissue = _render(5, ALL_BLEEDS, 64)
    codes = set(np.unique(case.blood_mask)) - {0}
    assert codes == set(range(1, len(BLEED_KINDS) + 1))
    vols = case.details["bleed_volumes_ml"]
    assert set(vols) == set(BLEED_KINDS)
    assert sum(vols.values()) == pytest.approx(case.blood_volume_ml(), abs=1e-2)
    assert (tissue[case.blood_mask > 0] == _tissue("blood")).all()


def test_bleed_volumes_span_small_and_large() -> None:
    targets = []
    for seed in range(40):
        an = fam._anatomy(seed % 4)
        for kind in ("intraparenchymal", "subdural", "epidural"):
            path = fam._Pathology(seed, NcctLabel(bleeds=(kind,)), an, np.array([0.0, 1.0, 0.0]))
            targets.append(path.records[0]["target_volume_ml"])
    t = np.array(targets)
    assert t.min() < 3.0 and t.max() > 40.0
    assert np.median(t) < 25.0 and (t >= 0.5).all() and (t <= 80.0).all()
    # a large haematoma pushes the midline: the falx moves away from it
    big = next(s for s in range(200) if fam._Pathology(
        s, NcctLabel(bleeds=("intraparenchymal",)), fam._anatomy(1),
        np.array([0.0, 1.0, 0.0])).records[0]["target_volume_ml"] > 40)
    case, _, tissue = fam.render_labelled(big, NcctLabel(bleeds=("intraparenchymal",)), matrix=64)
    assert case.details["bleeds"][0]["mass_effect_ml"] > 40
    assert case.details["bleed_volumes_ml"]["intraparenchymal"] > 25


def test_ischaemia_darkens_its_regions_on_its_side_only() -> None:
    base, region, tissue = _render(5, EMPTY, 64)
    isch, region1, _ = _render(5, ISCH, 64)
    delta = isch.details["ischaemic_delta_hu"]
    assert isinstance(delta, float) and 2.0 <= delta <= 6.0
    diff = isch.volume_hu.astype(float) - base.volume_hu.astype(float)
    grey = np.isin(tissue, [_tissue("grey_matter"), _tissue("putamen"), _tissue("pallidum")])
    for name in ISCH.ischaemic_regions:
        code = ASPECTS_REGIONS.index(name) + 1
        left = (region == code) & grey
        right = (region == code + 10) & grey
        assert left.sum() > 5 and right.sum() > 5, name
        assert diff[left].mean() < -0.45 * delta, name
        assert abs(diff[right].mean()) < 0.25, name
    untouched = (region > 0) & ~np.isin(region, [ASPECTS_REGIONS.index(r) + 1
                                                for r in ISCH.ischaemic_regions])
    untouched = ndimage.binary_erosion(untouched, iterations=1)
    assert abs(diff[untouched].mean()) < 0.3


def test_region_map_valid() -> None:
    case, region, tissue = _render(6, EMPTY, 96)
    assert region.max() <= 20
    vox_ml = float(np.prod(case.spacing_mm)) / 1000
    cols = np.broadcast_to(np.arange(region.shape[2]), region.shape)
    for code in range(1, 21):
        m = region == code
        assert m.sum() * vox_ml > 0.25, code
    for code in range(1, 11):
        # patient left (LPS +x) lies at higher column indices than the same right region
        assert cols[region == code].mean() > cols[region == code + 10].mean(), code
    brainy = np.isin(tissue, [_tissue(n) for n in ("grey_matter", "white_matter", "caudate",
                                                    "putamen", "pallidum")])
    assert brainy[region > 0].all()
    # caudate and lentiform regions are deep grey nuclei, cortex regions are larger
    assert np.isin(tissue[region == 1], [_tissue("caudate")]).all()
    assert (region == 5).sum() > (region == 1).sum()


@pytest.mark.parametrize("mimic", MIMICS)
def test_every_mimic_is_drawn(mimic: str) -> None:
    seed = 30
    case, _, tissue = fam.render_labelled(seed, NcctLabel(mimics=(mimic,)), matrix=96)
    base, _, tis0 = _render(seed, EMPTY, 96)
    assert mimic in case.details["mimics"]
    assert not case.blood_mask.any()
    diff = case.volume_hu.astype(float) - base.volume_hu.astype(float)
    expect = {"hyperdense_vessel": "thrombus", "streak_artefact": "metal",
              "residual_contrast": "contrast"}.get(mimic, "calcification")
    painted = tissue == _tissue(expect)
    new = painted & (tis0 != _tissue(expect))
    if mimic in ("choroid_plexus_calcification", "pineal_calcification",
                 "basal_ganglia_calcification", "falx_calcification"):
        assert (diff > 10).sum() > 0
        assert diff.max() > 30
    else:
        assert new.sum() > 0
    if mimic == "streak_artefact":
        far = ~ndimage.binary_dilation(painted, iterations=4) & (tis0 != _tissue("air"))
        assert np.abs(diff[far]).mean() > 0.5
        assert case.volume_hu[painted].max() > 2000  # the metal reads far above bone
    if mimic == "residual_contrast":
        assert diff[new].mean() > 30
    if mimic == "hyperdense_vessel":
        assert diff[new].mean() > 3


def test_write_case_round_trip(tmp_path: Path) -> None:
    case, _, _ = _render(3, NcctLabel(bleeds=("subdural",), ischaemic_regions=("M1",),
                                      ischaemic_side="right", mimics=("pineal_calcification",)),
                         64)
    truth = write_case(case, tmp_path)
    files = sorted((tmp_path / "dicom").glob("*.dcm"))
    assert len(files) == case.volume_hu.shape[0] == truth["images"]
    stack = []
    for f in files:
        ds = pydicom.dcmread(f)
        stack.append(ds.pixel_array.astype(np.int32) * int(ds.RescaleSlope) + int(
            ds.RescaleIntercept))
        assert ds.ConvolutionKernel == case.details["kernel"]
        assert float(ds.SliceThickness) == pytest.approx(case.spacing_mm[0])
        assert float(ds.PixelSpacing[0]) == pytest.approx(case.spacing_mm[1], abs=1e-5)
    ds0 = pydicom.dcmread(files[0])
    assert [float(v) for v in ds0.ImagePositionPatient] == pytest.approx(
        case.details["origin_mm"], abs=1e-3)
    assert np.array_equal(np.array(stack), case.volume_hu.astype(np.int32))
    saved = json.loads((tmp_path / "truth.json").read_text())
    assert saved["family"] == "harmonic" and saved["ich"] is True
    assert saved["aspects"] == 9 and saved["ischaemic_side"] == "right"
    assert saved["details"]["ischaemic_delta_hu"] == case.details["ischaemic_delta_hu"]
    assert saved["blood_volume_ml"] == pytest.approx(case.blood_volume_ml())
    mask = np.load(tmp_path / "truth_blood.npz")["mask"]
    assert np.array_equal(mask, case.blood_mask)

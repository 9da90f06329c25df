"""The gyral NCCT family: interface, geometry, determinism, tissues, bleeds, ischaemia, mimics."""

from __future__ import annotations

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
    gyral,
    write_case,
)

MATRIX = 64
T = {name: i for i, name in enumerate(gyral.TISSUES)}


@cache
def _render(seed: int, label: NcctLabel = NcctLabel()) -> tuple[NcctCase, np.ndarray, np.ndarray]:
    return gyral.render_labelled(seed, label, matrix=MATRIX)


def _tissue_hu(seed: int) -> dict[str, float]:
    case, _, tissue = _render(seed)
    return {name: float(np.median(case.volume_hu[tissue == i]))
            for name, i in T.items() if np.any(tissue == i)}


def test_interface() -> None:
    assert gyral.FAMILY == "gyral" and "gyral" in FAMILIES
    for name in ("grey_matter", "white_matter", "caudate", "putamen", "pallidum", "csf",
                 "cortical_bone", "blood", "metal"):
        assert name in gyral.TISSUES
    case = gyral.render(0, NcctLabel(), matrix=MATRIX)
    assert isinstance(case, NcctCase) and case.family == "gyral" and case.seed == 0
    assert isinstance(case.details["kernel"], str) and case.details["kernel"]
    assert case.details["ischaemic_delta_hu"] is None
    assert {"pose", "physics", "bleed_volumes_ml"} <= set(case.details)


@pytest.mark.parametrize("seed", [0, 1])
def test_geometry_and_spacing(seed: int) -> None:
    case, region, tissue = _render(seed)
    nz, ny, nx = case.volume_hu.shape
    assert (ny, nx) == (MATRIX, MATRIX)
    dz, dy, dx = case.spacing_mm
    assert 2.5 <= dz <= 5.0 and dy == dx and 220.0 <= dx * MATRIX <= 250.0
    assert 110.0 <= nz * dz <= 280.0
    assert case.volume_hu.dtype == np.int16
    assert case.volume_hu.min() >= -1024 and case.volume_hu.max() <= 3071
    assert region.shape == tissue.shape == case.blood_mask.shape == case.volume_hu.shape
    assert region.dtype == tissue.dtype == case.blood_mask.dtype == np.uint8
    # the skull base is in the first slices (dense petrous bone, air cells), the vertex last
    bone = (case.volume_hu > 700).sum(axis=(1, 2))
    assert bone[: nz // 3].max() > bone[-3:].max()
    head = (case.volume_hu > -300).sum(axis=(1, 2))
    assert head[-1] < 0.5 * head.max()
    # anterior is at low row indices: the orbits (globes) lie in the front half
    assert np.mean(np.nonzero(tissue == T["globe"])[1]) < MATRIX / 2


def test_determinism_and_seed_dependence() -> None:
    a = _render(0)[0]
    b = gyral.render(0, NcctLabel(), matrix=MATRIX)
    np.testing.assert_array_equal(a.volume_hu, b.volume_hu)
    assert a.details == b.details
    c = _render(1)[0]
    assert a.details["pose"] != c.details["pose"]
    assert a.details["physics"] != c.details["physics"]
    assert a.volume_hu.shape != c.volume_hu.shape or np.any(a.volume_hu != c.volume_hu)


def test_same_head_whatever_the_label() -> None:
    base, _, base_tissue = _render(0)
    case, _, tissue = _render(0, NcctLabel(bleeds=("intraventricular",)))
    assert case.volume_hu.shape == base.volume_hu.shape
    assert case.spacing_mm == base.spacing_mm
    assert case.details["pose"] == base.details["pose"]
    changed = np.abs(case.volume_hu.astype(int) - base.volume_hu) > 1
    near = ndimage.binary_dilation(case.blood_mask > 0, iterations=4)
    assert changed[~near].mean() < 0.01
    bone = base_tissue == T["cortical_bone"]
    assert np.all(tissue[bone & ~near] == T["cortical_bone"])


def test_tissue_hu_ranges() -> None:
    for seed in (0, 1):
        hu = _tissue_hu(seed)
        assert 28.0 <= hu["grey_matter"] <= 45.0
        assert 18.0 <= hu["white_matter"] <= 34.0
        assert hu["grey_matter"] > hu["white_matter"] + 1.0
        for deep in ("caudate", "putamen", "thalamus"):
            assert hu[deep] > hu["white_matter"]
        assert hu["cortical_bone"] > 300.0
        assert hu["air"] < -900.0
        case, _, tissue = _render(seed)
        assert np.percentile(case.volume_hu[tissue == T["csf"]], 10) < 15.0


def test_no_blood_without_bleeds() -> None:
    label = NcctLabel(mimics=("pineal_calcification",))
    for case, _, tissue in (_render(0), _render(1), _render(0, label)):
        assert not case.blood_mask.any()
        assert case.blood_volume_ml() == 0.0
        assert not np.any(tissue == T["blood"])
        assert case.details["bleed_volumes_ml"] == {}


_PLACES = {"intraparenchymal": ("grey_matter", "white_matter", "caudate", "putamen",
                                "pallidum", "thalamus", "internal_capsule", "brainstem",
                                "cerebellar_grey", "cerebellar_white"),
           "intraventricular": ("csf", "choroid_plexus"),
           "subarachnoid": ("csf", "grey_matter", "white_matter", "dura", "venous_blood")}


@pytest.mark.parametrize("kind", BLEED_KINDS)
def test_each_bleed_alone(kind: str) -> None:
    seed = 0
    case, _, tissue = _render(seed, NcctLabel(bleeds=(kind,)))
    _, _, base_tissue = _render(seed)
    code = BLEED_KINDS.index(kind) + 1
    mask = case.blood_mask > 0
    assert set(np.unique(case.blood_mask)) == {0, code}
    volume = case.details["bleed_volumes_ml"][kind]
    assert volume == pytest.approx(case.blood_volume_ml())
    assert 0.2 <= volume <= 120.0
    core = mask & (tissue == T["blood"])
    assert 40.0 <= np.median(case.volume_hu[core]) <= 100.0
    before = base_tissue[mask]
    if kind in _PLACES:
        assert np.isin(before, [T[n] for n in _PLACES[kind]]).mean() > 0.7
    else:  # extra-axial: against the inner table (or the falx), on one side of the head
        cols = np.nonzero(mask)[2]
        brain = np.nonzero(np.isin(base_tissue, [T["grey_matter"], T["white_matter"]]))[2]
        mid = np.median(brain)
        near = ndimage.binary_dilation(base_tissue == T["cortical_bone"], iterations=3)
        near |= (np.abs(np.arange(MATRIX) - mid) <= 4)[None, None, :]  # falcine
        assert (mask & near).sum() > 0.5 * mask.sum()
        assert min((cols < mid).mean(), (cols > mid).mean()) < 0.3


def test_large_haematoma_shifts_the_midline() -> None:
    seed = 6
    base, base_region, _ = _render(seed)
    case, region, _ = _render(seed, NcctLabel(bleeds=("intraparenchymal",)))
    shift = case.details["bleed_notes"]["midline_shift_mm"]
    assert case.details["bleed_volumes_ml"]["intraparenchymal"] > 30.0
    assert 3.0 <= shift <= 10.0
    blood_side = np.sign(np.nonzero(case.blood_mask)[2].mean() - MATRIX / 2)
    for code in (1, 11):  # both caudate heads move away from the haematoma
        moved = np.nonzero(region == code)[2].mean() - np.nonzero(base_region == code)[2].mean()
        assert moved * blood_side < -0.5
    small, _, _ = _render(0, NcctLabel(bleeds=("intraventricular",)))
    assert small.details["bleed_notes"]["midline_shift_mm"] == 0.0


def test_all_bleeds_together() -> None:
    case, _, _ = _render(1, NcctLabel(bleeds=BLEED_KINDS))
    assert set(np.unique(case.blood_mask)) == set(range(len(BLEED_KINDS) + 1))
    assert set(case.details["bleed_volumes_ml"]) == set(BLEED_KINDS)
    assert 2.0 < case.blood_volume_ml() < 400.0


def test_ischaemia_darkens_its_regions_by_delta() -> None:
    regions = ("L", "M2", "M5")
    label = NcctLabel(ischaemic_regions=regions, ischaemic_side="left")
    base, region, _ = _render(0)
    case, _, _ = _render(0, label)
    delta = case.details["ischaemic_delta_hu"]
    assert 2.0 <= delta <= 6.0
    diff = case.volume_hu.astype(float) - base.volume_hu
    for name in ASPECTS_REGIONS:
        i = ASPECTS_REGIONS.index(name)
        left, right = diff[region == i + 1].mean(), diff[region == i + 11].mean()
        assert abs(right) < 0.2
        if name in regions:
            assert -1.5 * delta < left < -0.45 * delta
        else:
            assert abs(left) < 0.4 * delta
    unaffected = region == 0
    assert abs(diff[unaffected].mean()) < 0.05


@pytest.mark.parametrize("seed", [0, 1])
def test_region_map(seed: int) -> None:
    _, region, tissue = _render(seed)
    assert set(np.unique(region)) == set(range(21))
    left_cols = np.nonzero((region >= 1) & (region <= 10))[2]
    right_cols = np.nonzero(region >= 11)[2]
    assert left_cols.mean() > right_cols.mean() + 10
    for side in (0, 10):
        c = tissue[region == 1 + side]
        lent = tissue[region == 2 + side]
        assert np.all(c == T["caudate"])
        assert np.all(np.isin(lent, [T["putamen"], T["pallidum"]]))
        assert np.all(tissue[region == 3 + side] == T["internal_capsule"])
        # the supraganglionic regions lie above the ganglionic ones
        gang = np.nonzero(region == 5 + side)[0].mean()
        supra = np.nonzero(region == 8 + side)[0].mean()
        assert supra > gang


_CALCIFICATIONS = ("choroid_plexus_calcification", "pineal_calcification",
                   "basal_ganglia_calcification", "falx_calcification")


def test_calcification_mimics_drawn() -> None:
    base, _, base_tissue = _render(0)
    case, _, tissue = _render(0, NcctLabel(mimics=_CALCIFICATIONS))
    assert not case.blood_mask.any()
    assert np.any(tissue == T["calcification"])
    diff = case.volume_hu.astype(int) - base.volume_hu
    blobs, n = ndimage.label(diff > 40)
    assert n >= 5  # two choroid plexus glomera, pineal, two pallida, falx
    under = [set(np.unique(base_tissue[blobs == i])) for i in range(1, n + 1)]
    assert sum(T["pallidum"] in u for u in under) >= 2
    assert sum(bool(u & {T["csf"], T["choroid_plexus"]}) for u in under) >= 2
    mid = np.nonzero(np.isin(base_tissue, [T["grey_matter"], T["white_matter"]]))[2].mean()
    centres = ndimage.center_of_mass(diff > 40, blobs, range(1, n + 1))
    top = max(centres)  # the falx plaque is the highest, on the midline
    assert abs(top[2] - mid) < 4.0


_OTHER_MIMICS = ("hyperdense_vessel", "streak_artefact", "residual_contrast")


def test_every_mimic_is_covered() -> None:
    assert set(_CALCIFICATIONS) | set(_OTHER_MIMICS) == set(MIMICS)


@pytest.mark.parametrize("mimic", _OTHER_MIMICS)
def test_vascular_and_metal_mimics_drawn(mimic: str) -> None:
    base, _, _ = _render(0)
    case, _, tissue = _render(0, NcctLabel(mimics=(mimic,)))
    diff = case.volume_hu.astype(int) - base.volume_hu
    assert not case.blood_mask.any()
    if mimic == "streak_artefact":
        assert (case.volume_hu >= 3071).sum() > (base.volume_hu >= 3071).sum()  # saturates
        metal_slices = np.unique(np.nonzero(case.volume_hu >= 3071)[0])
        streaks = [np.abs(diff[z]).mean() for z in metal_slices]
        assert max(streaks) > 5.0  # bright and dark streaks through the slices holding it
    elif mimic == "hyperdense_vessel":
        assert np.any(tissue == T["thrombus"])
        assert 15 < diff.max() < 80
    else:
        assert np.any(tissue == T["contrast"])
        assert (diff > 40).sum() > 20  # sinuses, circle of Willis, choroid plexus


def test_write_case_round_trip(tmp_path: Path) -> None:
    case, _, _ = _render(0, NcctLabel(bleeds=("subdural",)))
    truth = write_case(case, tmp_path)
    files = sorted((tmp_path / "dicom").glob("*.dcm"))
    assert truth["images"] == len(files) == case.volume_hu.shape[0]
    ds = pydicom.dcmread(files[3])
    assert ds.ConvolutionKernel == case.details["kernel"]
    hu = ds.pixel_array.astype(float) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    np.testing.assert_array_equal(hu, case.volume_hu[3])
    assert float(ds.SliceThickness) == pytest.approx(case.spacing_mm[0])
    mask = np.load(tmp_path / "truth_blood.npz")["mask"]
    np.testing.assert_array_equal(mask, case.blood_mask)
    assert truth["ich"] and truth["blood_volume_ml"] == pytest.approx(case.blood_volume_ml())

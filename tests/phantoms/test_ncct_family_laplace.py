"""The laplace NCCT family: geometry, determinism, tissue HU, bleeds, ischaemia, ASPECTS regions,
mimics and the DICOM round trip."""

from __future__ import annotations

import json
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
from strokealert.phantoms.ncct_families.laplace import FAMILY, TISSUES, render, render_labelled

MATRIX = 96
T = {name: i for i, name in enumerate(TISSUES)}
PARENCHYMA = [T[n] for n in ("grey", "white", "caudate", "putamen", "pallidum", "thalamus",
                             "internal_capsule", "insula")]
Rendered = tuple[NcctCase, np.ndarray, np.ndarray]


@pytest.fixture(scope="module")
def normal() -> Rendered:
    """An unlabelled case with its region and tissue maps."""
    return render_labelled(3, NcctLabel(), matrix=MATRIX)


@pytest.fixture(scope="module")
def all_bleeds() -> list[NcctCase]:
    """Two cases with every bleed kind at once."""
    label = NcctLabel(bleeds=BLEED_KINDS)
    return [render(seed, label, matrix=MATRIX) for seed in (5, 6)]


@pytest.fixture(scope="module")
def ischaemic() -> tuple[Rendered, Rendered]:
    """The same head without and with early ischaemia in four right-sided regions."""
    label = NcctLabel(ischaemic_regions=("L", "I", "M2", "M5"), ischaemic_side="right")
    return (render_labelled(8, NcctLabel(), matrix=MATRIX),
            render_labelled(8, label, matrix=MATRIX))


def test_family_is_registered() -> None:
    assert FAMILY == "laplace" and FAMILY in FAMILIES


def test_geometry_and_details(normal: Rendered) -> None:
    case, region, tissue = normal
    vol = case.volume_hu
    dz, dy, dx = case.spacing_mm
    assert case.family == FAMILY and case.seed == 3
    assert vol.dtype == np.int16 and vol.ndim == 3 and vol.shape[1:] == (MATRIX, MATRIX)
    assert region.shape == tissue.shape == case.blood_mask.shape == vol.shape
    assert region.dtype == tissue.dtype == case.blood_mask.dtype == np.uint8
    assert dy == dx and 220 <= dx * MATRIX <= 250
    assert 2.5 <= dz <= 5.0 and case.details["slice_thickness_mm"] == dz
    assert 0.5 <= case.details["fine_step_mm"] <= 1.0
    assert 120 <= vol.shape[0] * dz <= 210  # foramen magnum to vertex
    assert vol.min() == -1024 and vol.max() > 700
    assert isinstance(case.details["kernel"], str) and case.details["kernel"]
    assert case.details["ischaemic_delta_hu"] is None
    assert case.details["bleed_volumes_ml"] == {}
    pose = case.details["pose"]
    assert abs(pose["pitch_deg"]) <= 15 and abs(pose["roll_deg"]) <= 8
    assert abs(pose["yaw_deg"]) <= 8
    assert len(case.details["origin_mm"]) == 3
    assert tissue.max() < len(TISSUES)
    assert json.dumps(case.truth(), default=str)


def test_deterministic_and_seed_dependent(normal: Rendered) -> None:
    case, region, tissue = normal
    again, region2, tissue2 = render_labelled(3, NcctLabel(), matrix=MATRIX)
    assert np.array_equal(case.volume_hu, again.volume_hu)
    assert np.array_equal(region, region2) and np.array_equal(tissue, tissue2)
    other = render(4, NcctLabel(), matrix=MATRIX)
    assert other.details["head"] != case.details["head"]
    assert (other.volume_hu.shape != case.volume_hu.shape
            or not np.array_equal(other.volume_hu, case.volume_hu))


def test_drawn_tissue_hu_are_in_range(normal: Rendered, all_bleeds: list[NcctCase]) -> None:
    for case in [normal[0], *all_bleeds]:
        hu = case.details["tissue_hu"]
        assert 0 <= hu["csf"] <= 10 and 22 <= hu["white"] <= 30 and 32 <= hu["grey"] <= 42
        assert 6 <= hu["grey"] - hu["white"] <= 12
        for deep in ("caudate", "putamen", "pallidum", "thalamus"):
            assert 33 <= hu[deep] <= 42
        assert 700 <= hu["bone"] <= 1800 and 300 <= hu["diploe"] <= 800
        assert 700 <= hu["petrous"] <= 1800
        assert -110 <= hu["fat"] <= -85 and 40 <= hu["soft_tissue"] <= 60
        assert 40 <= hu["venous_sinus"] <= 55 and 40 <= hu["artery"] <= 55
        assert 15 <= hu["oedema"] <= 25
        assert 3 <= case.details["noise_sd_hu"] <= 6


@pytest.mark.parametrize(("names", "lo", "hi"), [
    (("ventricle",), -2, 14), (("white",), 19, 33),
    (("caudate", "putamen", "pallidum", "thalamus"), 28, 46),
    (("bone",), 650, 1850), (("air",), -1030, -950),
])
def test_rendered_tissue_hu(normal: Rendered, names: tuple[str, ...], lo: float,
                            hi: float) -> None:
    case, _, tissue = normal
    core = ndimage.binary_erosion(np.isin(tissue, [T[n] for n in names]),
                                  structure=np.ones((1, 3, 3), bool))
    assert core.sum() >= 20, names
    assert lo <= float(np.median(case.volume_hu[core])) <= hi


def test_unlabelled_case_has_no_blood(normal: Rendered) -> None:
    case, _, tissue = normal
    assert not case.blood_mask.any() and case.blood_volume_ml() == 0.0
    assert not (tissue == T["blood"]).any()


def test_every_bleed_kind_present_with_its_volume(all_bleeds: list[NcctCase]) -> None:
    for case in all_bleeds:
        voxel_ml = float(np.prod(case.spacing_mm)) / 1000
        volumes = case.details["bleed_volumes_ml"]
        assert set(volumes) == set(BLEED_KINDS)
        assert set(np.unique(case.blood_mask)) == set(range(len(BLEED_KINDS) + 1))
        for i, kind in enumerate(BLEED_KINDS):
            in_mask = float((case.blood_mask == i + 1).sum()) * voxel_ml
            assert 0.3 <= volumes[kind] <= 100, kind
            assert abs(in_mask - volumes[kind]) <= 0.35 * volumes[kind] + 0.6, kind
        blood = case.volume_hu[case.blood_mask > 0]
        assert float(np.median(blood)) > 38


@pytest.mark.parametrize("kind", BLEED_KINDS)
def test_each_bleed_kind_alone(kind: str) -> None:
    case = render(20 + BLEED_KINDS.index(kind), NcctLabel(bleeds=(kind,)), matrix=MATRIX)
    code = 1 + BLEED_KINDS.index(kind)
    assert set(np.unique(case.blood_mask)) == {0, code}
    assert case.details["bleed_volumes_ml"][kind] >= 0.3
    info = case.details["bleeds"][kind]
    assert 40 <= info["hu"] <= 90 and info["side"] in ("left", "right", "midline")


def test_ischaemia_darkens_its_side_only(ischaemic: tuple[Rendered, Rendered]) -> None:
    (base, region, tissue), (sick, region2, tissue2) = ischaemic
    delta = sick.details["ischaemic_delta_hu"]
    assert 2 <= delta <= 6
    assert np.array_equal(region, region2)  # boundaries do not move
    diff = sick.volume_hu.astype(float) - base.volume_hu.astype(float)
    both = np.isin(tissue, PARENCHYMA) & np.isin(tissue2, PARENCHYMA)
    affected = [11 + ASPECTS_REGIONS.index(r) for r in ("L", "I", "M2", "M5")]
    hit = np.isin(region, affected) & both
    mirror = np.isin(region, [c - 10 for c in affected]) & both
    spared = np.isin(region, [c for c in range(11, 21) if c not in affected]) & both
    assert -1.3 * delta <= float(diff[hit].mean()) <= -0.5 * delta
    assert abs(float(diff[mirror].mean())) < 0.15 * delta
    assert abs(float(diff[spared].mean())) < 0.35 * delta
    assert sick.details["bleed_volumes_ml"] == {} and not sick.blood_mask.any()


def test_region_map_labels_and_sides(normal: Rendered) -> None:
    case, region, tissue = normal
    assert set(np.unique(region)) == set(range(21))
    cols = np.indices(region.shape)[2]
    midline = float(cols[region > 0].mean())
    for code in range(1, 21):
        mean_col = float(cols[region == code].mean())
        assert (mean_col > midline) if code <= 10 else (mean_col < midline), code
    assert np.isin(tissue[region > 0], [*PARENCHYMA, T["csf"]]).all()
    lentiform = np.isin(tissue[(region == 2) | (region == 12)], [T["putamen"], T["pallidum"]])
    assert lentiform.all()
    assert (tissue[(region == 4) | (region == 14)] == T["insula"]).all()


@pytest.fixture(scope="module")
def mimic_cases() -> tuple[NcctCase, dict[str, Rendered]]:
    """One head without mimics and with each mimic alone."""
    base = render(9, NcctLabel(), matrix=MATRIX)
    return base, {m: render_labelled(9, NcctLabel(mimics=(m,)), matrix=MATRIX) for m in MIMICS}


@pytest.mark.parametrize("mimic", MIMICS)
def test_each_mimic_is_drawn(mimic_cases: tuple[NcctCase, dict[str, Rendered]],
                             mimic: str) -> None:
    base, cases = mimic_cases
    case, _, tissue = cases[mimic]
    assert mimic in case.details["mimics"]
    assert not case.blood_mask.any()
    diff = case.volume_hu.astype(float) - base.volume_hu.astype(float)
    if mimic.endswith("calcification"):
        calc = tissue == T["calcification"]
        assert calc.any() and case.details["mimics"][mimic]["samples"] > 0
        assert float(case.volume_hu[calc].max()) > 90
        assert float(diff[calc].max()) > 40
    elif mimic == "hyperdense_vessel":
        artery = tissue == T["artery"]
        assert float(diff[artery].max()) > 5 and diff[artery].mean() > 0
    elif mimic == "residual_contrast":
        sinus = tissue == T["venous_sinus"]
        assert float(diff[sinus].mean()) > 10
    else:
        assert float(np.abs(diff).max()) > 20
        assert float(diff.std(axis=(1, 2)).max()) > 2


def test_write_case_round_trip(all_bleeds: list[NcctCase], tmp_path: Path) -> None:
    case = all_bleeds[0]
    truth = write_case(case, tmp_path)
    files = sorted((tmp_path / "dicom").glob("*.dcm"))
    assert len(files) == case.volume_hu.shape[0] == truth["images"]
    slices = [pydicom.dcmread(f) for f in files]
    slices.sort(key=lambda ds: float(ds.ImagePositionPatient[2]))
    back = np.stack([ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
                     for ds in slices])
    assert np.array_equal(back, case.volume_hu.astype(float))
    first = slices[0]
    assert float(first.PixelSpacing[0]) == pytest.approx(case.spacing_mm[1], abs=1e-5)
    assert float(first.SliceThickness) == pytest.approx(case.spacing_mm[0], abs=1e-3)
    assert first.ConvolutionKernel == case.details["kernel"]
    origin = case.details["origin_mm"]
    assert [float(v) for v in first.ImagePositionPatient] == pytest.approx(origin, abs=1e-3)
    saved = json.loads((tmp_path / "truth.json").read_text())
    assert saved["family"] == FAMILY and saved["bleeds"] == list(BLEED_KINDS)
    assert saved["blood_volume_ml"] == pytest.approx(case.blood_volume_ml())
    assert np.array_equal(np.load(tmp_path / "truth_blood.npz")["mask"], case.blood_mask)

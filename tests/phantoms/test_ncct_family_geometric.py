"""The geometric NCCT family: tissue HU, blood per kind (HU, volume, side), early ischaemic
change against the mirror region, mimics, determinism and a DICOM round trip (small renders)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pydicom
import pytest

from strokealert.phantoms.ncct_families import (
    ASPECTS_REGIONS,
    BLEED_KINDS,
    NcctCase,
    NcctLabel,
    write_case,
)
from strokealert.phantoms.ncct_families.geometric import FAMILY, render, render_with_regions

MATRIX = 96


@cache
def _case(bleeds: tuple[str, ...] = (), mimics: tuple[str, ...] = (), seed: int = 11,
          matrix: int = MATRIX) -> NcctCase:
    return render(seed, NcctLabel(bleeds=bleeds, mimics=mimics), matrix=matrix)


def _x_mm(case: NcctCase, mask: np.ndarray) -> float:
    """Mean LPS x (mm) of the voxels in ``mask`` (x > 0: patient's left)."""
    nx = case.volume_hu.shape[2]
    return float(((np.nonzero(mask)[2] - (nx - 1) / 2) * case.spacing_mm[2]).mean())


def test_geometry_and_tissue_hu() -> None:
    case, regions = render_with_regions(3, NcctLabel(), matrix=MATRIX)
    nz = case.volume_hu.shape[0]
    assert case.family == FAMILY == "geometric"
    assert 3.0 <= case.spacing_mm[0] <= 5.0 and 25 <= nz <= 45
    assert case.spacing_mm[1] == pytest.approx(0.45 * 512 / MATRIX)
    vol = case.volume_hu
    assert vol.max() > 1000 and vol.min() <= -900  # skull and air
    tissue = case.details["tissue_hu"]
    assert 35 <= tissue["grey"] <= 40 and 24 <= tissue["white"] <= 32 and 0 <= tissue["csf"] <= 10
    means = {}
    for i, name in enumerate(ASPECTS_REGIONS):
        for side in (0, 10):
            sel = regions == 1 + i + side
            assert sel.sum() > 5, (name, side)
            means[name, side] = float(vol[sel].mean())
    for side in (0, 10):
        assert 30 <= means["L", side] <= 42 and 30 <= means["C", side] <= 42
        assert 20 <= means["IC", side] <= 32
        assert means["L", side] - means["IC", side] > 4  # grey-white differentiation
    assert not case.blood_mask.any()
    assert case.details["midline_shift_mm"] == 0.0


@pytest.mark.parametrize("bleeds", [("intraparenchymal", "intraventricular"), ("subarachnoid",),
                                    ("subdural",), ("epidural",)])
def test_blood_hu_volume_and_side(bleeds: tuple[str, ...]) -> None:
    case = _case(bleeds)
    voxel_ml = float(np.prod(case.spacing_mm)) / 1000
    details = case.details
    for entry in details["bleeds"]:
        code = 1 + BLEED_KINDS.index(entry["kind"])
        mask = case.blood_mask == code
        assert mask.sum() > 10, entry["kind"]
        mask_ml = float(mask.sum()) * voxel_ml
        # thin subarachnoid sheets lose the voxels they fill less than half across the slice
        tolerance = 0.25 if entry["kind"] == "subarachnoid" else 0.10
        assert entry["volume_ml"] == pytest.approx(mask_ml, rel=tolerance), entry["kind"]
        assert 50 <= entry["hu"] <= 90
        if entry["kind"] in ("intraparenchymal", "subdural", "epidural"):
            assert 50 <= details["blood_mean_hu_pure_voxels_before_noise"][entry["kind"]] <= 90
            side = _x_mm(case, mask)
            assert side > 0 if entry["side"] == "left" else side < 0, (entry, side)
        if entry["kind"] == "intraparenchymal":
            assert 45 <= float(case.volume_hu[mask].mean()) <= 95
            a, b, c = details["largest_iph_abc_cm"]
            assert a >= b > 0 and c > 0
            assert details["largest_iph_abc2_ml"] == pytest.approx(entry["volume_ml"], rel=0.6)
    assert set(int(v) for v in np.unique(case.blood_mask)) == \
        {0} | {1 + BLEED_KINDS.index(b) for b in bleeds}
    assert case.blood_volume_ml() == pytest.approx(sum(details["blood_volume_by_kind_ml"].values()),
                                                   rel=0.25)


def test_ischaemic_regions_darker_than_their_mirror() -> None:
    affected = ("L", "I", "M2", "M5")
    label = NcctLabel(ischaemic_regions=affected, ischaemic_side="left")
    case, regions = render_with_regions(21, label, matrix=128)
    healthy, _ = render_with_regions(21, NcctLabel(), matrix=128)
    vol = case.volume_hu
    for name in ASPECTS_REGIONS:
        code = 1 + ASPECTS_REGIONS.index(name)
        left = float(vol[regions == code].mean())
        right = float(vol[regions == code + 10].mean())
        if name in affected:
            assert left < right - 1.0, (name, left, right)
            # same seed without ischaemia: the same region is brighter
            assert left < float(healthy.volume_hu[regions == code].mean()) - 1.5, name
        else:
            assert abs(left - right) < 3.0, (name, left, right)
    assert 2.0 <= case.details["ischaemia"]["delta_hu"] <= 6.0
    assert case.label.aspects == 6


def test_mimics_are_bright_and_not_blood() -> None:
    mimics = ("pineal_calcification", "choroid_plexus_calcification", "hyperdense_vessel",
              "streak_artefact")
    case = _case(mimics=mimics)
    assert not case.blood_mask.any()
    dz, dy, dx = case.spacing_mm
    nz, ny, nx = case.volume_hu.shape
    z0 = case.details["origin_mm"][2]
    for name in ("pineal_calcification", "choroid_plexus_calcification"):
        for calc in case.details["mimics"][name]:
            x, y, z = calc["centre_lps_mm"]
            i, j = round((z - z0) / dz), round(y / dy + (ny - 1) / 2)
            k = round(x / dx + (nx - 1) / 2)
            patch = case.volume_hu[max(i - 1, 0):i + 2, j - 2:j + 3, k - 2:k + 3]
            assert patch.max() > 100, (name, float(patch.max()))
    plain = _case(seed=11)
    diff = np.abs(case.volume_hu - plain.volume_hu)
    low = slice(0, nz // 3)
    assert float(diff[low].max()) > 30  # streaks near the skull base
    assert case.details["mimics"]["hyperdense_vessel"]["hu"] >= 50


def test_deterministic_and_seed_dependent() -> None:
    label = NcctLabel(bleeds=("intraparenchymal",))
    a = render(5, label, matrix=48)
    b = render(5, label, matrix=48)
    c = render(6, label, matrix=48)
    assert np.array_equal(a.volume_hu, b.volume_hu) and np.array_equal(a.blood_mask, b.blood_mask)
    assert a.details["pose"] == b.details["pose"]
    assert a.volume_hu.shape != c.volume_hu.shape or not np.array_equal(a.volume_hu, c.volume_hu)


def test_write_case_round_trip(tmp_path: Path) -> None:
    case = _case(("subdural",))
    truth = write_case(case, tmp_path)
    files = sorted((tmp_path / "dicom").glob("*.dcm"))
    assert truth["images"] == len(files) == case.volume_hu.shape[0]
    assert truth["family"] == "geometric" and truth["ich"] is True
    datasets = sorted((pydicom.dcmread(f) for f in files),
                      key=lambda d: float(d.ImagePositionPatient[2]))
    mid = len(datasets) // 2
    ds = datasets[mid]
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert np.array_equal(hu, np.round(case.volume_hu[mid]))
    assert float(ds.SliceThickness) == pytest.approx(case.spacing_mm[0])
    assert float(ds.PixelSpacing[0]) == pytest.approx(case.spacing_mm[1])
    mask = np.load(tmp_path / "truth_blood.npz")["mask"]
    assert np.array_equal(mask, case.blood_mask)

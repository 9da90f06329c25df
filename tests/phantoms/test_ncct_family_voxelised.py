"""The voxelised NCCT phantom family: interface, geometry, tissues, lesions, mimics, DICOM."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from scipy import ndimage as ndi

from strokealert.phantoms.ncct_families import (
    ASPECTS_REGIONS,
    BLEED_KINDS,
    FAMILIES,
    MIMICS,
    NcctCase,
    NcctLabel,
    write_case,
)
from strokealert.phantoms.ncct_families import voxelised as vx

M = 64
SEED = 7


def _tid(*names: str) -> list[int]:
    return [vx.TISSUES.index(n) for n in names]


@cache
def _render(seed: int, label: NcctLabel, matrix: int = M) -> tuple[NcctCase, Any, Any]:
    return vx.render_labelled(seed, label, matrix=matrix)


def _base() -> tuple[NcctCase, Any, Any]:
    return _render(SEED, NcctLabel())


def _wm_median(case: NcctCase, tissue: Any) -> float:
    return float(np.median(case.volume_hu[tissue == vx.TISSUES.index("white_matter")]))


def test_interface() -> None:
    assert vx.FAMILY == "voxelised" and "voxelised" in FAMILIES
    for name in ("grey_matter", "white_matter", "caudate", "putamen", "pallidum", "csf",
                 "cortical_bone", "blood", "metal"):
        assert name in vx.TISSUES
    case, region, tissue = _base()
    assert isinstance(case, NcctCase) and case.family == "voxelised" and case.seed == SEED
    assert case.volume_hu.shape == case.blood_mask.shape == region.shape == tissue.shape
    assert case.volume_hu.shape[1:] == (M, M)
    assert case.volume_hu.dtype == np.int16 and case.blood_mask.dtype == np.uint8
    assert region.dtype == np.uint8 and tissue.dtype == np.uint8
    assert int(tissue.max()) < len(vx.TISSUES) and int(region.max()) <= 20
    assert -1024 <= int(case.volume_hu.min()) and int(case.volume_hu.max()) <= 3071
    for key in ("kernel", "ischaemic_delta_hu", "bleed_volumes_ml", "pose", "physics"):
        assert key in case.details
    assert isinstance(case.details["kernel"], str) and case.details["kernel"]
    assert case.details["ischaemic_delta_hu"] is None
    assert case.details["bleed_volumes_ml"] == {}
    assert not case.blood_mask.any()
    dz, dy, dx = case.spacing_mm
    assert 2.5 <= dz <= 5.0 and dy == dx and 200 <= dx * M <= 250.5
    assert case.blood_volume_ml() == 0.0
    np.testing.assert_array_equal(vx.render(SEED, NcctLabel(), matrix=M).volume_hu,
                                  case.volume_hu)


def test_deterministic_and_seed_dependent() -> None:
    a = vx.render(3, NcctLabel(bleeds=("subdural",)), matrix=M)
    b = vx.render(3, NcctLabel(bleeds=("subdural",)), matrix=M)
    np.testing.assert_array_equal(a.volume_hu, b.volume_hu)
    np.testing.assert_array_equal(a.blood_mask, b.blood_mask)
    assert a.details == b.details
    c = _base()[0]
    assert a.volume_hu.shape != c.volume_hu.shape or not np.array_equal(a.volume_hu, c.volume_hu)


def test_geometry_lps_and_vertex() -> None:
    case, region, tissue = _base()
    zz, yy, xx = np.nonzero(region)
    left = region[zz, yy, xx] <= 10
    assert xx[left].mean() > xx[~left].mean() + 5  # patient's left at larger x (LPS)
    for code in range(1, 21):
        assert (region == code).any(), f"region {code} missing"
    brain = np.isin(tissue, _tid("grey_matter", "white_matter"))
    globe = tissue == vx.TISSUES.index("globe")
    zb, zg = np.nonzero(brain)[0], np.nonzero(globe)[0]
    assert zb.max() > zg.max() + 10 and zb.mean() > zg.mean()  # vertex at high z
    # the caudate (anterior) lies at lower y than the thalamus (posterior)
    cy = np.nonzero(tissue == vx.TISSUES.index("caudate"))[1].mean()
    ty = np.nonzero(tissue == vx.TISSUES.index("thalamus"))[1].mean()
    assert cy < ty
    assert len(case.details["origin_mm"]) == 3


def test_tissue_medians() -> None:
    case, _, tissue = _render(12, NcctLabel(), 128)  # a young head: little atrophy
    hu = case.volume_hu
    csf_bone = np.isin(tissue, _tid("csf", "cortical_bone", "diploe"))
    away = ~ndi.binary_dilation(csf_bone, structure=np.ones((1, 3, 3), bool))
    grey = np.isin(tissue, _tid("grey_matter", "caudate", "putamen", "thalamus")) & away
    white = (tissue == vx.TISSUES.index("white_matter")) & away
    bone = ndi.binary_dilation(~np.isin(tissue, _tid("cortical_bone")),
                               structure=np.ones((1, 3, 3), bool))
    bone = (tissue == vx.TISSUES.index("cortical_bone")) & ~bone
    far = ndi.distance_transform_edt(~np.isin(tissue, _tid("cortical_bone", "diploe")),
                                     sampling=case.spacing_mm) > 20
    vent = (tissue == vx.TISSUES.index("csf")) & far  # ventricles and deep cisterns
    g, w = float(np.median(hu[grey])), float(np.median(hu[white]))
    assert g >= w + 5, (g, w)
    assert float(np.median(hu[vent])) < w
    assert float(np.median(hu[bone])) > 700


@pytest.mark.parametrize("kind", BLEED_KINDS)
def test_each_bleed_kind(kind: str) -> None:
    seed = 20 + BLEED_KINDS.index(kind)
    case, _, tissue = _render(seed, NcctLabel(bleeds=(kind,)))
    code = 1 + BLEED_KINDS.index(kind)
    mask = case.blood_mask
    assert mask.any() and set(np.unique(mask)) <= {0, code}
    extracranial = np.isin(tissue, _tid("air", "scalp", "fat", "muscle", "cortical_bone",
                                        "diploe", "tooth", "metal", "globe", "lens"))
    assert not (extracranial & (mask > 0)).any()
    # blood read away from partial volume with the skull (thin collections at 3.5 mm pixels)
    bone = ndi.binary_dilation(np.isin(tissue, _tid("cortical_bone", "diploe")),
                               structure=np.ones((1, 3, 3), bool))
    read = (mask > 0) & ~bone if ((mask > 0) & ~bone).any() else mask > 0
    med = float(np.median(case.volume_hu[read]))
    assert 40 <= med <= 95, med
    voxel_ml = float(np.prod(case.spacing_mm)) / 1000
    vol = case.details["bleed_volumes_ml"][kind]
    assert vol == pytest.approx(np.count_nonzero(mask == code) * voxel_ml, abs=1e-2)
    assert 0.3 <= vol <= 90
    assert case.blood_volume_ml() == pytest.approx(vol, abs=1e-2)


def test_no_blood_for_empty_label_and_mimics_only() -> None:
    assert not _base()[0].blood_mask.any()


@pytest.mark.parametrize("mimic", MIMICS)
def test_each_mimic(mimic: str) -> None:
    base, _, base_tissue = _base()
    case, _, _ = _render(SEED, NcctLabel(mimics=(mimic,)))
    assert not case.blood_mask.any()
    assert case.details["bleed_volumes_ml"] == {}
    assert mimic in case.details["mimics_drawn"]
    diff = case.volume_hu.astype(np.int32) - base.volume_hu.astype(np.int32)
    bright = diff > 10
    assert bright.sum() >= 1, mimic
    wm = _wm_median(base, base_tissue)
    assert float(np.median(case.volume_hu[bright])) > wm + 5
    assert float(case.volume_hu[bright].max()) > wm + 25


def test_ischaemia_lower_than_mirror() -> None:
    regions = ("C", "L", "IC", "I", "M1", "M2", "M3", "M4", "M5", "M6")
    label = NcctLabel(ischaemic_regions=regions, ischaemic_side="right")
    case, region, _ = _render(SEED, label)
    base, base_region, _ = _base()
    delta = case.details["ischaemic_delta_hu"]
    assert isinstance(delta, float) and 2.0 <= delta <= 6.0
    np.testing.assert_array_equal(region, base_region)
    hit = (region >= 11) & (region <= 20)
    mirror = (region >= 1) & (region <= 10)
    drop = float(np.mean(case.volume_hu[hit])) - float(np.mean(case.volume_hu[mirror]))
    base_drop = float(np.mean(base.volume_hu[hit])) - float(np.mean(base.volume_hu[mirror]))
    assert -1.6 * delta - 1.5 <= drop - base_drop <= -0.4 * delta
    assert drop < -0.3 * delta
    paired = float(np.mean(case.volume_hu[hit].astype(float) - base.volume_hu[hit]))
    assert -1.1 * delta <= paired <= -0.4 * delta
    # the other side is untouched
    assert float(np.abs(case.volume_hu[mirror].astype(float) - base.volume_hu[mirror]).max()) == 0
    assert not case.blood_mask.any()
    single = NcctLabel(ischaemic_regions=("L",), ischaemic_side="left")
    one = _render(SEED, single)[0]
    code = 1 + ASPECTS_REGIONS.index("L")
    changed = one.volume_hu.astype(np.int32) != base.volume_hu
    assert changed.any() and (region[changed] > 0).mean() > 0.5
    assert float(np.mean(one.volume_hu[region == code].astype(float)
                         - base.volume_hu[region == code])) < -0.4 * one.details[
        "ischaemic_delta_hu"]


def test_write_case_dicom(tmp_path: Path) -> None:
    case = _base()[0]
    truth = write_case(case, tmp_path)
    files = sorted((tmp_path / "dicom").glob("*.dcm"))
    assert len(files) == case.volume_hu.shape[0] == truth["images"]
    ds = pydicom.dcmread(files[0])
    assert ds.Rows == ds.Columns == M
    assert ds.ConvolutionKernel == case.details["kernel"]
    np.testing.assert_array_equal(ds.pixel_array.astype(np.int16), case.volume_hu[0])
    assert float(ds.ImagePositionPatient[2]) == pytest.approx(case.details["origin_mm"][2],
                                                               abs=1e-3)
    assert (tmp_path / "truth.json").exists() and (tmp_path / "truth_blood.npz").exists()

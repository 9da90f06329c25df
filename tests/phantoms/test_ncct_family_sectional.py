"""The sectional NCCT family: interface, geometry, determinism, tissues, bleeds, ischaemia,
mimics and the DICOM series."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pydicom
import pytest

from strokealert.phantoms.ncct_families import (
    ASPECTS_REGIONS,
    BLEED_KINDS,
    FAMILIES,
    MIMICS,
    NcctCase,
    NcctLabel,
    sectional,
    write_case,
)

M = 64
T = {name: i for i, name in enumerate(sectional.TISSUES)}


@cache
def _render(seed: int, label: NcctLabel, matrix: int = M) -> tuple[NcctCase, np.ndarray,
                                                                   np.ndarray]:
    return sectional.render_labelled(seed, label, matrix=matrix)


def test_interface_and_registration() -> None:
    assert sectional.FAMILY == "sectional" and "sectional" in FAMILIES
    for name in ("grey_matter", "white_matter", "caudate", "putamen", "pallidum", "csf",
                 "cortical_bone", "blood", "metal"):
        assert name in sectional.TISSUES
    case, region, tissue = _render(1, NcctLabel())
    assert isinstance(case, NcctCase) and case.family == "sectional" and case.seed == 1
    assert case.volume_hu.ndim == 3 and case.volume_hu.shape[1:] == (M, M)
    assert 24 <= case.volume_hu.shape[0] <= 44
    assert region.shape == tissue.shape == case.volume_hu.shape == case.blood_mask.shape
    assert region.dtype == tissue.dtype == np.uint8
    assert case.volume_hu.min() >= -1024 and case.volume_hu.max() <= 3071
    for key in ("kernel", "ischaemic_delta_hu", "bleed_volumes_ml", "pose", "physics"):
        assert key in case.details
    assert isinstance(case.details["kernel"], str) and case.details["kernel"]
    assert case.details["ischaemic_delta_hu"] is None
    dz, dy, dx = case.spacing_mm
    assert 4.0 <= dz <= 5.0 and 200.0 <= dy * M <= 250.0 and dx == dy
    assert sectional.render(1, NcctLabel(), matrix=M).volume_hu.shape == case.volume_hu.shape


def test_deterministic() -> None:
    label = NcctLabel(bleeds=("subdural",), mimics=("pineal_calcification",))
    a = sectional.render(7, label, matrix=M)
    b = sectional.render(7, label, matrix=M)
    assert np.array_equal(a.volume_hu, b.volume_hu)
    assert np.array_equal(a.blood_mask, b.blood_mask)
    assert a.details["pose"] == b.details["pose"]
    c = sectional.render(8, label, matrix=M)
    assert not np.array_equal(a.volume_hu[:5], c.volume_hu[:5])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_geometry_lps(seed: int) -> None:
    case, region, tissue = _render(seed, NcctLabel())
    zz, yy, xx = np.indices(region.shape)
    left = (region >= 1) & (region <= 10)
    right = region >= 11
    assert left.sum() > 20 and right.sum() > 20
    assert xx[left].mean() > xx[right].mean()  # LPS: x increases to the patient's left
    for code in range(1, 11):
        assert (region == code).any() and (region == code + 10).any(), code
    # vertex at high z: the supraganglionic regions lie above the ganglionic ones,
    # the cerebellum below the cerebrum
    gang = np.isin(region, [1, 2, 3, 4, 11, 12, 13, 14])
    supra = np.isin(region, [8, 9, 10, 18, 19, 20])
    assert zz[supra].mean() > zz[gang].mean()
    assert zz[tissue == T["cerebellum"]].mean() < zz[tissue == T["white_matter"]].mean()
    # caudate heads are anterior (smaller y) to the thalami
    assert yy[tissue == T["caudate"]].mean() < yy[tissue == T["thalamus"]].mean()


@pytest.mark.parametrize("seed", [1, 4])
def test_tissue_medians(seed: int) -> None:
    case, _, tissue = _render(seed, NcctLabel(), 128)
    v = case.volume_hu.astype(float)

    def med(name: str) -> float:
        return float(np.median(v[tissue == T[name]]))

    grey = float(np.median(v[np.isin(tissue, [T["grey_matter"], T["thalamus"],
                                              T["putamen"], T["caudate"]])]))
    assert grey >= med("white_matter") + 5.0
    assert med("csf") < med("white_matter")
    assert med("cortical_bone") > 700.0
    assert 15.0 <= med("white_matter") <= 35.0


@pytest.mark.parametrize("kind", BLEED_KINDS)
def test_every_bleed_kind(kind: str) -> None:
    for seed in (3, 5):
        case, _, tissue = _render(seed, NcctLabel(bleeds=(kind,)))
        code = 1 + BLEED_KINDS.index(kind)
        mask = case.blood_mask == code
        assert mask.sum() >= 2, (kind, seed)
        assert set(np.unique(case.blood_mask)) <= {0, code}
        outside = np.isin(tissue[mask], [T["air"], T["scalp"], T["fat"], T["muscle"]])
        assert outside.mean() < 0.05
        assert np.mean(tissue[mask] == T["cortical_bone"]) < 0.25
        hu = float(np.median(case.volume_hu[mask]))
        assert 45.0 <= hu <= 95.0, (kind, seed, hu)
        voxel_ml = float(np.prod(case.spacing_mm)) / 1000.0
        vol = case.details["bleed_volumes_ml"][kind]
        assert vol == pytest.approx(mask.sum() * voxel_ml)
        assert 0.3 <= vol <= 90.0


def test_no_blood_without_bleeds() -> None:
    for seed in (1, 2):
        case, _, tissue = _render(seed, NcctLabel())
        assert not case.blood_mask.any()
        assert not (tissue == T["blood"]).any()
        assert case.details["bleed_volumes_ml"] == {}


def test_all_bleeds_and_large_volumes() -> None:
    case, _, _ = _render(9, NcctLabel(bleeds=BLEED_KINDS))
    kinds = set(np.unique(case.blood_mask)) - {0}
    assert kinds == set(range(1, 6))


@pytest.mark.parametrize("mimic", MIMICS)
def test_mimics(mimic: str) -> None:
    base, _, tissue = _render(2, NcctLabel(), 128)
    case, _, _ = _render(2, NcctLabel(mimics=(mimic,)), 128)
    assert not case.blood_mask.any()
    assert mimic in case.details["mimics"]
    diff = case.volume_hu.astype(float) - base.volume_hu.astype(float)
    changed = diff > 10.0
    assert changed.sum() >= 1, mimic
    brain = float(np.median(base.volume_hu[tissue == T["white_matter"]]))
    assert float(np.median(case.volume_hu[changed])) > brain + 10.0


@pytest.mark.parametrize("side,regions", [("left", ("C", "L", "IC", "I", "M2", "M5")),
                                          ("right", ("M1", "M3", "M4", "M6", "L"))])
def test_ischaemia(side: str, regions: tuple[str, ...]) -> None:
    seed = 6
    base, region, tissue = _render(seed, NcctLabel(), 128)
    label = NcctLabel(ischaemic_regions=regions, ischaemic_side=side)
    case, region2, tissue2 = _render(seed, label, 128)
    delta = case.details["ischaemic_delta_hu"]
    assert 2.0 <= delta <= 6.0
    assert not case.blood_mask.any()
    paren = [T[t] for t in ("grey_matter", "white_matter", "caudate", "putamen", "pallidum",
                            "internal_capsule")]
    off = 0 if side == "left" else 10
    for name in regions:
        code = off + 1 + ASPECTS_REGIONS.index(name)
        mirror = (code + 10) if side == "left" else (code - 10)
        a = (region == code) & np.isin(tissue, paren) & np.isin(tissue2, paren)
        m = (region == mirror) & np.isin(tissue, paren) & np.isin(tissue2, paren)
        assert a.sum() > 3 and m.sum() > 3
        va, vb = case.volume_hu.astype(float), base.volume_hu.astype(float)
        drop = (vb[a].mean() - vb[m].mean()) - (va[a].mean() - va[m].mean())
        assert 0.3 * delta <= drop <= 1.5 * delta, (name, drop, delta)
    # untouched regions unchanged (same noise, same anatomy)
    others = [off + 1 + i for i, r in enumerate(ASPECTS_REGIONS) if r not in regions]
    o = np.isin(region, others) & np.isin(tissue, paren)
    diff = case.volume_hu.astype(float)[o] - base.volume_hu.astype(float)[o]
    assert abs(diff.mean()) < 0.4 * delta


def test_write_case(tmp_path: Path) -> None:
    case, _, _ = _render(3, NcctLabel(bleeds=("intraparenchymal",)))
    truth = write_case(case, tmp_path)
    files = sorted((tmp_path / "dicom").glob("*.dcm"))
    assert len(files) == case.volume_hu.shape[0] == truth["images"]
    ds = pydicom.dcmread(files[0])
    assert ds.Modality == "CT" and ds.ConvolutionKernel == case.details["kernel"]
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert np.array_equal(hu, case.volume_hu[0])
    z = [float(pydicom.dcmread(f).ImagePositionPatient[2]) for f in files[:3]]
    assert z[1] - z[0] == pytest.approx(case.spacing_mm[0], abs=1e-3)
    stored = np.load(tmp_path / "truth_blood.npz")["mask"]
    assert np.array_equal(stored, case.blood_mask)
    assert truth["family"] == "sectional" and truth["ich"]

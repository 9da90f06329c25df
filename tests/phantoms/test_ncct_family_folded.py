"""The folded NCCT family: interface, geometry, determinism, tissues, bleeds, ischaemia,
mimics and the DICOM series (at matrix 64 to stay fast)."""

from __future__ import annotations

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
    folded,
    write_case,
)

M = 64
T = {name: i for i, name in enumerate(folded.TISSUES)}


def _brain_median(vol: np.ndarray, tissue: np.ndarray) -> float:
    sel = (tissue == T["grey_matter"]) | (tissue == T["white_matter"])
    return float(np.median(vol[sel]))


def test_interface_and_registration() -> None:
    assert folded.FAMILY == "folded" and "folded" in FAMILIES
    for name in ("grey_matter", "white_matter", "caudate", "putamen", "pallidum", "csf",
                 "cortical_bone", "blood", "metal"):
        assert name in folded.TISSUES
    case = folded.render(3, NcctLabel(), matrix=M)
    assert isinstance(case, NcctCase) and case.family == "folded" and case.seed == 3
    assert case.volume_hu.ndim == 3 and case.volume_hu.shape[1:] == (M, M)
    assert case.blood_mask.shape == case.volume_hu.shape and case.blood_mask.dtype == np.uint8
    for key in ("kernel", "ischaemic_delta_hu", "bleed_volumes_ml", "pose", "physics"):
        assert key in case.details
    assert isinstance(case.details["kernel"], str)
    assert case.details["ischaemic_delta_hu"] is None
    assert not case.blood_mask.any()
    assert case.volume_hu.min() >= -1024 and case.volume_hu.max() <= 3071
    assert 2.5 <= case.spacing_mm[0] <= 5.0
    assert 200.0 <= case.spacing_mm[1] * M <= 250.0


def test_deterministic() -> None:
    label = NcctLabel(bleeds=("subdural",), mimics=("pineal_calcification",))
    a = folded.render(5, label, matrix=M)
    b = folded.render(5, label, matrix=M)
    assert np.array_equal(a.volume_hu, b.volume_hu)
    assert np.array_equal(a.blood_mask, b.blood_mask)
    c = folded.render(6, label, matrix=M)
    assert a.volume_hu.shape != c.volume_hu.shape or not np.array_equal(a.volume_hu, c.volume_hu)


def test_geometry_lps() -> None:
    case, region, tissue = folded.render_labelled(2, NcctLabel(), matrix=M)
    z, y, x = np.nonzero((region >= 1) & (region <= 10))
    zr, yr, xr = np.nonzero(region >= 11)
    assert x.size and xr.size
    assert x.mean() > xr.mean() + 5  # patient left = larger x
    brain = np.isin(tissue, [T["grey_matter"], T["white_matter"]])
    per_slice = brain.sum(axis=(1, 2))
    bone = tissue == T["cortical_bone"]
    assert per_slice[-3:].sum() < per_slice.max()
    # the vertex (last brain slice) is high in z, the posterior fossa low
    zs = np.nonzero(per_slice)[0]
    cb = np.nonzero((tissue == T["cerebellum"]).sum(axis=(1, 2)))[0]
    assert cb.size and cb.mean() < zs.mean()
    assert bone.any()
    for i in range(1, 21):
        assert (region == i).any(), i


def test_tissue_medians() -> None:
    for seed in (1, 4):
        case, _, tissue = folded.render_labelled(seed, NcctLabel(), matrix=M)
        v = case.volume_hu.astype(np.float32)
        gm = float(np.median(v[tissue == T["grey_matter"]]))
        wm = float(np.median(v[tissue == T["white_matter"]]))
        csf = float(np.median(v[tissue == T["csf"]]))
        bone = float(np.median(v[tissue == T["cortical_bone"]]))
        assert gm >= wm + 5.0, (gm, wm)
        assert csf < wm
        assert bone > 700.0


@pytest.mark.parametrize("kind", BLEED_KINDS)
def test_each_bleed_drawn(kind: str) -> None:
    for seed in (11, 12):
        case, _, tissue = folded.render_labelled(seed, NcctLabel(bleeds=(kind,)), matrix=M)
        code = 1 + BLEED_KINDS.index(kind)
        mask = case.blood_mask == code
        assert mask.any(), (kind, seed)
        assert set(np.unique(case.blood_mask)) <= {0, code}
        med = float(np.median(case.volume_hu[mask]))
        assert 40.0 <= med <= 95.0, (kind, seed, med)
        bone = np.isin(tissue, [T["cortical_bone"], T["diploe"], T["scalp"], T["air"]])
        assert (mask & bone).sum() <= 0.02 * mask.sum()
        vox_ml = float(np.prod(case.spacing_mm)) / 1000.0
        vol = case.details["bleed_volumes_ml"][kind]
        assert vol == pytest.approx(mask.sum() * vox_ml)
        assert 0.2 < vol < 120.0, (kind, seed, vol)


def test_empty_label_has_no_blood() -> None:
    for seed in (7, 8):
        case = folded.render(seed, NcctLabel(), matrix=M)
        assert not case.blood_mask.any() and case.details["bleed_volumes_ml"] == {}


@pytest.mark.parametrize("mimic", MIMICS)
def test_each_mimic(mimic: str) -> None:
    seed = 21
    case, _, tissue = folded.render_labelled(seed, NcctLabel(mimics=(mimic,)), matrix=M)
    assert not case.blood_mask.any()
    v = case.volume_hu.astype(np.float32)
    brain = _brain_median(v, tissue)
    info = case.details["mimics_drawn"][mimic]
    if mimic == "streak_artefact":
        plain = folded.render(seed, NcctLabel(), matrix=M).volume_hu.astype(np.float32)
        diff = v - plain
        inside = np.isin(tissue, [T["grey_matter"], T["white_matter"]])
        assert float(diff[inside].max()) > 20.0
        return
    sel = tissue == T[info["tissue"]]
    assert sel.any(), mimic
    assert float(np.max(v[sel])) > brain + 15.0, mimic
    assert float(np.median(v[sel])) > brain, mimic


def test_ischaemia_lowers_regions() -> None:
    regions = ("L", "I", "M2", "M5")
    label = NcctLabel(ischaemic_regions=regions, ischaemic_side="left")
    case, region, tissue = folded.render_labelled(9, label, matrix=M)
    base = folded.render(9, NcctLabel(), matrix=M)
    delta = case.details["ischaemic_delta_hu"]
    assert isinstance(delta, float) and 2.0 <= delta <= 6.0
    v = case.volume_hu.astype(np.float32)
    codes = [1 + ASPECTS_REGIONS.index(r) for r in regions]
    hit = np.isin(region, codes)
    mirror = np.isin(region, [c + 10 for c in codes])
    drop = float(v[mirror].mean() - v[hit].mean())
    assert 0.4 * delta < drop < 3.0 * delta, (drop, delta)
    own = float(base.volume_hu[hit].astype(np.float32).mean() - v[hit].mean())
    assert 0.5 * delta < own < 2.0 * delta, (own, delta)
    assert not case.blood_mask.any()


def test_write_case(tmp_path: Path) -> None:
    case = folded.render(13, NcctLabel(bleeds=("epidural",)), matrix=M)
    truth = write_case(case, tmp_path)
    files = sorted((tmp_path / "dicom").glob("*.dcm"))
    assert len(files) == case.volume_hu.shape[0] == truth["images"]
    ds = pydicom.dcmread(files[0])
    assert ds.Rows == M and ds.ConvolutionKernel == case.details["kernel"]
    assert (tmp_path / "truth.json").exists() and (tmp_path / "truth_blood.npz").exists()
    assert truth["ich"] and truth["family"] == "folded"

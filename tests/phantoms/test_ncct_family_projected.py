"""NCCT family "projected" (lofted atlas levels, projection-domain CT): geometry, HU, bleeds,
ASPECTS regions, early ischaemic change, mimics and the DICOM round trip, on small matrices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from scipy import ndimage

from strokealert.phantoms.ncct_families import (
    ASPECTS_REGIONS,
    BLEED_KINDS,
    NcctCase,
    NcctLabel,
    write_case,
)
from strokealert.phantoms.ncct_families import projected as fam

Rendered = tuple[NcctCase, np.ndarray, np.ndarray]
MATRIX = 128
SEED = 7  # plain anatomy shared by the comparison tests (no mass effect in their labels)
MIMICS_DRAWN = ("choroid_plexus_calcification", "pineal_calcification",
                "basal_ganglia_calcification", "falx_calcification", "hyperdense_vessel")


def _tissue(name: str) -> int:
    return fam.TISSUES.index(name)


def _kind(case: NcctCase, kind: str) -> np.ndarray:
    return case.blood_mask == BLEED_KINDS.index(kind) + 1


@pytest.fixture(scope="module")
def plain() -> Rendered:
    return fam.render_labelled(SEED, NcctLabel(), matrix=MATRIX)


@pytest.fixture(scope="module")
def ischaemic() -> Rendered:
    label = NcctLabel(ischaemic_regions=ASPECTS_REGIONS, ischaemic_side="left")
    return fam.render_labelled(SEED, label, matrix=MATRIX)


@pytest.fixture(scope="module")
def masses() -> Rendered:
    # seed 5 draws a 53 mL frontal haematoma and a 44 mL epidural (see the details)
    label = NcctLabel(bleeds=("intraparenchymal", "subdural", "epidural"))
    return fam.render_labelled(5, label, matrix=96)


def test_render_is_deterministic() -> None:
    label = NcctLabel(bleeds=("subarachnoid",), mimics=("pineal_calcification",))
    a, b = fam.render(3, label, matrix=96), fam.render(3, label, matrix=96)
    assert np.array_equal(a.volume_hu, b.volume_hu)
    assert np.array_equal(a.blood_mask, b.blood_mask)
    assert a.details == b.details
    assert a.volume_hu.shape[1:] == (96, 96)
    assert a.volume_hu.shape[0] == len(a.blood_mask)


def test_geometry_and_details(plain: Rendered) -> None:
    case, region, tissue = plain
    d = case.details
    nz = case.volume_hu.shape[0]
    assert case.family == fam.FAMILY == "projected"
    assert region.shape == tissue.shape == case.volume_hu.shape and region.dtype == np.uint8
    assert d["slice_thickness_mm"] in (3.0, 5.0) and case.spacing_mm[0] == d["slice_thickness_mm"]
    assert 220 <= d["fov_mm"] <= 262 and case.spacing_mm[1] == pytest.approx(d["fov_mm"] / MATRIX)
    assert 25 <= nz * case.spacing_mm[0] / 5 <= 50  # skull base to vertex: ~30-45 slices of 5 mm
    assert d["kernel"] in ("RAMLAK", "SHEPPLOGAN", "COSINE", "HANN")
    assert all(abs(d[k]) <= 15 for k in ("pitch_deg", "yaw_deg", "roll_deg"))
    assert 3 <= d["noise_sd_hu"] <= 8 and d["ischaemic_delta_hu"] is None
    assert d["largest_iph_abc2_ml"] is None and d["midline_shift_mm"] == 0.0
    assert len(d["origin_mm"]) == 3
    # the skull base is at the bottom and the vertex at the top: bone in the first and last
    # slices that hold anything, brain in the middle
    has = [int((tissue[z] != 0).sum()) for z in range(nz)]
    assert tissue[nz // 2][tissue[nz // 2] == _tissue("white")].size > 500
    assert has[0] > has[-1]


def test_tissue_hu(plain: Rendered) -> None:
    case, _, tissue = plain
    v = case.volume_hu.astype(float)
    d = case.details

    def core(name: str) -> np.ndarray:
        m = tissue == _tissue(name)
        return ndimage.binary_erosion(m, np.ones((1, 3, 3), bool))

    white = np.median(v[core("white")])
    assert 35 <= d["grey_hu"] <= 45 and 25 <= d["white_hu"] <= 32
    assert d["grey_hu"] - d["white_hu"] >= 5
    assert abs(white - d["white_hu"]) < 4, white
    deep_grey = np.median(v[core("nucleus") | core("thalamus")])
    assert white + 2 < deep_grey < 48, (white, deep_grey)
    assert -5 < np.median(v[core("ventricle")]) < 15
    assert np.median(v[core("bone")]) > 600
    assert np.median(v[core("air")]) < -900
    # the noise comes out of the reconstruction: white-matter SD near the drawn level
    wm = core("white").astype(float)
    local = ndimage.uniform_filter(v * wm, (1, 9, 9)) / np.maximum(
        ndimage.uniform_filter(wm, (1, 9, 9)), 1e-6)
    inner = ndimage.binary_erosion(wm > 0, np.ones((1, 3, 3), bool))
    sd = float(np.std((v - local)[inner]))
    # (plus a few HU of texture, partial volume and streaks that are there without noise)
    assert 0.6 * d["noise_sd_hu"] < sd < np.hypot(1.5 * d["noise_sd_hu"], 5.0), (sd, d)


def test_aspects_regions_on_both_sides(plain: Rendered) -> None:
    case, region, tissue = plain
    voxel_ml = float(np.prod(case.spacing_mm)) / 1000
    for i, name in enumerate(ASPECTS_REGIONS, start=1):
        left, right = int((region == i).sum()), int((region == i + 10).sum())
        assert left > 0 and right > 0, name
        assert 0.5 < left / right < 2.0, (name, left, right)
        assert left * voxel_ml < 60, name
    x = np.arange(MATRIX) * case.spacing_mm[2] + case.details["origin_mm"][0]
    centre_x = float(np.average(np.nonzero(region)[2], weights=None))
    left_x = np.mean(x[np.nonzero((region >= 1) & (region <= 10))[2]])
    right_x = np.mean(x[np.nonzero(region >= 11)[2]])
    assert left_x > right_x  # patient's left has larger x (LPS)
    assert 0 < centre_x < MATRIX
    deep = np.isin(region, [1, 2, 11, 12])
    assert np.isin(tissue[deep], [_tissue("nucleus")]).mean() > 0.9
    # ganglionic regions (C, L, IC, I, M1-M3) lie below the supraganglionic ones (M4-M6)
    z = np.arange(region.shape[0])
    low = np.mean(z[np.nonzero(np.isin(region, [5, 6, 7]))[0]])
    high = np.mean(z[np.nonzero(np.isin(region, [8, 9, 10]))[0]])
    assert high > low + 2


def test_ischaemic_change(plain: Rendered, ischaemic: Rendered) -> None:
    base, region, tissue = plain
    case, region2, _ = ischaemic
    delta = case.details["ischaemic_delta_hu"]
    assert 2 <= delta <= 6
    assert np.array_equal(region, region2)
    v0, v1 = base.volume_hu.astype(float), case.volume_hu.astype(float)
    par = np.isin(tissue, [_tissue(t) for t in ("grey", "white", "nucleus", "thalamus")])
    core = ndimage.binary_erosion(par, np.ones((1, 3, 3), bool))
    left = core & (region >= 1) & (region <= 10)
    right = core & (region >= 11)
    drop = float(np.mean(v1[left] - v0[left]))
    assert drop == pytest.approx(-delta, abs=1.5), (drop, delta)
    assert abs(float(np.mean(v1[right] - v0[right]))) < 0.8
    # against the mirror region: the left-right difference moved by about -delta
    before = np.mean(v0[left]) - np.mean(v0[right])
    after = np.mean(v1[left]) - np.mean(v1[right])
    assert after - before == pytest.approx(-delta, abs=1.5)
    # grey/white differentiation blurred in the insular ribbon (region I, left)
    ins = (region == ASPECTS_REGIONS.index("I") + 1) & par
    assert np.std(v1[ins]) <= np.std(v0[ins]) + 0.5


def test_parenchymal_and_extra_axial_bleeds(masses: Rendered) -> None:
    case, _, tissue = masses
    d = case.details
    voxel_ml = float(np.prod(case.spacing_mm)) / 1000
    bone = np.isin(tissue, [_tissue("bone"), _tissue("marrow")])
    near_bone = ndimage.binary_dilation(bone, np.ones((1, 3, 3), bool), iterations=2)
    for kind in ("subdural", "epidural"):
        m = _kind(case, kind)
        assert m.sum() * voxel_ml == pytest.approx(d["bleed_volumes_ml"][kind])
        assert 0.3 * d["bleed_target_ml"][kind] < m.sum() * voxel_ml < 2.5 * d[
            "bleed_target_ml"][kind] + 3
        assert (m & near_bone).sum() > 0.15 * m.sum(), kind  # against the inner table
    iph = _kind(case, "intraparenchymal")
    vol = iph.sum() * voxel_ml
    assert vol == pytest.approx(d["bleed_target_ml"]["intraparenchymal"], rel=0.35)
    assert (iph & near_bone).sum() < 0.1 * iph.sum()  # in the brain, not on the skull
    rim = ndimage.binary_dilation(iph, np.ones((1, 3, 3), bool), iterations=2) & ~iph
    assert (tissue[rim] == _tissue("oedema")).mean() > 0.2  # hypodense oedema around it
    v = case.volume_hu.astype(float)
    assert 50 < np.median(v[ndimage.binary_erosion(iph, np.ones((1, 3, 3), bool))]) < 95
    assert 0.5 * vol < d["largest_iph_abc2_ml"] < 2.2 * vol
    assert 4.0 < d["midline_shift_mm"] < 15.0  # ~120 mL of mass on the left, 4 mL on the right
    assert set(d["bleed_volumes_ml"]) == {"intraparenchymal", "subdural", "epidural"}


def test_intraventricular_and_subarachnoid_bleeds(plain: Rendered) -> None:
    base, _, tissue = plain
    case = fam.render(SEED, NcctLabel(bleeds=("intraventricular", "subarachnoid")),
                      matrix=MATRIX)
    grow = np.ones((3, 3, 3), bool)
    ventricles = ndimage.binary_dilation(
        np.isin(tissue, [_tissue("ventricle"), _tissue("choroid_plexus")]), grow)
    csf = ndimage.binary_dilation(tissue == _tissue("csf"), grow)
    ivh, sah = _kind(case, "intraventricular"), _kind(case, "subarachnoid")
    assert ivh.sum() > 0 and sah.sum() > 0
    assert (ivh & ventricles).sum() >= 0.95 * ivh.sum()
    assert (sah & csf).sum() >= 0.95 * sah.sum()
    voxel_ml = float(np.prod(case.spacing_mm)) / 1000
    assert 0.3 < ivh.sum() * voxel_ml < 40 and 0.3 < sah.sum() * voxel_ml < 60
    assert case.details["midline_shift_mm"] == 0.0
    assert float(np.mean(case.volume_hu[ivh])) > float(np.mean(base.volume_hu[ivh])) + 20


def test_mimics_are_dense_but_not_blood(plain: Rendered) -> None:
    base, _, _ = plain
    case, _, tissue = fam.render_labelled(SEED, NcctLabel(mimics=MIMICS_DRAWN), matrix=MATRIX)
    assert not case.blood_mask.any() and case.blood_volume_ml() == 0.0
    calc = tissue == _tissue("calcification")
    assert calc.sum() > 0
    assert float(case.volume_hu[calc].max()) > 90
    assert set(case.details["mimics_placed"]) == set(MIMICS_DRAWN)
    gain = case.volume_hu.astype(float) - base.volume_hu.astype(float)
    assert gain[calc].mean() > 30


def test_residual_contrast_and_streaks(plain: Rendered) -> None:
    base, _, tissue = plain
    case = fam.render(SEED, NcctLabel(mimics=("residual_contrast", "streak_artefact")),
                      matrix=MATRIX)
    assert not case.blood_mask.any()
    diff = case.volume_hu.astype(float) - base.volume_hu.astype(float)
    sinus = ndimage.binary_erosion(tissue == _tissue("venous_sinus"), np.ones((1, 2, 2), bool))
    assert diff[sinus].mean() > 20  # dense dural sinuses after an earlier CTA
    brain = np.isin(tissue, [_tissue("grey"), _tissue("white")])
    assert np.abs(diff[brain]).max() > 30  # streaks from the metal on the scalp cross the brain


def test_dicom_round_trip(tmp_path: Path, plain: Rendered) -> None:
    case, _, _ = plain
    truth = write_case(case, tmp_path)
    files = sorted((tmp_path / "dicom").glob("*.dcm"))
    assert truth["images"] == len(files) == case.volume_hu.shape[0]
    first, last = pydicom.dcmread(files[0]), pydicom.dcmread(files[-1])
    origin = case.details["origin_mm"]
    assert [float(v) for v in first.ImagePositionPatient] == pytest.approx(origin, abs=1e-3)
    dz = float(last.ImagePositionPatient[2]) - float(first.ImagePositionPatient[2])
    assert dz == pytest.approx((len(files) - 1) * case.spacing_mm[0], abs=1e-2)
    assert [float(v) for v in first.PixelSpacing] == pytest.approx(case.spacing_mm[1:], abs=1e-5)
    assert float(first.SliceThickness) == pytest.approx(case.spacing_mm[0])
    assert first.ConvolutionKernel == case.details["kernel"]
    mid = len(files) // 2
    ds = pydicom.dcmread(files[mid])
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert np.array_equal(hu, case.volume_hu[mid].astype(float))
    assert truth["family"] == "projected" and truth["aspects"] == 10

"""Tests of the ``landmarks`` NCCT family (landmark-interpolated anatomy, image-domain physics).

Renders at matrix 96-128 only; a handful of cases shared through module fixtures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from scipy import ndimage
from scipy.spatial import ConvexHull

from strokealert.phantoms.ncct_families import (
    ASPECTS_REGIONS,
    BLEED_KINDS,
    MIMICS,
    NcctCase,
    NcctLabel,
    write_case,
)
from strokealert.phantoms.ncct_families import landmarks as lm

M = 128
ALL_BLEEDS = BLEED_KINDS
ISCH = NcctLabel(ischaemic_regions=("L", "I", "M2", "M5"), ischaemic_side="left")

Rendered = tuple[NcctCase, np.ndarray, np.ndarray]


@pytest.fixture(scope="module")
def plain() -> Rendered:
    return lm.render_labelled(5, NcctLabel(), matrix=M)


@pytest.fixture(scope="module")
def ischaemic() -> Rendered:
    return lm.render_labelled(5, ISCH, matrix=M)


@pytest.fixture(scope="module")
def bleeding() -> Rendered:
    return lm.render_labelled(169, NcctLabel(bleeds=ALL_BLEEDS), matrix=M)


@pytest.fixture(scope="module")
def mimics() -> Rendered:
    return lm.render_labelled(5, NcctLabel(mimics=MIMICS), matrix=M)


def tid(name: str) -> int:
    return lm.TISSUES.index(name)


def head_coords(case: NcctCase, idx: np.ndarray) -> np.ndarray:
    """Head-frame LPS mm of voxel indices (N, 3) as (z, y, x), from the reported pose."""
    d = case.details
    dz, dy, dx = case.spacing_mm
    ox, oy, oz = d["origin_mm"]
    q = np.stack([ox + idx[:, 2] * dx, oy + idx[:, 1] * dy, oz + idx[:, 0] * dz], axis=1)
    rot = np.asarray(d["pose_matrix"])
    return np.asarray((q - np.asarray(d["pose_offset_mm"])) @ rot)  # R^T (q - t), rows


def core(mask: np.ndarray) -> np.ndarray:
    """In-plane erosion by one pixel (partial-volume-free core of a region)."""
    st = np.zeros((1, 3, 3), bool)
    st[0] = True
    return np.asarray(ndimage.binary_erosion(mask, st))


def test_determinism_and_seed_dependence() -> None:
    lab = NcctLabel(bleeds=("subarachnoid",))
    a, asp_a, tis_a = lm.render_labelled(3, lab, matrix=96)
    b, asp_b, tis_b = lm.render_labelled(3, lab, matrix=96)
    np.testing.assert_array_equal(a.volume_hu, b.volume_hu)
    np.testing.assert_array_equal(a.blood_mask, b.blood_mask)
    np.testing.assert_array_equal(asp_a, asp_b)
    np.testing.assert_array_equal(tis_a, tis_b)
    assert a.details == b.details
    c = lm.render(4, lab, matrix=96)
    assert c.details["pose_matrix"] != a.details["pose_matrix"]
    assert lm.FAMILY == "landmarks" and a.family == "landmarks"


def test_geometry_and_details(plain: Rendered) -> None:
    case, asp, tis = plain
    d = case.details
    nz, ny, nx = case.volume_hu.shape
    assert (ny, nx) == (M, M) and asp.shape == tis.shape == case.blood_mask.shape
    assert asp.dtype == np.uint8 and tis.dtype == np.uint8 and case.blood_mask.dtype == np.uint8
    assert d["slice_thickness_mm"] in (2.5, 3.0, 4.0, 5.0)
    assert case.spacing_mm == (d["slice_thickness_mm"], d["pixel_mm"], d["pixel_mm"])
    assert 200 <= d["fov_mm"] <= 260 and abs(d["pixel_mm"] * M - d["fov_mm"]) < 1e-2
    assert isinstance(d["kernel"], str) and d["kernel"]
    assert 3.0 <= d["noise_sd_hu"] <= 7.0
    for k in ("pitch_deg", "yaw_deg", "roll_deg"):
        assert abs(d[k]) <= 15.0
    assert d["ischaemic_delta_hu"] is None and d["bleed_volumes_ml"] == {}
    assert d["midline_shift_mm"] == 0.0 and d["mimics_placed"] == []
    assert len(d["origin_mm"]) == 3
    assert abs(d["origin_mm"][0] + (M - 1) / 2 * d["pixel_mm"]) < 1e-6
    assert case.blood_volume_ml() == 0.0
    assert tis.max() < len(lm.TISSUES)
    # coverage: the foramen magnum level (brainstem/cord) at the bottom, the vertex at the top
    brain_z = np.flatnonzero(np.isin(tis, lm.PARENCHYMA).any(axis=(1, 2)))
    assert brain_z.min() <= 2 and brain_z.max() < nz - 1
    assert (tis[:3] == tid("brainstem")).any()
    assert not np.isin(tis[-1], lm.PARENCHYMA).any()
    # LPS: the face (orbits) is anterior (low row index), the occiput posterior
    rows = np.nonzero(tis == tid("globe"))[1]
    cereb = np.nonzero(tis == tid("cerebellar_cortex"))[1]
    assert rows.mean() < cereb.mean()


def test_tissue_hu(plain: Rendered, bleeding: Rendered) -> None:
    case, _, tis = plain
    vol = case.volume_hu
    table = case.details["tissue_hu"]
    assert 35 <= table["grey_matter"] <= 45 and 22 <= table["white_matter"] <= 32
    assert 6 <= table["grey_matter"] - table["white_matter"] <= 14
    assert 0 <= table["sulcal_csf"] <= 10 and 700 <= table["diploe"] <= 1800
    assert 700 <= table["cortical_bone"] <= 1800 and table["fat"] < -80

    def med(name: str, erode: bool = True) -> float:
        m = tis == tid(name)
        m = core(m) if erode else m
        assert m.sum() > 20, name
        return float(np.median(vol[m]))

    assert abs(med("white_matter") - table["white_matter"]) < 6.0
    assert abs(med("thalamus") - table["thalamus"]) < 6.0 and 30 <= table["thalamus"] <= 45
    assert med("grey_matter", erode=False) > med("white_matter") + 2.0
    assert -4 <= med("ventricular_csf") <= 14
    assert med("cortical_bone") > 600
    assert med("fat", erode=False) < -20
    assert float(np.median(vol[tis == tid("air")])) < -900
    bcase, _, btis = bleeding
    blood = core(bcase.blood_mask > 0)
    assert blood.sum() > 20
    assert 45 <= float(np.median(bcase.volume_hu[blood])) <= 95


def test_bleed_compartments(bleeding: Rendered) -> None:
    case, _, tis = bleeding
    d = case.details
    mask = case.blood_mask
    assert set(d["bleed_volumes_ml"]) == set(BLEED_KINDS)
    for kind in BLEED_KINDS:
        assert (mask == 1 + BLEED_KINDS.index(kind)).any(), kind
    total = sum(d["bleed_volumes_ml"].values())
    assert 0.6 * total <= case.blood_volume_ml() <= 1.5 * total
    for kind, v in d["bleed_volumes_ml"].items():
        assert 0.3 <= v <= 65, kind

    def at(kind: str) -> np.ndarray:
        return np.asarray(tis[mask == 1 + BLEED_KINDS.index(kind)])

    assert np.isin(at("intraparenchymal"), lm.PARENCHYMA + (tid("sulcal_csf"),)).mean() > 0.9
    assert np.isin(at("intraventricular"), (tid("ventricular_csf"), tid("choroid_plexus"))).all()
    assert np.isin(at("subarachnoid"), (tid("sulcal_csf"), tid("cisternal_csf"))).all()
    assert (at("subdural") == tid("subdural_space")).all()
    assert (at("epidural") == tid("epidural_space")).all()
    # extra-axial collections lie against the inner table; the epidural lens is convex
    bone = np.isin(tis, (tid("cortical_bone"), tid("diploe")))
    dist = ndimage.distance_transform_edt(~bone, sampling=case.spacing_mm)
    edh = mask == 1 + BLEED_KINDS.index("epidural")
    sdh = mask == 1 + BLEED_KINDS.index("subdural")
    assert dist[edh].min() <= 2.5 and dist[sdh].min() <= 3.0
    assert np.percentile(dist[edh], 90) < 25

    def fill(m: np.ndarray) -> float:
        pts = np.argwhere(m) * np.asarray(case.spacing_mm)
        return float(m.sum() * np.prod(case.spacing_mm) / ConvexHull(pts).volume)

    assert fill(edh) > 0.45
    assert fill(edh) > fill(sdh)
    # intraventricular layering / casting sits in the ventricles, posterior part dependent
    for info in d["bleeds"]:
        if info["kind"] == "intraventricular" and info.get("pattern") == "layering":
            ivh = np.argwhere(mask == 1 + BLEED_KINDS.index("intraventricular"))
            vent = np.argwhere(tis == tid("ventricular_csf"))
            assert head_coords(case, ivh)[:, 1].mean() > head_coords(case, vent)[:, 1].mean()
    assert d["midline_shift_mm"] > 0.0


def test_aspects_regions_mirrored(plain: Rendered) -> None:
    case, asp, tis = plain
    cent: dict[int, np.ndarray] = {}
    for k in range(1, 21):
        idx = np.argwhere(asp == k)
        assert len(idx) > 3, k
        assert np.isin(tis[asp == k], lm.PARENCHYMA).all()
        cent[k] = head_coords(case, idx).mean(axis=0)
    for k in range(1, 11):
        left, right = cent[k], cent[k + 10]
        assert left[0] > 3 and right[0] < -3, ASPECTS_REGIONS[k - 1]
        assert abs(left[0] + right[0]) < 10, ASPECTS_REGIONS[k - 1]
        assert abs(left[1] - right[1]) < 12 and abs(left[2] - right[2]) < 10
        n_l, n_r = (asp == k).sum(), (asp == k + 10).sum()
        assert 0.4 < n_l / n_r < 2.5
    r = {name: cent[i + 1] for i, name in enumerate(ASPECTS_REGIONS)}
    # LPS: anterior is -y, up is +z
    assert r["M1"][1] < r["M2"][1] < r["M3"][1]
    assert r["M4"][1] < r["M5"][1] < r["M6"][1]
    for a, b in (("M1", "M4"), ("M2", "M5"), ("M3", "M6")):
        assert r[b][2] > r[a][2] + 8
    assert r["C"][1] < r["IC"][1] and r["C"][0] < r["L"][0] < r["I"][0]
    assert r["IC"][0] < r["L"][0]


def test_ischaemia_lowers_only_labelled_regions(plain: Rendered, ischaemic: Rendered) -> None:
    base, asp, _ = plain
    case, asp2, _ = ischaemic
    np.testing.assert_array_equal(asp, asp2)
    delta = case.details["ischaemic_delta_hu"]
    assert isinstance(delta, float) and 2.0 <= delta <= 6.0
    diff = case.volume_hu - base.volume_hu
    for name in ("L", "M2", "M5"):
        k = ASPECTS_REGIONS.index(name) + 1
        m = core(asp == k)
        assert m.sum() > 3, name
        assert -1.15 * delta <= float(diff[m].mean()) <= -0.45 * delta, name
    ins = core(asp == ASPECTS_REGIONS.index("I") + 1) | (asp == ASPECTS_REGIONS.index("I") + 1)
    assert float(diff[ins].mean()) <= -0.4 * delta
    # the other side and the unlabelled regions are left alone
    right = asp > 10
    assert float(np.abs(diff[right]).max()) < 0.05
    idx = np.argwhere(np.ones(diff.shape, bool))
    x_head = head_coords(case, idx)[:, 0].reshape(diff.shape)
    assert float(np.abs(diff[x_head < -12]).max()) < 0.05
    for name in ("M4", "M6", "C"):
        k = ASPECTS_REGIONS.index(name) + 1
        assert abs(float(diff[core(asp == k)].mean())) < 0.3 * delta, name
    assert case.details["noise_sd_hu"] == base.details["noise_sd_hu"]


def test_mimics_present(plain: Rendered, mimics: Rendered) -> None:
    case, _, tis = mimics
    d = case.details
    assert [m["name"] for m in d["mimics_placed"]] == list(MIMICS)
    assert not case.blood_mask.any()
    calc = tis == tid("calcification")
    assert calc.any() and float(case.volume_hu[calc].max()) > 100
    sinus = core(tis == tid("venous_sinus")) | (tis == tid("venous_sinus"))
    assert float(np.median(case.volume_hu[sinus])) > float(
        np.median(plain[0].volume_hu[sinus])) + 30
    assert d["streak_p99_hu"] > 1.5 * plain[0].details["streak_p99_hu"]
    hv = next(m for m in d["mimics_placed"] if m["name"] == "hyperdense_vessel")
    assert 10 <= hv["length_mm"] <= 20 and hv["vessel"] in ("mca", "basilar")


def test_write_case_dicom_round_trip(plain: Rendered, tmp_path: Path) -> None:
    case = plain[0]
    truth = write_case(case, tmp_path)
    files = sorted((tmp_path / "dicom").rglob("*.dcm")) or sorted(
        p for p in (tmp_path / "dicom").rglob("*") if p.is_file())
    assert len(files) == case.volume_hu.shape[0] == truth["images"]
    dss = sorted((pydicom.dcmread(f) for f in files),
                 key=lambda ds: float(ds.ImagePositionPatient[2]))
    vol = np.stack([ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
                    for ds in dss])
    np.testing.assert_array_equal(vol, np.round(case.volume_hu))
    np.testing.assert_allclose([float(v) for v in dss[0].ImagePositionPatient],
                               case.details["origin_mm"], atol=1e-3)
    assert abs(float(dss[0].PixelSpacing[0]) - case.spacing_mm[1]) < 1e-4
    assert truth["family"] == "landmarks" and truth["ich"] is False

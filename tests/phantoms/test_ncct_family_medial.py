"""The "medial" NCCT family (medial axes and convolution surfaces): interface, determinism,
anatomy independent of the label, where each bleed lands, blood HU and volumes, ischaemic
change confined to the requested ASPECTS regions, mimics, region sides and the DICOM output."""

from __future__ import annotations

import json
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
    write_case,
)
from strokealert.phantoms.ncct_families import medial as md

MATRIX = 64
T = {name: i for i, name in enumerate(md.TISSUES)}
PARENCHYMA = [T[n] for n in ("grey_matter", "white_matter", "deep_grey_matter",
                             "cerebellar_cortex", "cerebellar_white_matter", "brainstem")]
BONE = [T["cortical_bone"], T["diploe"], T["suture_or_fracture"]]


@cache
def _render(seed: int, bleeds: tuple[str, ...] = (), regions: tuple[str, ...] = (),
            side: str = "none", mimics: tuple[str, ...] = (), matrix: int = MATRIX
            ) -> tuple[NcctCase, np.ndarray, np.ndarray]:
    return md.render_labelled(seed, NcctLabel(bleeds, regions, side, mimics), matrix=matrix)


def _head_xyz(case: NcctCase, mask: np.ndarray) -> np.ndarray:
    """Head-frame coordinates (mm; x left, y posterior, z up) of the voxels of ``mask``."""
    idx = np.argwhere(mask).astype(np.float64)
    a = np.asarray(case.details["head_from_voxel"])
    return (np.c_[idx, np.ones(len(idx))] @ a.T)[:, :3]


def _near(mask: np.ndarray, target: np.ndarray, radius: int) -> np.ndarray:
    """Voxels of ``mask`` with a ``target`` voxel within ``radius`` pixels in-plane."""
    st = np.zeros((1, 2 * radius + 1, 2 * radius + 1), dtype=bool)
    st[0, :, :] = ndimage.iterate_structure(ndimage.generate_binary_structure(2, 1), radius)
    return mask & ndimage.binary_dilation(target, structure=st)


def test_interface_and_dtypes() -> None:
    assert md.FAMILY == "medial" and "medial" in FAMILIES
    case, region, tissue = _render(3)
    assert isinstance(case, NcctCase) and case.family == "medial" and case.seed == 3
    v = case.volume_hu
    assert v.ndim == 3 and v.shape[1:] == (MATRIX, MATRIX) and v.dtype == np.float32
    assert case.blood_mask.dtype == np.uint8 and case.blood_mask.shape == v.shape
    assert region.dtype == np.uint8 and tissue.dtype == np.uint8
    assert region.shape == v.shape and tissue.shape == v.shape
    assert not case.blood_mask.any() and case.blood_volume_ml() == 0.0
    dz, dy, dx = case.spacing_mm
    assert dz in (4.0, 5.0) and dy == dx and 220.0 / MATRIX <= dx <= 250.0 / MATRIX
    assert 25 <= v.shape[0] <= 60  # foramen magnum to vertex in 4-5 mm slices
    assert v.min() >= -1024 and v.max() <= 3071 and np.isfinite(v).all()
    assert int(tissue.max()) < len(md.TISSUES) and int(region.max()) <= 20
    d = case.details
    assert d["ischaemic_delta_hu"] is None and isinstance(d["kernel"], str) and d["kernel"]
    assert set(d["bleed_volumes_ml"]) == set(BLEED_KINDS)
    assert {"yaw_deg", "roll_deg", "pitch_deg", "scale"} <= set(d["pose"])
    assert abs(d["pose"]["yaw_deg"]) <= 15 and abs(d["pose"]["roll_deg"]) <= 8
    assert -20 <= d["pose"]["pitch_deg"] <= 25
    assert 3.0 <= d["physics"]["noise_sigma_hu"] <= 6.0 and len(d["origin_mm"]) == 3
    # tissues look like a head CT: air outside, brain near 20-50 HU, bone dense
    assert np.median(v[tissue == T["outside_air"]]) < -900
    brain = np.isin(tissue, [T["grey_matter"], T["white_matter"]])
    assert 18.0 < float(np.median(v[brain])) < 50.0
    assert float(np.median(v[tissue == T["cortical_bone"]])) > 400.0
    assert float(np.median(v[tissue == T["ventricular_csf"]])) < float(np.median(v[brain]))
    assert md.render(3, NcctLabel(), matrix=MATRIX).volume_hu.shape == v.shape


def test_deterministic() -> None:
    label = NcctLabel(bleeds=("subdural",), mimics=("pineal_calcification",))
    a, ra, ta = md.render_labelled(11, label, matrix=MATRIX)
    b, rb, tb = md.render_labelled(11, label, matrix=MATRIX)
    assert np.array_equal(a.volume_hu, b.volume_hu)
    assert np.array_equal(a.blood_mask, b.blood_mask)
    assert np.array_equal(ra, rb) and np.array_equal(ta, tb)
    assert json.dumps(a.details, default=str) == json.dumps(b.details, default=str)
    c = md.render(12, label, matrix=MATRIX)
    assert c.volume_hu.shape != a.volume_hu.shape or not np.array_equal(c.volume_hu, a.volume_hu)


def test_same_anatomy_with_and_without_a_bleed() -> None:
    base, rb, tb = _render(4)
    case, rc, tc = _render(4, ("intraparenchymal",))
    assert case.volume_hu.shape == base.volume_hu.shape
    assert case.details["pose"] == base.details["pose"]
    assert np.array_equal(rb, rc)
    near = ndimage.binary_dilation(case.blood_mask > 0, iterations=3)
    assert case.blood_mask.any()
    assert np.array_equal(tb[~near], tc[~near])
    diff = np.abs(case.volume_hu - base.volume_hu)
    assert float(diff[~near].max()) < 0.5
    assert float(diff[case.blood_mask > 0].mean()) > 3.0


SEEDS = (1, 2)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", BLEED_KINDS)
def test_bleed_lands_where_it_belongs(kind: str, seed: int) -> None:
    base, _r0, tis = _render(seed)
    case, _r1, _t1 = _render(seed, (kind,))
    code = BLEED_KINDS.index(kind) + 1
    m = case.blood_mask == code
    n = int(m.sum())
    assert n >= 4 and set(np.unique(case.blood_mask)) == {0, code}
    t = tis[m]
    assert float(np.isin(t, BONE).mean()) < 0.1  # never inside the skull
    xyz = _head_xyz(case, m)
    info = case.details["bleeds"][kind]
    if kind == "intraparenchymal":
        assert float(np.isin(t, PARENCHYMA).mean()) > 0.75
    elif kind == "intraventricular":
        assert float(np.isin(t, [T["ventricular_csf"], T["choroid_plexus"]]).mean()) > 0.6
        assert float(np.isin(t, [T["subarachnoid_csf"]]).mean()) < 0.2
    elif kind == "subarachnoid":
        assert float(np.isin(t, [T["subarachnoid_csf"], T["artery"], T["dura"]]).mean()) > 0.55
        assert float(np.isin(t, [T["ventricular_csf"]]).mean()) < 0.1
    else:
        # extra-axial collections: against the inner table, on one side
        bone = np.isin(tis, [T["cortical_bone"], T["diploe"]])
        dist = ndimage.distance_transform_edt(~bone, sampling=case.spacing_mm)[m]
        lim = info["max_thickness_mm"] + 2.5 * case.spacing_mm[1] + case.spacing_mm[0]
        hd = md._Head(seed)
        # within a collection's thickness of the inner table (or of the falx or tentorium)
        dural = (np.abs(xyz[:, 0]) < 8.0) | (np.abs(xyz[:, 2] - hd.tent(xyz[:, 0], xyz[:, 1]))
                                             < 8.0)
        assert ((dist <= lim) | (dural & (kind == "subdural"))).all()
        touching = _near(m, bone, 1)
        if kind == "epidural":
            lab, _n = ndimage.label(m)
            largest = lab == 1 + int(np.argmax(np.bincount(lab.ravel())[1:]))
            assert _near(largest, bone, 1).any() and touching.sum() >= 0.08 * n
        else:  # on the convexity, or along the falx or tentorium
            assert touching.any() or info.get("falx") or info.get("tentorium")
        side = 1.0 if info["side"] == "left" else -1.0
        plates, _dist = hd.plates(xyz[:, 0], xyz[:, 1], xyz[:, 2])
        if kind == "subdural":
            assert (xyz[:, 0] * side > 0).all()  # does not cross the midline (falx)
            assert len(set(plates.tolist())) >= 2  # crosses sutures
        else:
            assert len(set(plates.tolist())) == 1  # an epidural lens stops at the sutures
            assert info["fracture"] and info["max_thickness_mm"] >= 5.0


@pytest.mark.parametrize("seed", SEEDS)
def test_blood_volumes_and_hu(seed: int) -> None:
    for kind in BLEED_KINDS:
        case, _r, _t = _render(seed, (kind,))
        vox_ml = float(np.prod(case.spacing_mm)) / 1000.0
        vols = case.details["bleed_volumes_ml"]
        for k, v in vols.items():
            assert v == pytest.approx(np.count_nonzero(
                case.blood_mask == BLEED_KINDS.index(k) + 1) * vox_ml)
        assert vols[kind] > 0 and case.blood_volume_ml() == pytest.approx(sum(vols.values()))
        nominal = case.details["blood_hu"][kind]
        assert 40.0 <= nominal <= 90.0  # acute clot 45-85 HU, swirl and levels around it
        # the blood raises the voxels of the mask; measured where the same head without the
        # bleed is soft tissue or CSF (partial volume with bone is real but not blood)
        base, _rb, _tb = _render(seed)
        m = case.blood_mask > 0
        delta = (case.volume_hu - base.volume_hu)[m]
        assert 5.0 < float(np.median(delta)) < 80.0, (kind, float(np.median(delta)))
        soft = m & (base.volume_hu > -15.0) & (base.volume_hu < 55.0)
        if soft.sum() >= 3:
            hu = float(np.median(case.volume_hu[soft]))
            lo, hi = (25.0, 75.0) if kind in ("subarachnoid", "intraventricular") else (35.0, 95.0)
            assert lo <= hu <= hi, (kind, hu)
        assert 0.30 <= case.details["haematocrit"] <= 0.50


def test_combined_bleeds_are_all_drawn() -> None:
    case, _r, _t = _render(7, tuple(BLEED_KINDS))
    present = set(np.unique(case.blood_mask).tolist()) - {0}
    assert present == set(range(1, len(BLEED_KINDS) + 1))


@pytest.mark.parametrize(("side", "regions"), [("left", ("M2", "I", "L")),
                                                ("right", ("C", "IC", "M4", "M5"))])
def test_ischaemia_only_in_requested_regions(side: str, regions: tuple[str, ...]) -> None:
    base, region, _t = _render(5)
    case, r2, _t2 = _render(5, (), regions, side)
    assert np.array_equal(region, r2)
    delta = case.details["ischaemic_delta_hu"]
    assert delta is not None and 2.0 <= delta <= 6.0
    off = 0 if side == "left" else 10
    codes = [ASPECTS_REGIONS.index(x) + 1 + off for x in regions]
    sel = np.isin(region, codes)
    assert sel.any()
    diff = case.volume_hu - base.volume_hu
    near = ndimage.binary_dilation(sel, iterations=2)
    assert float(np.abs(diff[~near]).max()) < 0.3
    assert float(diff[sel].mean()) < -0.3 * delta
    other = np.isin(region, [c + (10 if side == "left" else -10) for c in codes])
    assert float(np.abs(diff[other & ~near]).max(initial=0.0)) < 0.3
    assert not case.blood_mask.any()


def test_mimics_drawn_and_not_blood() -> None:
    base, _r, _t = _render(6, matrix=128)
    case, _r2, tis = _render(6, (), ("M1", "M2"), "right", tuple(MIMICS), matrix=128)
    assert not case.blood_mask.any() and case.blood_volume_ml() == 0.0
    assert set(case.details["mimics"]) == set(MIMICS)
    assert case.details["mimics"]["hyperdense_vessel"]["side"] == "right"
    for name in ("calcification", "contrast"):
        assert (tis == T[name]).any(), name
    diff = case.volume_hu - base.volume_hu
    assert float(diff.max()) > 80.0  # calcification, contrast, metal streaks
    assert float(diff.min()) < -20.0  # dark streaks and ischaemic change
    bright = case.volume_hu[tis == T["calcification"]]
    assert float(bright.max()) > 90.0


def test_region_map_sides() -> None:
    case, region, _t = _render(3)
    left = (region >= 1) & (region <= 10)
    right = region >= 11
    assert len(np.unique(region[left])) >= 8 and len(np.unique(region[right])) >= 8
    assert (_head_xyz(case, left)[:, 0] > 0).all() and (_head_xyz(case, right)[:, 0] < 0).all()
    # in patient LPS the left hemisphere lies at larger x (columns)
    cols = np.arange(region.shape[2])
    assert cols[np.nonzero(left)[2]].mean() > cols[np.nonzero(right)[2]].mean()


def test_write_case_round_trip(tmp_path: Path) -> None:
    case, _r, _t = _render(1, ("epidural",))
    truth = write_case(case, tmp_path)
    files = sorted((tmp_path / "dicom").glob("*.dcm"))
    assert len(files) == case.volume_hu.shape[0] == truth["images"]
    ds = pydicom.dcmread(files[len(files) // 2])
    assert ds.Rows == MATRIX and ds.Columns == MATRIX
    assert ds.ConvolutionKernel == case.details["kernel"]
    assert float(ds.SliceThickness) == case.spacing_mm[0]
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert np.abs(hu - np.round(case.volume_hu[len(files) // 2])).max() <= 1
    t = json.loads((tmp_path / "truth.json").read_text())
    assert t["family"] == "medial" and t["bleeds"] == ["epidural"] and t["ich"]
    assert t["blood_volume_ml"] == pytest.approx(case.blood_volume_ml())
    assert t["details"]["bleed_volumes_ml"]["epidural"] > 0
    with np.load(tmp_path / "truth_blood.npz") as z:
        assert np.array_equal(z["mask"], case.blood_mask)

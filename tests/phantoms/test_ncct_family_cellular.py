"""The "cellular" NCCT family: a head built from Voronoi/Laguerre cells.

Renders at small matrices (64-128) so the whole module runs in well under a minute.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
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
from strokealert.phantoms.ncct_families import cellular as cel

T = {name: i for i, name in enumerate(cel.TISSUES)}
BONE = (T["bone_cortical"], T["bone_diploe"], T["suture"])
PARENCHYMA = tuple(T[n] for n in (
    "grey_matter", "white_matter", "caudate", "putamen", "pallidum", "thalamus", "insula",
    "brainstem", "cerebellar_cortex", "cerebellar_white"))
LESION_TISSUES = tuple(T[n] for n in ("blood", "calcification", "thrombus", "contrast", "device"))


@lru_cache(maxsize=64)
def _render(seed: int, label: NcctLabel, matrix: int = 64) -> tuple[NcctCase, np.ndarray,
                                                                    np.ndarray]:
    return cel.render_labelled(seed, label, matrix=matrix)


def _canonical(case: NcctCase, idx: np.ndarray) -> np.ndarray:
    """Canonical head coordinates (x left, y posterior, z up) of voxel indices (N, 3) as
    (z, y, x), from what ``details`` documents."""
    d = case.details
    x0, y0, z0 = d["origin_mm"]
    dz, dy, dx = case.spacing_mm
    p = np.stack([x0 + idx[:, 2] * dx, y0 + idx[:, 1] * dy, z0 + idx[:, 0] * dz], axis=1)
    rot = np.asarray(d["pose"]["rotation"])
    t = np.asarray(d["pose"]["translation_mm"])
    out: np.ndarray = ((p - t) @ rot) / np.asarray(d["pose"]["head_scale"])
    return out


def _dilate(mask: np.ndarray, inplane: int, z: int) -> np.ndarray:
    st = np.ones((2 * z + 1, 2 * inplane + 1, 2 * inplane + 1), bool)
    return np.asarray(ndimage.binary_dilation(mask, st), dtype=bool)


def test_registered_last_and_interface() -> None:
    assert "cellular" in FAMILIES and cel.FAMILY == "cellular"
    case, region, tissue = _render(1, NcctLabel())
    v = case.volume_hu
    assert isinstance(case, NcctCase) and case.family == "cellular" and case.seed == 1
    assert v.dtype == np.float32 and v.ndim == 3 and v.shape[1:] == (64, 64)
    assert region.shape == v.shape and tissue.shape == v.shape and case.blood_mask.shape == v.shape
    assert region.dtype == np.uint8 and tissue.dtype == np.uint8
    assert case.blood_mask.dtype == np.uint8 and not case.blood_mask.any()
    assert int(tissue.max()) < len(cel.TISSUES) and region.max() <= 20
    dz, dy, dx = case.spacing_mm
    assert dy == dx and 220.0 <= dx * 64 <= 250.0
    assert 0.6 <= dz <= 5.0
    if dz >= 2.5:
        assert 28 <= v.shape[0] <= 64
    assert -1024.0 <= float(v.min()) and float(v.max()) <= 3071.0
    d = case.details
    assert len(d["origin_mm"]) == 3 and isinstance(d["kernel"], str) and d["kernel"]
    assert d["bleed_volumes_ml"] == {}
    for key in ("pose", "physics", "hu", "anatomy"):
        assert key in d
    hu = d["hu"]
    assert 34 <= hu["grey"] <= 44 and 22 <= hu["white"] <= 32
    assert 6 <= hu["grey"] - hu["white"] <= 14 and 0 <= hu["csf"] <= 12
    assert 800 <= hu["bone"] <= 1900 and 38 <= hu["venous"] <= 66
    json.dumps(d)  # serialisable for truth.json
    assert np.array_equal(cel.render(1, NcctLabel(), matrix=64).volume_hu, v)
    for bad in (63, 513):
        with pytest.raises(ValueError):
            cel.render(1, NcctLabel(), matrix=bad)


def test_head_is_where_it_should_be() -> None:
    case, _, tissue = _render(2, NcctLabel(), 128)
    v = case.volume_hu
    brain = np.isin(tissue, PARENCHYMA)
    assert 600.0 < brain.sum() * np.prod(case.spacing_mm) / 1000.0 < 1800.0
    # grey brighter than white, CSF darker, bone bright, air black (noisy image, medians)
    inplane = np.ones((1, 3, 3), bool)
    cortex = np.median(v[tissue == T["grey_matter"]])
    deep = np.median(v[ndimage.binary_erosion(
        np.isin(tissue, (T["putamen"], T["caudate"], T["thalamus"])), inplane)])
    white = np.median(v[ndimage.binary_erosion(tissue == T["white_matter"], inplane)])
    vent = np.median(v[tissue == T["ventricle"]])
    assert cortex > white + 1.0 and deep > white + 1.5 and white > vent + 10.0
    assert np.median(v[tissue == T["bone_cortical"]]) > 600.0
    assert np.median(v[tissue == T["air"]]) < -900.0
    # the head is inside the field of view: no skin on the image border
    assert not np.isin(tissue[:, [0, -1], :], (T["skin"],)).any()
    # the slices run from the skull base to the vertex: brain in the top third, orbits low
    ks = np.nonzero(brain.any(axis=(1, 2)))[0]
    assert ks.max() > 0.75 * v.shape[0]
    low = np.nonzero(np.isin(tissue, (T["globe"], T["cerebellar_cortex"])).any(axis=(1, 2)))[0]
    assert low.size and low.min() < 0.35 * v.shape[0]


def test_deterministic() -> None:
    label = NcctLabel(bleeds=("subdural",), mimics=("pineal_calcification",))
    a, ra, ta = cel.render_labelled(4, label, matrix=64)
    b, rb, tb = cel.render_labelled(4, label, matrix=64)
    assert np.array_equal(a.volume_hu, b.volume_hu)
    assert np.array_equal(a.blood_mask, b.blood_mask)
    assert np.array_equal(ra, rb) and np.array_equal(ta, tb)
    assert json.dumps(a.details, sort_keys=True) == json.dumps(b.details, sort_keys=True)
    other = _render(1, NcctLabel())[0]
    assert other.volume_hu.shape != a.volume_hu.shape or \
        not np.array_equal(other.volume_hu, a.volume_hu)


@pytest.mark.parametrize("seed", [1, 2])
def test_anatomy_pose_physics_independent_of_label(seed: int) -> None:
    base, rb, tb = _render(seed, NcctLabel())
    label = NcctLabel(bleeds=BLEED_KINDS,
                      mimics=tuple(m for m in MIMICS if m != "streak_artefact"))
    les, rl, tl = _render(seed, label)
    for key in ("pose", "physics", "hu", "anatomy", "origin_mm", "kernel"):
        assert base.details[key] == les.details[key], key
    assert base.spacing_mm == les.spacing_mm and base.volume_hu.shape == les.volume_hu.shape
    assert np.array_equal(rb, rl)
    lesion = np.isin(tl, LESION_TISSUES) | (les.blood_mask > 0)
    near = _dilate(lesion, 6, 2)
    assert np.array_equal(tb[~near], tl[~near])
    diff = np.abs(base.volume_hu - les.volume_hu)
    assert float(diff[~near].max()) < 0.05
    assert (diff > 5).sum() > 0


def _code(kind: str) -> int:
    return 1 + BLEED_KINDS.index(kind)


ALL_BLEEDS = NcctLabel(bleeds=BLEED_KINDS)
BLEED_SEEDS = (1, 2, 5, 6)


@pytest.mark.parametrize("seed", BLEED_SEEDS)
def test_each_bleed_lands_where_it_belongs(seed: int) -> None:
    """All five kinds at once; each kind's mask sits in its own compartment."""
    matrix = 96
    case, _, tis = _render(seed, ALL_BLEEDS, matrix)
    _, _, tis0 = _render(seed, NcctLabel(), matrix)
    vox_ml = float(np.prod(case.spacing_mm)) / 1000.0
    bone_dist = ndimage.distance_transform_edt(~np.isin(tis0, BONE), sampling=case.spacing_mm)
    an = cel._anatomy(seed)
    assert set(case.details["bleed_volumes_ml"]) == set(BLEED_KINDS)
    for kind in BLEED_KINDS:
        mask = case.blood_mask == _code(kind)
        info = case.details["bleeds"][kind]
        assert case.details["bleed_volumes_ml"][kind] == pytest.approx(mask.sum() * vox_ml,
                                                                       rel=1e-6, abs=1e-3)
        assert 45.0 <= info["hu"] <= 90.0
        if not mask.any():  # a tiny bleed may be partial-volumed away at this matrix
            assert info["target_ml"] < 3.0 or kind == "intraventricular"
            continue
        assert (tis[mask] == T["blood"]).mean() > 0.7
        under = tis0[mask]
        idx = np.argwhere(mask)
        can = _canonical(case, idx)
        xyz = tuple(can[:, k].astype(np.float32) for k in range(3))
        if kind == "intraparenchymal":
            assert np.isin(under, PARENCHYMA).mean() > 0.8
        elif kind == "intraventricular":
            assert np.isin(under, (T["ventricle"], T["choroid_plexus"])).mean() > 0.7
            if info["variant"] == "layering":  # dependent: the back of the ventricles
                vent = np.argwhere(tis0 == T["ventricle"])
                assert idx[:, 1].mean() >= vent[:, 1].mean() - 1.0
        elif kind == "subarachnoid":
            assert np.isin(under, (T["csf"], T["artery"], T["vein"], T["dura"])).mean() > 0.7
            assert (under == T["ventricle"]).mean() < 0.1
        elif kind == "subdural":  # one side: it does not cross the falx
            side = np.sign(can[np.abs(can[:, 0]) > 0.6 * case.spacing_mm[1], 0])
            assert max((side > 0).mean(), (side < 0).mean()) > 0.95
            if info["variant"] == "convexity":  # a crescent under the inner table
                reach = info["max_thickness_mm"] + 2 * case.spacing_mm[0]
                assert np.percentile(bone_dist[mask], 90) <= reach
            elif info["variant"] == "falx":  # along the falx, beside the midline
                assert np.percentile(np.abs(can[:, 0]), 90) <= info["max_thickness_mm"] + 6
            else:  # on the tentorium, in the back half of the head
                assert can[:, 1].mean() > 25.0
        else:  # epidural: a lens against the inner table, within one skull plate
            reach = info["max_thickness_mm"] + 2 * case.spacing_mm[0]
            assert np.percentile(bone_dist[mask], 90) <= reach
            plate = cel._PLATES.index(info["plate"])
            pid, _ = cel._plates(an, *xyz)
            assert (pid == plate).mean() > 0.9
            margin = cel._plate_margin(an, xyz[0], xyz[1], xyz[2], plate)
            assert np.percentile(margin, 5) > -3.0  # does not cross its sutures


def test_subdural_crosses_sutures() -> None:
    plates = []
    for seed in BLEED_SEEDS:
        case, _, _ = _render(seed, ALL_BLEEDS, 96)
        mask = case.blood_mask == _code("subdural")
        if case.details["bleeds"]["subdural"]["variant"] != "convexity" or mask.sum() < 20:
            continue
        can = _canonical(case, np.argwhere(mask))
        pid, _ = cel._plates(cel._anatomy(seed), *(can[:, k].astype(np.float32) for k in range(3)))
        plates.append(len(set(pid.tolist())))
    assert plates and max(plates) >= 2


def test_bleed_volumes_span_small_and_large() -> None:
    rng = np.random.default_rng(0)
    iph = np.array([cel._target_ml(rng, 60.0) for _ in range(600)])
    other = np.array([cel._target_ml(rng, 80.0) for _ in range(600)])
    assert iph.min() >= 1.0 and iph.max() <= 60.0 and iph.max() > 40.0
    assert other.max() > 55.0 and (other < 3.0).mean() > 0.12
    for seed in BLEED_SEEDS:  # the rendered volumes follow the drawn targets
        case = _render(seed, ALL_BLEEDS, 96)[0]
        for kind in ("intraparenchymal", "subdural", "epidural"):
            got = case.details["bleed_volumes_ml"][kind]
            target = case.details["bleeds"][kind]["target_ml"]
            assert 0.35 * target - 1.0 <= got <= 1.6 * target + 1.0, (seed, kind, got, target)


def test_blood_density() -> None:
    case, _, _ = _render(6, ALL_BLEEDS, 96)
    v = case.volume_hu
    for kind in ("intraparenchymal", "subdural", "epidural", "intraventricular"):
        mask = case.blood_mask == _code(kind)
        if mask.sum() < 5:
            continue
        core = ndimage.binary_erosion(mask, np.ones((1, 3, 3), bool))
        vals = v[core] if core.sum() > 20 else v[mask]
        assert 38.0 <= float(np.median(vals)) <= 95.0, kind
    # the clot densities drawn over many seeds: mostly acute, a minority hyperacute/anaemic
    rng = np.random.default_rng(1)
    hus = np.array([cel._clot_draw(rng)["hu"] for _ in range(400)])
    assert hus.min() >= 45.0 and hus.max() <= 90.0
    assert 0.05 < (hus < 55.0).mean() < 0.3


def test_ischaemia_confined_to_requested_regions_and_side() -> None:
    seed = 5
    regions = ("L", "I", "M2", "M5")
    base, reg, tis = _render(seed, NcctLabel(), 96)
    isch, reg2, _ = _render(seed, NcctLabel(ischaemic_regions=regions, ischaemic_side="left"), 96)
    assert np.array_equal(reg, reg2)
    codes = [ASPECTS_REGIONS.index(r) + 1 for r in regions]
    inside = np.isin(reg, codes)
    diff = isch.volume_hu - base.volume_hu
    changed = np.abs(diff) > 0.2  # the slice profile's faint tails aside
    assert changed.any()
    assert not (changed & ~_dilate(inside, 2, 1)).any()
    grey = inside & np.isin(tis, (T["grey_matter"], T["insula"], T["putamen"], T["pallidum"]))
    assert float(diff[grey].mean()) < -1.5
    right = np.isin(reg, [c + 10 for c in range(1, 11)])
    assert float(np.abs(diff[right]).max()) < 1e-3
    info = isch.details["ischaemia"]
    assert 2.0 <= info["grey_drop_hu"] <= 6.0 and info["side"] == "left"
    # the shared key the ASPECTS evaluation reads (strokealert.ncct.aspects_evaluate)
    assert isch.details["ischaemic_delta_hu"] == info["grey_drop_hu"]
    assert base.details["ischaemic_delta_hu"] is None


def test_region_map_sides_and_codes() -> None:
    case, reg, _ = _render(5, NcctLabel(), 96)
    assert set(np.unique(reg).tolist()) == set(range(21))
    left = np.argwhere((reg >= 1) & (reg <= 10))
    right = np.argwhere(reg >= 11)
    assert left[:, 2].mean() > right[:, 2].mean() + 10  # x grows to the patient's left
    assert (_canonical(case, left)[:, 0] > 0).mean() > 0.99
    assert (_canonical(case, right)[:, 0] < 0).mean() > 0.99
    # M4-M6 lie above M1-M3 (supraganglionic level)
    lo = _canonical(case, np.argwhere(np.isin(reg, (5, 6, 7))))[:, 2].mean()
    hi = _canonical(case, np.argwhere(np.isin(reg, (8, 9, 10))))[:, 2].mean()
    assert hi > lo + 10.0


@pytest.mark.parametrize("mimic", MIMICS)
def test_mimic_present_when_asked(mimic: str) -> None:
    seed = 2
    base, _, tb = _render(seed, NcctLabel())
    case, _, tm = _render(seed, NcctLabel(mimics=(mimic,)))
    assert mimic in case.details["mimics"] and not case.blood_mask.any()
    for t in ("calcification", "thrombus", "contrast"):
        assert not (tb == T[t]).any()  # absent unless asked
    diff = case.volume_hu - base.volume_hu
    if mimic == "streak_artefact":
        head = np.isin(tb, PARENCHYMA)
        assert (np.abs(diff[head]) > 25.0).sum() > 20 and (tm == T["device"]).sum() > \
            (tb == T["device"]).sum()
        return
    code = {"hyperdense_vessel": T["thrombus"], "residual_contrast": T["contrast"]}.get(
        mimic, T["calcification"])
    where = tm == code
    assert where.any()
    if mimic == "hyperdense_vessel":
        info = case.details["mimics"][mimic]
        assert 50.0 <= info["hu"] <= 80.0
        assert float(diff[where].max()) > 8.0
    else:
        assert float(diff[where].max()) > 40.0
    others = {"calcification", "thrombus", "contrast"} - {cel.TISSUES[code]}
    assert not np.isin(tm, [T[o] for o in others]).any()


def test_venous_sinuses_at_blood_density_against_the_inner_table() -> None:
    for seed in (2, 5):
        case, _, tis = _render(seed, NcctLabel(), 128)
        sinus = tis == T["venous_sinus"]
        assert sinus.sum() > 50
        d = ndimage.distance_transform_edt(~np.isin(tis, BONE), sampling=case.spacing_mm)
        assert (d[sinus] <= 2.5 * case.spacing_mm[1]).mean() > 0.5
        core = ndimage.binary_erosion(sinus, np.ones((1, 3, 3), bool)) & (d > 1.5)
        vals = case.volume_hu[core] if core.sum() > 10 else case.volume_hu[sinus]
        assert 30.0 <= float(np.median(vals)) <= 85.0
        can = _canonical(case, np.argwhere(sinus))
        top = can[:, 2] > 40
        assert top.any() and np.abs(can[top, 0]).max() < 12.0  # superior sagittal sinus
        post = can[:, 1] > 60
        assert post.any()  # confluence and transverse sinuses at the back


def test_physics_and_pose_vary_across_seeds() -> None:
    ph = [cel._draw_physics(s) for s in range(80)]
    thick = {p.thickness for p in ph}
    assert min(thick) <= 1.25 and max(thick) >= 4.0
    assert sum(p.thickness >= 2.5 for p in ph) > 0.6 * len(ph)
    assert {p.recon for p in ph} == {"FBP", "IR"}
    assert all(2.0 <= p.noise_sd <= 6.0 for p in ph)
    assert all(abs(p.yaw) <= 10 and abs(p.roll) <= 10 for p in ph)
    assert any(p.motion for p in ph) and any(p.gantry_tilt != 0 for p in ph)
    assert len({p.kernel for p in ph}) > 4


def test_write_case(tmp_path: Path) -> None:
    import pydicom

    case, _, _ = _render(2, ALL_BLEEDS, 96)
    truth: dict[str, Any] = write_case(case, tmp_path / "c")
    files = sorted((tmp_path / "c" / "dicom").glob("*.dcm"))
    assert len(files) == case.volume_hu.shape[0] == truth["images"]
    ds = pydicom.dcmread(files[0])
    assert ds.Modality == "CT" and ds.Rows == 96 and ds.Columns == 96
    assert float(ds.PixelSpacing[0]) == pytest.approx(case.spacing_mm[1], rel=1e-4)
    assert [float(v) for v in ds.ImagePositionPatient] == pytest.approx(
        case.details["origin_mm"], abs=1e-3)
    assert ds.ConvolutionKernel == case.details["kernel"]
    hu = ds.pixel_array.astype(float) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert np.allclose(hu, np.round(case.volume_hu[0]), atol=1.0)
    saved = json.loads((tmp_path / "c" / "truth.json").read_text())
    assert saved["family"] == "cellular" and saved["bleeds"] == list(BLEED_KINDS) and saved["ich"]
    assert saved["blood_volume_ml"] == pytest.approx(case.blood_volume_ml())
    blood = np.load(tmp_path / "c" / "truth_blood.npz")["mask"]
    assert np.array_equal(blood, case.blood_mask)

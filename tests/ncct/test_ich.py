"""Haemorrhage on NCCT phantoms of both generator families (matrix 128): a bleed is found with
its kind and volume, a mimics-only scan is negative, and the DICOM entry point returns a valid
``ncct`` block with its key image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from strokealert.contracts.analysis import BLEED_KINDS, NcctBlock
from strokealert.contracts.outputs import NCCT_BLOOD_FILE
from strokealert.ncct import analyze_files, analyze_volume
from strokealert.ncct.analyze import NcctAnalysis
from strokealert.ncct.brain import find_head
from strokealert.ncct.ich import (
    blood_window,
    candidates,
    is_blood,
    levelled,
    needs_edge_only,
    seed_features,
)
from strokealert.phantoms.ncct_families import (
    MIMICS,
    NcctLabel,
    fields,
    geometric,
    medial,
    write_case,
)


def test_parenchymal_bleed_from_dicom_gives_a_valid_block(tmp_path: Path) -> None:
    case = geometric.render(7, NcctLabel(bleeds=("intraparenchymal",)), matrix=128)
    write_case(case, tmp_path / "case")
    block = analyze_files([tmp_path / "case" / "dicom"], tmp_path / "out")
    NcctBlock.model_validate(block)
    ich = block["ich"]
    assert block["status"] == "ok" and ich["suspected"]
    assert ich["kinds"][0] == "intraparenchymal"
    truth = case.blood_volume_ml()
    assert abs(ich["volume_ml"] - truth) <= max(2.0, 0.2 * truth)
    assert ich["abc2_ml"] is not None and ich["abc2_ml"] > 0
    assert ich["side"] in ("left", "right") and ich["location"].startswith(ich["side"])
    assert block["key_images"] == ["ncct_ich.png", "ncct_aspects.png"]
    assert (tmp_path / "out" / "ncct_ich.png").stat().st_size > 1000
    assert 0 <= block["aspects"]["score"] <= 10
    with np.load(tmp_path / "out" / NCCT_BLOOD_FILE) as saved:
        labels = saved["labels"]
    assert labels.shape == case.volume_hu.shape
    assert BLEED_KINDS[int(labels.max()) - 1] == "intraparenchymal"


def test_subdural_bleed_is_found() -> None:
    case = geometric.render(11, NcctLabel(bleeds=("subdural",)), matrix=128)
    result = analyze_volume(case.volume_hu, case.spacing_mm)
    assert result.suspected
    assert result.kinds[0] in ("subdural", "epidural")
    found = result.blood_mask > 0
    truth = case.blood_mask > 0
    assert (found & truth).sum() >= 0.6 * truth.sum()
    assert result.blood_mask.shape == case.volume_hu.shape


@pytest.mark.parametrize("family", [geometric, fields])
def test_mimics_only_scan_is_negative(family: object) -> None:
    render = family.render  # type: ignore[attr-defined]
    case = render(3, NcctLabel(mimics=MIMICS), matrix=128)
    result = analyze_volume(case.volume_hu, case.spacing_mm)
    assert not result.suspected, (result.volume_by_kind_ml, result.window_hu)
    assert result.kinds == [] and result.volume_ml == 0.0
    assert not np.any(result.blood_mask)


def test_a_folder_without_dicom_fails_readably(tmp_path: Path) -> None:
    block = analyze_files([tmp_path], tmp_path / "out")
    assert block["status"] == "failed" and "no DICOM images" in block["error"]


# --- mimic rules on small drawn heads (1.2 mm pixels, 5 mm slices) ------------------------------

PIXEL_MM, SLICE_MM = 1.2, 5.0


def _drawn_head(n_slices: int = 16, size: int = 170) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A head without texture: brain 34 HU, ventricles, a 6 mm table of 1500 HU, scalp; the
    vault closes over the top slices. Returns (volume HU, x mm, y mm)."""
    axis = (np.arange(size) - (size - 1) / 2) * PIXEL_MM
    y, x = np.meshgrid(axis, axis, indexing="ij")
    volume = np.full((n_slices, size, size), -1000.0, dtype=np.float32)
    for k in range(n_slices):
        scale = np.sqrt(max(1.0 - ((k - 6) / 12.0) ** 2, 0.1)) if k > 6 else 1.0
        r = np.hypot(x / (68.0 * scale), y / (84.0 * scale))
        volume[k][r < 1.15] = 25.0
        volume[k][r < 1.09] = 1500.0
        volume[k][r < 1.0] = 34.0
        volume[k][np.hypot(x / 6.0, (y + 5.0) / 20.0) < 1.0] = 6.0
    return volume, x, y


def _scanned(volume: np.ndarray, seed: int = 0) -> np.ndarray:
    """The scanner's in-plane blur (0.8 mm) and noise (4 HU)."""
    blurred = ndimage.gaussian_filter(volume, (0.0, 0.8 / PIXEL_MM, 0.8 / PIXEL_MM))
    noise = np.random.default_rng(seed).normal(0.0, 4.0, volume.shape)
    return np.asarray(blurred + noise, dtype=np.float32)


def _add_streaks(volume: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
    """Bright and dark straight lines from a point near the frontal bone over five slices,
    through brain, bone and scalp alike (beam hardening / photon starvation)."""
    for amplitude, angle in ((70.0, 1.2), (-60.0, 2.0), (55.0, 0.6)):
        perp = np.abs(x * np.sin(angle) - (y + 55.0) * np.cos(angle))
        line = amplitude * np.exp(-0.5 * (perp / 1.2) ** 2)
        for k in range(6, 11):
            volume[k] += (line * (volume[k] > -500)).astype(np.float32)


def _add_ellipsoid(volume: np.ndarray, x: np.ndarray, y: np.ndarray,
                   centre: tuple[float, float, float], axes: tuple[float, float, float],
                   hu: float = 68.0) -> float:
    """A 68 HU ellipsoid (centre and semi-axes x, y, z in mm; z from slice 0); its voxel
    volume in mL."""
    count = 0
    for k in range(volume.shape[0]):
        r = (((x - centre[0]) / axes[0]) ** 2 + ((y - centre[1]) / axes[1]) ** 2
             + ((k * SLICE_MM - centre[2]) / axes[2]) ** 2)
        volume[k][r < 1.0] = hu
        count += int((r < 1.0).sum())
    return count * PIXEL_MM * PIXEL_MM * SLICE_MM / 1000.0


def _analysed(volume: np.ndarray) -> NcctAnalysis:
    return analyze_volume(volume, (SLICE_MM, PIXEL_MM, PIXEL_MM))


def test_streak_lines_through_the_brain_are_not_blood() -> None:
    volume, x, y = _drawn_head()
    _add_streaks(volume, x, y)
    result = _analysed(_scanned(volume))
    assert not result.suspected, result.volume_by_kind_ml


def test_a_bleed_beside_streak_lines_is_still_found() -> None:
    volume, x, y = _drawn_head()
    _add_streaks(volume, x, y)
    truth = _add_ellipsoid(volume, x, y, (-38.0, 12.0, 40.0), (10.0, 12.0, 9.0))
    result = _analysed(_scanned(volume))
    assert result.suspected and result.kinds == ["intraparenchymal"]
    assert abs(result.volume_ml - truth) <= max(1.0, 0.25 * truth), (result.volume_ml, truth)


def test_a_skull_base_seed_over_bone_is_partial_volume_not_blood() -> None:
    volume, x, y = _drawn_head()
    _add_ellipsoid(volume, x, y, (-30.0, 20.0, 30.0), (9.0, 11.0, 9.0))
    head = find_head(_scanned(volume), (SLICE_MM, PIXEL_MM, PIXEL_MM))
    low, high = blood_window(head)
    seed, _ = candidates(head, low, high)
    labels, _ = ndimage.label(seed)
    biggest = np.bincount(labels.ravel())[1:].argmax() + 1
    features = seed_features(head, tuple(np.nonzero(labels == biggest)), low)
    assert is_blood(features) and features["bone_above_below"] == 0.0
    on_base = features | {"base_share": 1.0}
    assert is_blood(on_base)  # a bleed on the skull base, no bone above or below: kept
    assert not is_blood(on_base | {"bone_above_below": 0.5})
    # faint on the skull base: a streak from the petrous bones or the clivus is a line ...
    faint = on_base | {"contrast_hu": 5.0, "depth_mm": 11.0}
    assert features["elongation"] < 1.5 and is_blood(faint)  # ... a round deep mass is not
    assert not is_blood(faint | {"elongation": 2.5})
    assert not is_blood(faint | {"depth_mm": 5.0})  # round but against the table: not deep


def test_a_subdural_haematoma_grows_into_the_table_blur() -> None:
    volume, x, y = _drawn_head()
    truth = 0
    for k in range(2, 12):  # a crescent over the right convexity, 9 mm thick at its middle
        r = np.hypot(x / 68.0, y / 84.0)
        depth = (1.0 - r) * 68.0
        taper = np.cos(np.clip(np.arctan2(y, -x), -np.pi / 2, np.pi / 2))
        crescent = (r < 1.0) & (x < 0) & (depth < 9.0 * taper * np.cos(np.pi * (k - 7) / 12))
        volume[k][crescent] = 70.0
        truth += int(crescent.sum())
    truth_ml = truth * PIXEL_MM * PIXEL_MM * SLICE_MM / 1000.0
    result = _analysed(_scanned(volume))
    assert result.suspected and result.kinds[0] in ("subdural", "epidural")
    assert result.volume_ml >= 0.75 * truth_ml, (result.volume_ml, truth_ml)
    assert result.volume_ml <= 1.15 * truth_ml, (result.volume_ml, truth_ml)


def _brightened(volume: np.ndarray, slices: slice, lift_hu: float) -> np.ndarray:
    """``volume`` with its soft tissue (0-100 HU) on ``slices`` lifted by ``lift_hu``: the
    whole-slice brightening beam hardening leaves next to the skull base."""
    out = volume.astype(np.float32).copy()
    part = out[slices]
    part[(part > 0.0) & (part < 100.0)] += lift_hu
    return out


def test_a_slice_lifted_by_beam_hardening_is_not_a_sheet_of_blood() -> None:
    case = geometric.render(3, NcctLabel(), matrix=128)
    middle = case.volume_hu.shape[0] // 2
    # two slices 25 HU brighter: before the levelling, a 59 mL "bleed"
    lifted = _brightened(case.volume_hu, slice(middle, middle + 2), 25.0)
    result = analyze_volume(lifted, case.spacing_mm)
    assert not result.suspected, result.volume_by_kind_ml
    head = find_head(lifted, case.spacing_mm)
    brain = head.cavity & (head.depth_mm > 8.0) & (head.smooth > 15.0) & (head.smooth < 80.0)
    level = levelled(head)
    assert np.median(head.smooth[middle][brain[middle]]) > np.median(head.smooth[brain]) + 15.0
    assert abs(np.median(level.smooth[middle][brain[middle]])
               - np.median(level.smooth[brain])) < 3.0


def test_a_bleed_on_a_lifted_slice_is_still_found() -> None:
    case = geometric.render(7, NcctLabel(bleeds=("intraparenchymal",)), matrix=128)
    z = int(np.argmax((case.blood_mask > 0).sum(axis=(1, 2))))
    lifted = _brightened(case.volume_hu, slice(z - 1, z + 2), 12.0)
    result = analyze_volume(lifted, case.spacing_mm)
    assert result.suspected and result.kinds[0] == "intraparenchymal"
    assert np.any((result.blood_mask > 0) & (case.blood_mask > 0))


def test_a_head_cut_by_the_field_of_view_is_still_found() -> None:
    case = geometric.render(3, NcctLabel(), matrix=128)
    whole = find_head(case.volume_hu, case.spacing_mm)
    rows = np.flatnonzero(whole.cavity.any(axis=(0, 2)))
    cut = case.volume_hu[:, : rows[-1] - 10].copy()  # the back of the head outside the image
    head = find_head(cut, case.spacing_mm)
    kept = whole.cavity[:, : rows[-1] - 10].sum()
    assert head.cavity.sum() >= 0.8 * kept


def _open_ring(volume: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
    """A stretch of the vault that does not read as bone on the lower eight slices (a thin
    squama at thick slices, a craniectomy): the ring no longer separates brain from air."""
    angle = np.arctan2(y, x)
    for k in range(8):
        volume[k][(volume[k] == 1500.0) & (np.abs(angle - 0.3) < 0.25)] = 25.0


def test_an_open_skull_ring_asks_for_manual_review() -> None:
    # the slices with the ring open are delimited by the bone around them only: the analysis
    # says so
    volume, x, y = _drawn_head()
    assert not _analysed(_scanned(volume)).manual_review
    _open_ring(volume, x, y)
    truth = _add_ellipsoid(volume, x, y, (-30.0, 10.0, 60.0), (9.0, 11.0, 8.0))
    result = _analysed(_scanned(volume))
    assert result.manual_review and "skull ring is open" in str(result.reason)
    assert result.caption().startswith("Haemorrhage suspected")  # the closed slices are read
    assert abs(result.volume_ml - truth) <= max(1.0, 0.25 * truth), (result.volume_ml, truth)
    assert result.ich_block()["manual_review"]


def test_blood_where_the_skull_ring_is_open_is_found() -> None:
    # the bleed on the open slices: the holes of the ring hold no brain there, the bone
    # enclosing it in seven of eight directions and above it does
    volume, x, y = _drawn_head()
    _open_ring(volume, x, y)
    truth = _add_ellipsoid(volume, x, y, (-30.0, 10.0, 20.0), (9.0, 11.0, 8.0))
    result = _analysed(_scanned(volume))
    assert result.suspected and result.kinds == ["intraparenchymal"], result.volume_by_kind_ml
    assert abs(result.volume_ml - truth) <= max(1.0, 0.25 * truth), (result.volume_ml, truth)
    head = find_head(_scanned(volume), (SLICE_MM, PIXEL_MM, PIXEL_MM))
    assert head.recovered is not None and head.recovered[:8].any()
    assert not head.recovered[10:].any()  # the closed slices are the ring's holes
    assert not head.cavity[:8][head.hu[:8] < -500.0].any()  # no air in the cavity


def test_a_faint_region_set_aside_where_the_ring_is_open_is_reported_for_review() -> None:
    # a faint 58 HU haematoma, 24 HU over the brain before blur and noise: on the slices where
    # the ring is open it has no 24 HU edge to the brain deeper than it and is not counted,
    # but the analysis says how much, on which side and on which slices to look
    volume, x, y = _drawn_head()
    _open_ring(volume, x, y)
    _add_ellipsoid(volume, x, y, (-30.0, 10.0, 20.0), (9.0, 11.0, 8.0), hu=58.0)
    result = _analysed(_scanned(volume))
    assert not result.suspected, result.volume_by_kind_ml
    assert result.manual_review and "a faint bright region (" in str(result.reason)
    assert "right, slices 4-6 of 16 counted from the lowest" in str(result.reason)
    assert "not counted as blood" in result.caption()
    # the same region where the ring is closed is blood, and nothing is left in doubt
    volume, x, y = _drawn_head()
    _open_ring(volume, x, y)
    truth = _add_ellipsoid(volume, x, y, (-30.0, 10.0, 60.0), (9.0, 11.0, 8.0), hu=58.0)
    result = _analysed(_scanned(volume))
    assert result.suspected and abs(result.volume_ml - truth) <= max(1.0, 0.25 * truth)
    assert "faint bright region" not in str(result.reason)


def test_streak_flare_on_the_slice_through_a_clip_is_not_blood() -> None:
    # an aneurysm clip (metal at the top of the scale) on one slice, and beside it a bright
    # patch on that slice only, as metal streaks leave them
    volume, x, y = _drawn_head()
    volume[8][np.hypot(x - 5.0, y + 20.0) < 2.5] = 3071.0
    patch = np.hypot(x - 20.0, y + 15.0) < 11.0
    volume[8][patch & (volume[8] == 34.0)] = 66.0
    result = _analysed(_scanned(volume))
    assert not result.suspected, result.volume_by_kind_ml
    assert result.manual_review
    assert "metal inside the skull (a clip or a coil) on 1 slice:" in str(result.reason)
    # the same patch over three slices is blood (blood continues across slices)
    for k in (7, 9):
        volume[k][patch & (volume[k] == 34.0)] = 66.0
    result = _analysed(_scanned(volume))
    assert result.suspected and result.kinds == ["intraparenchymal"], result.volume_by_kind_ml


def test_metal_is_a_dense_object_within_the_ring_not_dense_skull() -> None:
    # petrous-dense table (2400 HU) on the lower slices is skull, not metal
    volume, x, y = _drawn_head()
    table = (np.hypot(x / 68.0, y / 84.0) >= 1.0) & (np.hypot(x / 68.0, y / 84.0) < 1.09)
    for k in range(0, 5):
        volume[k][table & (y > 40.0)] = 2400.0
    head = find_head(_scanned(volume), (SLICE_MM, PIXEL_MM, PIXEL_MM))
    assert head.metal_slices is not None and not head.metal_slices.any()
    # a clip whose own dark streaks (photon starvation) cut it off from the brain around it
    volume[10][np.hypot(x - 5.0, y + 20.0) < 9.0] = -1000.0
    volume[10][np.hypot(x - 5.0, y + 20.0) < 2.5] = 3071.0
    head = find_head(_scanned(volume), (SLICE_MM, PIXEL_MM, PIXEL_MM))
    assert head.metal_slices is not None
    assert np.flatnonzero(head.metal_slices).tolist() == [10]


def test_where_the_ring_is_open_and_against_the_table_a_seed_needs_an_edge() -> None:
    case = geometric.render(7, NcctLabel(bleeds=("intraparenchymal",)), matrix=128)
    head = levelled(find_head(case.volume_hu, case.spacing_mm))
    low, high = blood_window(head)
    seed, _ = candidates(head, low, high)
    labels, _ = ndimage.label(seed)
    biggest = int(np.argmax(np.bincount(labels.ravel())[1:])) + 1
    bleed = seed_features(head, tuple(np.nonzero(labels == biggest)), low)
    assert is_blood(bleed) and bleed["recovered"] == 0.0
    assert bleed["step_hu"] > 24.0  # a haematoma stands well above the brain around it
    # mostly where the skull ring is open (thin bone, the skull base's soft tissue)
    open_part = bleed | {"recovered": 0.9}
    assert is_blood(open_part | {"step_hu": 30.0})
    assert not is_blood(open_part | {"step_hu": 15.0})
    assert not is_blood(open_part | {"step_hu": float("nan")})  # nothing deeper to compare
    # set aside for want of an edge only: a reader is asked to look
    assert needs_edge_only(open_part | {"step_hu": 15.0})
    assert not needs_edge_only(open_part | {"step_hu": 30.0})  # blood
    assert not needs_edge_only(open_part | {"step_hu": 15.0, "elongation": 5.0,
                                            "thickness_mm": 3.0, "volume_ml": 1.0})  # a vessel
    # small and faint against the table, away from the midline: the cortex over the table blur
    faint = bleed | {"volume_ml": 0.4, "depth_mm": 3.0, "contrast_hu": 6.0, "midline_mm": 40.0,
                     "near_midline": 0.0, "base_share": 0.0, "bone_above_below": 0.0}
    assert not is_blood(faint | {"step_hu": 18.0})
    assert is_blood(faint | {"step_hu": 30.0})
    assert is_blood(faint | {"step_hu": 18.0, "contrast_hu": 14.0})
    assert is_blood(faint | {"step_hu": 18.0, "depth_mm": 8.0})


def test_small_seeds_under_the_vault_and_the_sinus_off_the_midline_are_not_blood() -> None:
    case = geometric.render(7, NcctLabel(bleeds=("intraparenchymal",)), matrix=128)
    head = find_head(case.volume_hu, case.spacing_mm)
    low, high = blood_window(head)
    seed, _ = candidates(head, low, high)
    labels, _ = ndimage.label(seed)
    biggest = int(np.argmax(np.bincount(labels.ravel())[1:])) + 1
    bleed = seed_features(head, tuple(np.nonzero(labels == biggest)), low)
    assert is_blood(bleed)
    small = bleed | {"volume_ml": 0.5, "base_share": 0.0}
    assert is_blood(small)
    # half of it with the vault directly above or below: the table curving through the slice
    assert not is_blood(small | {"bone_above_below": 0.6})
    assert is_blood(bleed | {"volume_ml": 3.0, "bone_above_below": 0.6})  # a bleed under it
    # the superior sagittal sinus 9 mm off the estimated midline, 6 mm deep, long and thin
    sinus = small | {"midline_mm": 9.0, "depth_mm": 6.0, "near_midline": 0.0,
                     "elongation": 2.0, "slices": 12.0}
    assert not is_blood(sinus)
    assert is_blood(sinus | {"midline_mm": 14.0})


@pytest.mark.parametrize("seed", [0, 36])
def test_dense_dural_venous_sinuses_are_not_blood(seed: int) -> None:
    # "medial" draws the sinuses at 45-60 HU, in the blood window against the inner table
    case = medial.render(seed, NcctLabel(), matrix=128)
    result = analyze_volume(case.volume_hu, case.spacing_mm)
    assert not result.suspected, (result.volume_by_kind_ml, result.window_hu)


def test_a_sinus_is_a_tube_at_the_back_or_the_midline_and_subdural_blood_is_not() -> None:
    case = geometric.render(11, NcctLabel(bleeds=("subdural",)), matrix=128)
    head = levelled(find_head(case.volume_hu, case.spacing_mm))
    low, high = blood_window(head)
    seed, _ = candidates(head, low, high)
    labels, _ = ndimage.label(seed)
    biggest = int(np.argmax(np.bincount(labels.ravel())[1:])) + 1
    crescent = seed_features(head, tuple(np.nonzero(labels == biggest)), low)
    assert is_blood(crescent) and 0.0 <= crescent["back"] <= 1.0
    assert crescent["two_sided"] < 0.05  # a subdural stays on its side of the falx
    # a transverse sinus: a tube 6 mm across along the table at the back of the cavity
    transverse = crescent | {"volume_ml": 2.0, "thickness_mm": 6.0, "elongation": 4.0,
                             "depth_mm": 4.0, "midline_mm": 45.0, "back": 0.85,
                             "two_sided": 0.0}
    assert not is_blood(transverse)
    assert is_blood(transverse | {"back": 0.4})  # in front: a thin subdural seen edge-on
    assert is_blood(transverse | {"elongation": 1.5})  # a crescent at the back
    assert is_blood(transverse | {"volume_ml": 12.0})  # too much for a sinus
    # the superior sagittal sinus at the front, along the midline
    assert not is_blood(transverse | {"back": 0.1, "midline_mm": 4.0, "depth_mm": 8.0})
    # the torcular and both transverse sinuses: thin across the midline at the back
    torcular = transverse | {"volume_ml": 12.0, "elongation": 1.4, "back": 0.9,
                             "two_sided": 0.25, "thickness_mm": 9.0}
    assert not is_blood(torcular)
    assert is_blood(torcular | {"thickness_mm": 14.0})  # an epidural haematoma across it


def _lateral_ventricles(volume: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
    """Two lateral ventricles (CSF, 10 x 50 mm, 14 mm either side of the midline) on slices
    3-9."""
    for k in range(3, 10):
        for side in (-1.0, 1.0):
            volume[k][np.hypot((x - side * 14.0) / 5.0, (y + 5.0) / 25.0) < 1.0] = 6.0


def _kinds_of(volume: np.ndarray) -> list[str]:
    result = _analysed(_scanned(volume))
    assert result.suspected
    return result.kinds


def test_blood_filling_ventricles_is_intraventricular_and_a_deep_haematoma_is_not() -> None:
    volume, x, y = _drawn_head()
    _lateral_ventricles(volume, x, y)
    # a cast of the left lateral ventricle: no fluid beside it, the right one mirrors its place
    cast = volume.copy()
    for k in range(3, 10):
        cast[k][np.hypot((x - 14.0) / 5.0, (y + 5.0) / 25.0) < 1.0] = 68.0
    assert _kinds_of(cast) == ["intraventricular"]
    # blood layered in both occipital horns: two deep bleeds, each the other's mirror image
    horns = volume.copy()
    for side in (-1.0, 1.0):
        _add_ellipsoid(horns, x, y, (side * 16.0, 38.0, 30.0), (5.0, 7.0, 8.0))
    assert _kinds_of(horns) == ["intraventricular"]
    # a one-sided deep haematoma lateral to the ventricle stays intraparenchymal
    deep = volume.copy()
    _add_ellipsoid(deep, x, y, (30.0, 0.0, 30.0), (8.0, 10.0, 8.0))
    assert _kinds_of(deep) == ["intraparenchymal"]

"""NCCT family "fields": small renders of each bleed kind, ischaemia and mimics, checked against
the tissue and region maps the family returns, and one case written as DICOM and read back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from scipy import ndimage

from strokealert.phantoms.ncct_families import BLEED_KINDS, NcctLabel, write_case
from strokealert.phantoms.ncct_families.fields import (
    FAMILY,
    TISSUES,
    render,
    render_labelled,
)

MATRIX = 64


def _midline_x(case_volume: np.ndarray, tissue: np.ndarray) -> float:
    """x index of the head's centre (mean of the brain's x)."""
    brain = np.isin(tissue, [TISSUES.index(t) for t in ("grey", "white", "nucleus", "csf")])
    return float(np.nonzero(brain)[2].mean())


def test_tissue_hu_ranges() -> None:
    case, regions, tissue = render_labelled(11, NcctLabel(), matrix=80)
    vol = case.volume_hu
    assert FAMILY == "fields" and case.family == FAMILY
    assert 28 <= vol.shape[0] <= 45 and vol.shape[1:] == (80, 80)
    assert 3.0 <= case.spacing_mm[0] <= 5.0
    median = {name: float(np.median(vol[tissue == i])) for i, name in enumerate(TISSUES)
              if np.any(tissue == i) and name != "blood"}
    assert median["bone"] > 400
    assert median["air"] < -800
    assert 28 <= median["nucleus"] <= 42
    assert 22 <= median["white"] <= 32
    assert 27 <= median["grey"] <= 42
    assert median["grey"] - median["white"] > 2.5
    brainish = np.isin(tissue, [TISSUES.index(t) for t in ("grey", "white", "nucleus", "csf")])
    deep_csf = (ndimage.binary_erosion(tissue == TISSUES.index("csf"), np.ones((1, 3, 3), bool))
                & ndimage.binary_erosion(brainish, np.ones((1, 7, 7), bool)))
    assert deep_csf.any() and -5 <= float(np.median(vol[deep_csf])) <= median["white"] - 6
    # all ten ASPECTS regions on both sides; the deep ones are where the map says
    counts = np.bincount(regions.ravel(), minlength=21)[1:]
    assert (counts > 5).all(), counts
    lent = vol[regions == 2]
    ic = vol[regions == 3]
    assert lent.size and ic.size and np.median(lent) > np.median(ic)
    assert case.blood_volume_ml() == 0.0 and case.details["blood_volume_ml"] == 0.0


@pytest.mark.parametrize("kind", BLEED_KINDS)
def test_each_bleed_kind(kind: str) -> None:
    case, _, tissue = render_labelled(21 + BLEED_KINDS.index(kind),
                                      NcctLabel(bleeds=(kind,)), matrix=MATRIX)
    mask = case.blood_mask
    kind_id = BLEED_KINDS.index(kind) + 1
    assert set(np.unique(mask)) == {0, kind_id}
    true_ml = case.details["blood_volume_ml"]
    assert true_ml > 1.0
    assert abs(case.blood_volume_ml() - true_ml) <= 0.1 * true_ml
    # blood away from bone (partial volume with the skull is not blood's HU)
    near_bone = ndimage.binary_dilation(tissue == TISSUES.index("bone"), np.ones((1, 3, 3), bool))
    core = (mask > 0) & ~near_bone
    assert core.sum() >= 0.1 * np.count_nonzero(mask)
    assert 45.0 <= float(case.volume_hu[core].mean()) <= 95.0
    bleed = case.details["bleeds"][0]
    xs = np.nonzero(mask)[2]
    if kind != "intraventricular" and bleed.get("site") != "basal cisterns":
        midline = _midline_x(case.volume_hu, tissue)
        on_left = float(np.median(xs)) > midline  # LPS: x grows to the patient's left
        assert on_left == (bleed["side"] == "left")


def test_large_iph_shift_and_abc() -> None:
    case = render(5, NcctLabel(bleeds=("intraparenchymal", "subdural")), matrix=MATRIX)
    a, b, c = case.details["largest_iph_abc_cm"]
    assert a >= b > 0 and c > 0
    assert case.details["largest_iph_abc2_ml"] == pytest.approx(a * b * c / 2, rel=0.05)
    assert case.details["midline_shift_mm"] >= 0.0
    json.dumps(case.truth(), default=str)


def test_ischaemic_regions_darker_than_mirror() -> None:
    regions_hit = ("L", "I", "M2", "M5")
    normal, regions, _ = render_labelled(31, NcctLabel(), matrix=MATRIX)
    isch = render(31, NcctLabel(ischaemic_regions=regions_hit, ischaemic_side="left"),
                  matrix=MATRIX)
    diffs = []
    for name in regions_hit:
        idx = ("C", "L", "IC", "I", "M1", "M2", "M3", "M4", "M5", "M6").index(name) + 1
        left, right = regions == idx, regions == idx + 10
        assert left.any() and right.any()
        # left (x > midline in LPS) lies at higher x than its mirror on the right
        assert np.nonzero(left)[2].mean() > np.nonzero(right)[2].mean()
        change = float((isch.volume_hu[left] - normal.volume_hu[left]).mean())
        assert -7.0 <= change <= -1.5
        unchanged = float(np.abs(isch.volume_hu[right] - normal.volume_hu[right]).mean())
        assert unchanged < 0.3
        asym = float(isch.volume_hu[left].mean() - isch.volume_hu[right].mean())
        base = float(normal.volume_hu[left].mean() - normal.volume_hu[right].mean())
        diffs.append(asym - base)
    assert all(-7.0 <= d <= -1.5 for d in diffs)


def test_mimics_bright_but_not_blood() -> None:
    label = NcctLabel(mimics=("choroid_plexus_calcification", "pineal_calcification",
                              "hyperdense_vessel", "streak_artefact", "residual_contrast"))
    plain = render(41, NcctLabel(), matrix=MATRIX)
    case, _, tissue = render_labelled(41, label, matrix=MATRIX)
    assert not case.blood_mask.any()
    brain = np.isin(tissue, [TISSUES.index(t) for t in ("grey", "white", "nucleus", "csf")])
    assert float(case.volume_hu[brain].max()) > 100.0
    assert np.count_nonzero(case.volume_hu[brain] > 100) > np.count_nonzero(
        plain.volume_hu[brain] > 100)


def test_deterministic_and_seed_dependent() -> None:
    label = NcctLabel(bleeds=("subarachnoid",))
    a, b = render(7, label, matrix=48), render(7, label, matrix=48)
    c = render(8, label, matrix=48)
    assert np.array_equal(a.volume_hu, b.volume_hu) and np.array_equal(a.blood_mask, b.blood_mask)
    assert a.details == b.details
    assert a.volume_hu.shape != c.volume_hu.shape or not np.array_equal(a.volume_hu, c.volume_hu)


def test_write_case_reads_back(tmp_path: Path) -> None:
    case = render(9, NcctLabel(bleeds=("epidural",)), matrix=48)
    truth = write_case(case, tmp_path)
    files = sorted((tmp_path / "dicom").iterdir())
    assert len(files) == case.volume_hu.shape[0] == truth["images"]
    datasets = sorted((pydicom.dcmread(f) for f in files),
                      key=lambda d: float(d.ImagePositionPatient[2]))
    hu = np.stack([d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept)
                   for d in datasets])
    assert np.abs(hu - np.round(case.volume_hu)).max() <= 1.0
    assert float(datasets[0].SliceThickness) == pytest.approx(case.spacing_mm[0])
    mask = np.load(tmp_path / "truth_blood.npz")["mask"]
    assert np.array_equal(mask, case.blood_mask)
    saved = json.loads((tmp_path / "truth.json").read_text())
    assert saved["family"] == "fields" and saved["bleeds"] == ["epidural"]

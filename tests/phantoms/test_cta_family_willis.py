"""The willis CTA family: geometry, HU ranges, occlusion truth, side convention, DICOM output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from strokealert.phantoms.cta_families import CaseLabel, CtaCase, write_case
from strokealert.phantoms.cta_families.willis import FAMILY, render

MATRIX = 96

LABELS = {
    "ICA": CaseLabel("lvo", "ICA", "right"),
    "M1": CaseLabel("lvo", "M1", "left"),
    "M2": CaseLabel("lvo", "M2", "left"),
    "basilar": CaseLabel("lvo", "basilar", "none"),
    "normal": CaseLabel("normal"),
    "distal": CaseLabel("distal_occlusion"),
}


@pytest.fixture(scope="module")
def cases() -> dict[str, CtaCase]:
    """One small case per label, seeds fixed."""
    return {key: render(11 + n, label, matrix=MATRIX) for n, (key, label)
            in enumerate(LABELS.items())}


def _neighbourhood_max(volume: np.ndarray, idx: list[int]) -> float:
    """Largest HU within one voxel of ``idx`` (z, y, x)."""
    k, j, i = idx
    return float(volume[max(k - 1, 0):k + 2, max(j - 1, 0):j + 2, max(i - 1, 0):i + 2].max())


def test_geometry_and_hu_ranges(cases: dict[str, CtaCase]) -> None:
    for case in cases.values():
        vol = case.volume_hu
        dz, dy, dx = case.spacing_mm
        assert case.family == FAMILY
        assert vol.shape[1:] == (MATRIX, MATRIX) and vol.dtype == np.float32
        assert dy == dx and 0.4 * 512 / MATRIX <= dx <= 0.5 * 512 / MATRIX
        assert 140 <= vol.shape[0] * dz <= 185
        assert vol.min() < -900  # air around the head
        assert np.percentile(vol, 99.7) > 900  # calvarium and skull base
        brain = vol[(vol > 0) & (vol < 80)]
        assert brain.size > 0.1 * vol.size
        assert 25 <= float(np.median(brain)) <= 50
        assert 200 <= case.details["artery_enhancement_hu"] <= 500


@pytest.mark.parametrize("site", ["ICA", "M1", "M2", "basilar"])
def test_occluded_segment_is_unfilled_where_partner_fills(cases: dict[str, CtaCase],
                                                          site: str) -> None:
    case = cases[site]
    finding = case.details["finding"]
    assert finding["type"] == "occlusion" and case.truth()["lvo"] is True
    k, j, i = finding["probe_vox"]
    assert case.volume_hu[k, j, i] < 100  # distal to the clot: no contrast
    assert _neighbourhood_max(case.volume_hu, finding["reference_vox"]) > 120
    assert finding["reference_segment"] != finding["probe_segment"] or site == "basilar"


@pytest.mark.parametrize("site", ["ICA", "M1", "M2"])
def test_side_convention_lps(cases: dict[str, CtaCase], site: str) -> None:
    case = cases[site]
    clot_x = case.details["finding"]["clot_lps_mm"][0]
    midline_x = case.details["head_origin_lps_mm"][0]
    centre_i = (MATRIX - 1) / 2
    probe_i = case.details["finding"]["probe_vox"][2]
    if case.label.side == "left":
        assert clot_x > midline_x and probe_i > centre_i
    else:
        assert clot_x < midline_x and probe_i < centre_i


def test_negatives(cases: dict[str, CtaCase]) -> None:
    assert cases["normal"].details["finding"] == {"type": "none"}
    distal = cases["distal"].details["finding"]
    assert distal["type"] == "distal_occlusion"
    assert distal["segment"].startswith(("M3", "P3"))
    assert cases["distal"].truth()["lvo"] is False


def test_deterministic_for_a_seed(cases: dict[str, CtaCase]) -> None:
    again = render(11 + 4, LABELS["normal"], matrix=MATRIX)
    assert np.array_equal(again.volume_hu, cases["normal"].volume_hu)
    assert again.details == cases["normal"].details
    other = render(99, LABELS["normal"], matrix=MATRIX)
    assert other.volume_hu.shape != again.volume_hu.shape or not np.array_equal(
        other.volume_hu, again.volume_hu)


def test_write_case_reads_back_with_pydicom(cases: dict[str, CtaCase], tmp_path: Path) -> None:
    case = cases["M1"]
    truth = write_case(case, tmp_path)
    files = sorted((tmp_path / "dicom").glob("*"))
    assert len(files) == truth["images"] == case.volume_hu.shape[0]
    slices = sorted((pydicom.dcmread(f) for f in files),
                    key=lambda d: float(d.ImagePositionPatient[2]))
    mid = len(slices) // 2
    ds = slices[mid]
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert np.allclose(hu, np.round(case.volume_hu[mid]), atol=1)
    assert np.allclose([float(v) for v in ds.PixelSpacing], case.spacing_mm[1:])
    assert np.allclose([float(v) for v in ds.ImagePositionPatient],
                       [*case.details["origin_mm"][:2], case.details["origin_mm"][2]
                        + mid * case.spacing_mm[0]], atol=1e-3)
    assert truth["family"] == "willis" and truth["site"] == "M1" and truth["side"] == "left"

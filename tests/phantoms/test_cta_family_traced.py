"""The "traced" CTA family: anatomy, HU ranges, occlusion truth, side, determinism, DICOM."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from scipy.ndimage import map_coordinates

from strokealert.phantoms.cta_families import CaseLabel, CtaCase, write_case
from strokealert.phantoms.cta_families.traced import FAMILY, render

MATRIX = 128


def _index(case: CtaCase, lps: list[float]) -> np.ndarray:
    """Fractional voxel index (z, y, x) of an LPS point (mm) in a volume centred on isocentre."""
    nz, ny, nx = case.volume_hu.shape
    dz, dy, dx = case.spacing_mm
    return np.array([lps[2] / dz + (nz - 1) / 2, lps[1] / dy + (ny - 1) / 2,
                     lps[0] / dx + (nx - 1) / 2])


def _hu_at(case: CtaCase, lps: list[float]) -> float:
    """HU interpolated at an LPS point (mm)."""
    return float(map_coordinates(case.volume_hu, _index(case, lps)[:, None], order=1)[0])


def _check_head(case: CtaCase, matrix: int) -> None:
    """Geometry and HU ranges every case must have."""
    vol = case.volume_hu
    nz, ny, nx = vol.shape
    dz, dy, dx = case.spacing_mm
    assert (ny, nx) == (matrix, matrix) and dy == dx
    assert 200 / matrix <= dx <= 250 / matrix
    assert 115 <= nz * dz <= 170  # skull base to vertex
    assert vol.dtype == np.float32 and np.isfinite(vol).all()
    assert abs(float(vol[:, :4, :4].mean()) + 1000) < 40  # air in the corners
    assert float(vol.max()) > 1000  # cortical bone
    white = _index(case, case.details["white_matter_probe_lps"]).round().astype(int)
    region = vol[white[0] - 1:white[0] + 2, white[1] - 2:white[1] + 3, white[2] - 2:white[2] + 3]
    assert 10 < float(np.median(region)) < 55, "brain parenchyma in HU"


@pytest.mark.parametrize(("site", "side", "seed"), [("ICA", "left", 3), ("M1", "right", 1),
                                                    ("M2", "left", 2), ("basilar", "none", 4)])
def test_lvo_leaves_the_occluded_segment_empty_and_its_partner_filled(site: str, side: str,
                                                                      seed: int) -> None:
    case = render(seed, CaseLabel("lvo", site, side), matrix=MATRIX)
    _check_head(case, MATRIX)
    details = case.details
    assert details["occluded_vessel"].startswith({"ICA": "ICA", "M1": "M1", "M2": "M2",
                                                  "basilar": "basilar"}[site])
    unfilled, filled = details["unfilled_probes_lps"][0], details["filled_probes_lps"][0]
    empty, full = _hu_at(case, unfilled), _hu_at(case, filled)
    assert empty < 90, f"no contrast beyond the clot ({empty:.0f} HU)"
    assert full > 100 and full > empty + 60, f"partner filled ({full:.0f} vs {empty:.0f} HU)"
    centre_x = details["head_centre_lps"][0]
    if side == "left":  # LPS: the patient's left is +x
        assert details["clot_lps"][0] > centre_x and unfilled[0] > centre_x > filled[0]
    elif side == "right":
        assert details["clot_lps"][0] < centre_x and unfilled[0] < centre_x < filled[0]
    else:
        assert abs(details["clot_lps"][0] - centre_x) < 15


@pytest.mark.parametrize(("kind", "seed"), [("normal", 5), ("stenosis", 6)])
def test_negatives_have_every_trunk_filled(kind: str, seed: int) -> None:
    case = render(seed, CaseLabel(kind), matrix=96)
    _check_head(case, 96)
    assert case.details["unfilled_probes_lps"] == []
    assert "occluded_vessel" not in case.details
    if kind == "stenosis":
        assert 0.5 <= case.details["stenosis_fraction"] <= 0.8


def test_a_seed_renders_the_same_case_and_another_seed_another() -> None:
    label = CaseLabel("distal_occlusion")
    first, again = render(11, label, matrix=64), render(11, label, matrix=64)
    assert np.array_equal(first.volume_hu, again.volume_hu)
    assert first.details == again.details
    other = render(12, label, matrix=64)
    assert other.details["pose_deg"] != first.details["pose_deg"]


def test_written_case_reads_back_with_pydicom(tmp_path: Path) -> None:
    case = render(7, CaseLabel("asymmetric_normal"), matrix=64)
    truth = write_case(case, tmp_path)
    assert truth["family"] == FAMILY and truth["lvo"] is False
    files = sorted((tmp_path / "dicom").rglob("*.dcm")) or sorted(
        p for p in (tmp_path / "dicom").rglob("*") if p.is_file())
    assert len(files) == case.volume_hu.shape[0] == truth["images"]
    slices = sorted((pydicom.dcmread(p) for p in files),
                    key=lambda ds: float(ds.ImagePositionPatient[2]))
    hu = np.stack([ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
                   for ds in slices])
    assert np.abs(hu - np.round(case.volume_hu)).max() <= 1
    assert float(slices[0].PixelSpacing[0]) == pytest.approx(case.spacing_mm[1], abs=1e-3)
    assert slices[0].ConvolutionKernel == case.details["kernel"]

"""CTA family "grown" (space-colonisation tree): small renders of every LVO site and negatives."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pydicom
import pytest

from strokealert.phantoms.cta_families import CaseLabel, CtaCase, write_case
from strokealert.phantoms.cta_families.grown import FAMILY, render

MATRIX = 96
SEED = 7


@cache
def case(kind: str, site: str | None = None, side: str = "none") -> CtaCase:
    """One render per label at the test matrix, shared by the tests."""
    return render(SEED, CaseLabel(kind=kind, site=site, side=side), matrix=MATRIX)


def values(c: CtaCase, key: str, *, neighbours: bool) -> np.ndarray:
    """HU at the voxels listed under ``details[key]``; with ``neighbours`` the max of each one's
    3x3x3 neighbourhood (a centreline rounded to the voxel grid may sit beside the lumen)."""
    vox = np.array(c.details[key])
    assert len(vox) > 0, key
    v = c.volume_hu
    if not neighbours:
        return v[vox[:, 0], vox[:, 1], vox[:, 2]]
    return np.array([v[max(z - 1, 0):z + 2, max(y - 1, 0):y + 2, max(x - 1, 0):x + 2].max()
                     for z, y, x in vox])


def test_geometry_and_tissue_hu() -> None:
    c = case("normal")
    nz, ny, nx = c.volume_hu.shape
    assert (ny, nx) == (MATRIX, MATRIX)
    dz, dy, dx = c.spacing_mm
    assert dy == dx and 220 / MATRIX <= dx <= 250 / MATRIX
    assert 115 <= nz * dz <= 165, "coverage from skull base to vertex"
    v = c.volume_hu
    assert v.min() >= -1024 and v.max() <= 3071
    assert (v < -900).mean() > 0.2, "air around the head"
    assert (v > 1000).sum() > 2000, "cortical bone of the skull"
    soft = v[(v > 0) & (v < 100)]
    assert 28 <= np.median(soft) <= 42, "brain parenchyma"
    assert c.family == FAMILY and c.details["tree_nodes"] > 1000
    assert all(n > 20 for n in c.details["grown_nodes"].values()), "every territory grew"


def test_determinism_for_a_seed() -> None:
    again = render(SEED, CaseLabel("normal"), matrix=MATRIX)
    assert np.array_equal(again.volume_hu, case("normal").volume_hu)
    assert again.details == case("normal").details
    other = render(SEED + 1, CaseLabel("normal"), matrix=MATRIX)
    assert other.details["tree_nodes"] != again.details["tree_nodes"]


@pytest.mark.parametrize(("site", "side"), [("ICA", "left"), ("M1", "right"), ("M2", "left"),
                                            ("basilar", "none")])
def test_occluded_segment_has_no_contrast_where_its_partner_does(site: str, side: str) -> None:
    c = case("lvo", site, side)
    occluded = values(c, "truth_voxels", neighbours=False)
    partner = values(c, "contralateral_voxels", neighbours=True)
    assert np.median(occluded) < 110, f"{site}: the occluded segment holds no contrast"
    assert np.median(partner) > 150, f"{site}: its contralateral partner is filled"
    normal = case("normal")
    diff = np.abs(c.volume_hu - normal.volume_hu) > 60
    assert diff.sum() > 5, "the occlusion changed the image"
    centre_x = c.details["head_centre_voxel"][2]
    clot_x = np.array(c.details["truth_voxels"])[:, 2].mean()
    if side == "left":  # LPS: the patient's left is +x
        assert clot_x > centre_x
        assert np.nonzero(diff)[2].mean() > centre_x
    elif side == "right":
        assert clot_x < centre_x
        assert np.nonzero(diff)[2].mean() < centre_x


def test_stenosis_narrows_only_around_its_site() -> None:
    c = case("stenosis")
    effect = c.details["label_effect"]
    assert 0.5 <= effect["stenosis_severity"] <= 0.8
    diff = np.argwhere(np.abs(c.volume_hu - case("normal").volume_hu) > 40)
    assert len(diff) > 0, "the narrowing shows"
    site = np.array(c.details["truth_voxels"])
    spacing = np.array(c.spacing_mm)
    far = np.min(np.linalg.norm((diff[:, None, :] - site[None]) * spacing, axis=2), axis=1)
    assert far.max() < 12.0, "nothing else changed (mm from the narrowed segment)"


def test_hypoplastic_segment_is_thin_but_filled() -> None:
    c = case("hypoplastic")
    assert c.details["label_effect"]["hypoplastic_radius_mm"] < 0.85
    assert any(v.startswith("hypoplastic=") for v in c.details["variants"])
    assert np.median(values(c, "truth_voxels", neighbours=True)) > 80, "still holds contrast"


def test_write_case_reads_back_with_pydicom(tmp_path: Path) -> None:
    c = case("lvo", "M1", "right")
    truth = write_case(c, tmp_path)
    files = sorted((tmp_path / "dicom").glob("*.dcm"))
    assert len(files) == c.volume_hu.shape[0] == truth["images"]
    slices = [pydicom.dcmread(p) for p in files]
    slices.sort(key=lambda d: float(d.ImagePositionPatient[2]))
    mid = len(slices) // 2
    ds = slices[mid]
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert np.allclose(hu, np.round(c.volume_hu[mid]), atol=1)
    assert float(ds.PixelSpacing[0]) == pytest.approx(c.spacing_mm[1], rel=1e-4)
    saved = json.loads((tmp_path / "truth.json").read_text())
    assert saved["lvo"] is True and saved["site"] == "M1" and saved["side"] == "right"
    assert saved["family"] == FAMILY

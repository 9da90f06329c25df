"""The CTA phantom's ground truth: the occluded segment really is dark, truth.json matches."""

from __future__ import annotations

import json

import numpy as np

from strokealert.lvo.preprocess import read_dicom_volume
from strokealert.phantoms.cta import Rendered, build_vessels, write_dicom


def _hu_along(rendered: Rendered, name: str) -> float:
    """Median HU at the centre line of a vessel's second half (scanner voxel lookup)."""
    vessel = {v.name: v for v in build_vessels(rendered.spec)}[name]
    points = vessel.points[len(vessel.points) // 2:]
    scanner = (rendered.rotation @ points.T).T + rendered.centre_mm - np.array(rendered.origin_mm)
    dz, dy, dx = rendered.spacing_mm
    idx = np.rint(scanner[:, ::-1] / np.array([dz, dy, dx])).astype(int)
    return float(np.median(rendered.volume_hu[idx[:, 0], idx[:, 1], idx[:, 2]]))


def test_occluded_m1_is_unenhanced_and_the_other_side_is_not(m1_left: Rendered) -> None:
    truth = m1_left.spec.truth()
    assert truth["lvo"] and truth["lvo_site"] == "M1" and truth["side"] == "left"
    occluded, patent = _hu_along(m1_left, "M1_left"), _hu_along(m1_left, "M1_right")
    assert occluded < 90, occluded  # blood without contrast, partial volume with brain
    assert patent > 150, patent
    assert abs(_hu_along(m1_left, "ICA_left") - _hu_along(m1_left, "ICA_right")) < 60


def test_ica_occlusion_removes_the_mca_but_keeps_the_basilar(ica_right: Rendered) -> None:
    assert _hu_along(ica_right, "M1_right") < 90
    assert _hu_along(ica_right, "M1_left") > 150
    assert _hu_along(ica_right, "basilar") > 150


def test_dicom_output_round_trips_with_truth(tmp_path, normal: Rendered) -> None:
    small = Rendered(normal.volume_hu[::2], (4.0, 2.0, 2.0), normal.origin_mm, normal.spec,
                     normal.rotation, normal.centre_mm)
    truth = write_dicom(small, tmp_path)
    stored = json.loads((tmp_path / "truth.json").read_text())
    assert stored["lvo"] is False and stored["lvo_site"] is None
    assert stored["images"] == small.volume_hu.shape[0] == truth["images"]
    volume, spacing = read_dicom_volume(sorted((tmp_path / "dicom").glob("*.dcm")))
    assert spacing == (4.0, 2.0, 2.0)
    assert np.abs(volume - np.clip(np.rint(small.volume_hu), -32768, 32767)).max() <= 0.5

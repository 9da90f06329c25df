"""The CTA slab analyze_files saves for the phone's stack viewer: native axial thin-slab MIPs in
int16 HU around the suspected segment, no header, no UIDs, not listed in the analysis block."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pydicom

from strokealert.contracts.analysis import LvoBlock
from strokealert.contracts.outputs import CTA_SLAB_FILE
from strokealert.lvo import analyze_files
from strokealert.lvo.slab import SLAB_SLICES, SLAB_THICKNESS_MM
from strokealert.phantoms.cta import Rendered, build_vessels, write_dicom

BLOCK_KEYS = {"status", "error", "probability", "suspected", "threshold", "side", "site", "model",
              "key_images", "quality", "manual_review", "quality_reason", "segment", "territory",
              "ood_score", "vessel_features"}


def peak_slice(rendered: Rendered, hu: np.ndarray, vessel: str) -> tuple[int, float]:
    """(slab slice, HU) where the middle of ``vessel`` (a phantom artery) is brightest, bone
    (over 700 HU) left out."""
    [artery] = [v for v in build_vessels(rendered.spec) if v.name == vessel]
    middle = artery.points[len(artery.points) // 2]
    scanner = rendered.rotation @ middle + rendered.centre_mm
    x, y, _ = np.rint((scanner - np.array(rendered.origin_mm)) / rendered.spacing_mm[::-1])
    profile = np.where(hu[:, int(y), int(x)] < 700, hu[:, int(y), int(x)], -1024)
    return int(profile.argmax()), float(profile.max())


def test_analyze_files_saves_the_cta_slab(tmp_path: Path, m1_left: Rendered) -> None:
    write_dicom(m1_left, tmp_path / "in")
    files = sorted((tmp_path / "in" / "dicom").glob("*.dcm"))
    block = analyze_files(files, tmp_path / "out")
    assert block["suspected"] is True and block["site"] in ("M1", "ICA")
    # The analysis contract keeps its keys: the slab is found by name, not listed.
    assert set(block) == BLOCK_KEYS and CTA_SLAB_FILE not in str(block)
    LvoBlock.model_validate(block)

    path = tmp_path / "out" / CTA_SLAB_FILE
    header = pydicom.dcmread(files[0], stop_before_pixels=True)
    identifiers = [str(header[k].value).encode() for k in (
        "PatientName", "PatientID", "AccessionNumber", "StudyInstanceUID", "SeriesInstanceUID",
        "SOPInstanceUID", "FrameOfReferenceUID", "InstitutionName")]
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["hu.npy", "spacing_mm.npy", "thickness_mm.npy"]
        for member in archive.namelist():  # arrays only: no header, no identifier
            content = archive.read(member)
            assert not [text for text in identifiers if text in content]
    with np.load(path, allow_pickle=False) as saved:
        hu, spacing = saved["hu"], saved["spacing_mm"]
        assert float(saved["thickness_mm"]) == SLAB_THICKNESS_MM
    assert hu.dtype == np.int16 and hu.shape == (SLAB_SLICES, 120, 120)
    assert spacing.tolist() == [2.0, 2.0, 2.0]
    assert -1024 <= hu.min() < -900 and hu.max() > 1000  # air and bone in HU, not rescaled
    # Centred on the occluded left M1: the patent right M1 and the anterior communicating
    # artery show with arterial contrast in the middle half of the slab.
    for artery in ("M1_right", "Acom"):
        where, value = peak_slice(m1_left, hu, artery)
        assert SLAB_SLICES // 4 <= where < 3 * SLAB_SLICES // 4 and value > 150, (artery, where)

"""The CTP phantom as DICOM (``strokealert phantom ctp``) read back by the perfusion library."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import perfusion
from strokealert.phantoms.ctp import CtpPhantomOptions, write_ctp_phantom

ROOT = Path(__file__).resolve().parents[2]
STROKEALERT = [sys.executable, "-c", "from strokealert.cli import main; main()"]


@pytest.fixture(scope="module")
def head_dicom(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("head")
    subprocess.run([*STROKEALERT, "phantom", "ctp", str(folder), "--matrix", "128",
                    "--noise", "5"], check=True, cwd=ROOT, capture_output=True)
    return folder


def test_head_phantom_from_dicom(head_dicom: Path, tmp_path: Path) -> None:
    truth = json.loads((head_dicom / "truth.json").read_text())
    result = perfusion.analyze_files(sorted(head_dicom.glob("*.dcm")), tmp_path)
    block = result.to_json()
    assert block["status"] == "ok", block
    assert block["side"] == truth["side"] == "right"
    assert block["defuse3_eligible"] is truth["defuse3_eligible"] is True
    assert abs(block["core_ml"] - truth["core_ml"]) <= 5.0, (block, truth["core_ml"])
    tmax6, true6 = block["hypoperfusion_ml"]["tmax6"], truth["hypoperfusion_ml"]["tmax6"]
    assert abs(tmax6 - true6) <= 0.1 * true6, (tmax6, true6)
    assert block["hypoperfusion_ml"]["tmax4"] > tmax6 > block["hypoperfusion_ml"]["tmax10"]
    # Chosen a quarter from each lattice of every other row and column, within which no voxel
    # is another's neighbour (their own noise chose none of them).
    for key in ("aif_voxels", "vof_voxels"):
        chosen = block["input_functions"][key]
        lattices = Counter((y % 2, x % 2) for _, y, x in chosen)
        assert sorted(lattices.values()) == [3, 3, 3, 3], (key, chosen)
    curves = block["curves"]  # the case viewer draws these
    assert len(curves["t_s"]) == len(curves["aif"]) == len(curves["vof"])
    assert max(curves["aif"]) > max(curves["vof"]) / block["input_functions"][
        "partial_volume_scale"]
    for name in block["maps"].values():
        assert (tmp_path / name).stat().st_size > 0
    assert (tmp_path / "perfusion_summary.png").read_bytes()[:4] == b"\x89PNG"
    assert result.core_mask is not None and result.core_mask.any()
    assert result.series_instance_uid == truth["series_instance_uid"]
    # The picture comes back as pixels too; DICOM objects are the caller's (results/) to make.
    assert block["key_images"] == list(result.key_image_pixels) == ["perfusion_summary.png"]
    rgb = result.key_image_pixels["perfusion_summary.png"]
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
    assert not list(tmp_path.glob("*.dcm"))


def test_too_few_frames_fails_with_the_count(tmp_path: Path) -> None:
    write_ctp_phantom(tmp_path / "in", CtpPhantomOptions(matrix=32, slices=2, frames=6))
    result = perfusion.analyze_files(sorted((tmp_path / "in").glob("*.dcm")), tmp_path)
    assert result.to_json() == {"status": "failed", "error": "too few time points (6 < 10)"}

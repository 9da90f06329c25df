"""DICOM in, analysis block out: key images, quality gate, readable failures, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from strokealert.errors import InputError
from strokealert.lvo import analyze_files, analyze_volume
from strokealert.phantoms.cta import Rendered, render, write_dicom

from .conftest import case

CLI = [sys.executable, "-m", "strokealert"]


def test_analyze_files_fills_the_lvo_block(tmp_path: Path, m1_left: Rendered) -> None:
    write_dicom(m1_left, tmp_path / "in")
    block = analyze_files(sorted((tmp_path / "in" / "dicom").glob("*.dcm")), tmp_path / "out")
    assert block["status"] == "ok" and block["error"] is None
    assert block["suspected"] is True and block["side"] == "left"
    assert block["site"] in ("ICA", "M1", "M2")
    assert block["quality"] == "ok" and block["manual_review"] is False
    assert block["model"].startswith("strokealert-lvo-mipnet@")
    assert set(block["key_images"]) == {"lvo_mip.png", "lvo_heatmap.png"}
    for name in block["key_images"]:
        with Image.open(tmp_path / "out" / name) as image:
            assert image.width >= 256 and image.height >= 400
    assert "DOE" not in json.dumps(block) and "MRN" not in json.dumps(block)


def test_quality_gate_gives_manual_review_not_a_confident_negative() -> None:
    for quality, words in (("poor_timing", "poor arterial contrast"),
                           ("motion", "patient motion"), ("coverage", "incomplete coverage")):
        rendered = render(case(31, None, quality=quality))
        result = analyze_volume(rendered.volume_hu, rendered.spacing_mm, explain_images=False)
        block = result.to_block()
        assert block["status"] == "ok"
        assert block["quality"] == "insufficient" and block["manual_review"] is True
        assert words in block["quality_reason"], block["quality_reason"]


def test_unusable_input_is_a_readable_failure(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not dicom")
    block = analyze_files([tmp_path], tmp_path / "out")
    assert block == {"status": "failed", "error": "no DICOM images found for the CTA"}
    empty = np.full((40, 64, 64), -1000.0, dtype=np.float32)
    with pytest.raises(InputError, match="no head found"):
        analyze_volume(empty, (2.0, 2.0, 2.0))


def test_cli_phantom_and_input_errors(tmp_path: Path) -> None:
    made = subprocess.run([*CLI, "phantom", "cta", str(tmp_path / "ph"), "--site", "basilar",
                           "--matrix", "112", "--pixel-mm", "2.0", "--slice-mm", "3"],
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    truth = json.loads((tmp_path / "ph" / "truth.json").read_text())
    assert truth["lvo_site"] == "basilar" and truth["side"] == "none"
    assert len(list((tmp_path / "ph" / "dicom").glob("*.dcm"))) == truth["images"]
    bad = subprocess.run([*CLI, "lvo", "evaluate", "--model", str(tmp_path / "missing.pt")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "no such model file" in bad.stderr
    assert "Traceback" not in bad.stderr

"""DICOM in, analysis block out: the vessel detector on other generators' heads, the key image,
the quality and out-of-distribution gates, readable failures, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from strokealert.contracts.analysis import LvoBlock
from strokealert.errors import InputError
from strokealert.lvo import analyze_files, analyze_volume
from strokealert.lvo.corpus import CorpusCase, render_case
from strokealert.lvo.explain import KEY_IMAGE
from strokealert.phantoms.cta import render
from strokealert.phantoms.cta_families import CaseLabel, CtaCase, write_case

from .conftest import case

CLI = [sys.executable, "-m", "strokealert"]


@pytest.fixture(scope="module")
def willis_m1_left() -> CorpusCase:
    return render_case("willis", 7, CaseLabel("lvo", "M1", "left"), 112)


def test_left_m1_of_another_generator_is_found_with_segment_and_key_image(
        tmp_path: Path, willis_m1_left: CorpusCase) -> None:
    c = willis_m1_left
    write_case(CtaCase(c.family, c.seed, c.label, c.volume_hu, c.spacing_mm, c.details),
               tmp_path / "in")
    block = analyze_files(sorted((tmp_path / "in" / "dicom").glob("*.dcm")), tmp_path / "out")
    LvoBlock.model_validate(block)
    assert block["status"] == "ok" and block["manual_review"] is False, block
    assert block["suspected"] is True and block["side"] == "left"
    assert block["site"] in ("ICA", "M1") and block["segment"] == f"left {block['site']}"
    assert block["territory"].startswith("left MCA")
    assert block["model"].startswith("strokealert-lvo-vessels@")
    assert block["key_images"] == [KEY_IMAGE]
    with Image.open(tmp_path / "out" / KEY_IMAGE) as image:
        pixels = np.asarray(image.convert("RGB"))
    # The red circle sits on the patient's left: the right half of a radiological image.
    red = (pixels[..., 0] > 200) & (pixels[..., 1] < 100) & (pixels[..., 2] < 100)
    assert red.sum() > 50 and np.nonzero(red)[1].mean() > pixels.shape[1] / 2
    assert "DOE" not in json.dumps(block)


def test_a_normal_tree_of_a_third_generator_is_negative() -> None:
    normal = render_case("grown", 3, CaseLabel("normal"), 112)
    result = analyze_volume(normal.volume_hu, normal.spacing_mm)
    assert not result.manual_review, result.review_reason
    assert not result.suspected and result.side == "none" and result.site is None
    assert result.segment is None and result.to_block()["territory"] is None


def test_a_volume_unlike_a_head_cta_abstains_instead_of_answering() -> None:
    """A water phantom the size of a head with bright rods: no skull, no tree."""
    z, y, x = np.mgrid[0:72, 0:96, 0:96].astype(np.float32)
    volume = np.full(z.shape, -1000.0, dtype=np.float32)
    volume[((y - 48) / 40) ** 2 + ((x - 48) / 34) ** 2 + ((z - 36) / 34) ** 2 < 1] = 20.0
    for cx in (30, 44, 58):
        volume[(np.hypot(y - 48, x - cx) < 2.0) & (np.abs(z - 36) < 20)] = 400.0
    result = analyze_volume(volume, (2.0, 2.0, 2.0))
    block = result.to_block()
    assert block["manual_review"] is True and block["suspected"] is False
    assert block["ood_score"] > result.ood_threshold
    assert "unlike the training cases" in block["quality_reason"]


def test_quality_gate_gives_manual_review_not_a_confident_negative() -> None:
    for quality, words in (("poor_timing", "poor arterial contrast"),
                           ("motion", "patient motion")):
        rendered = render(case(31, None, quality=quality))
        block = analyze_volume(rendered.volume_hu, rendered.spacing_mm).to_block()
        assert block["status"] == "ok" and block["suspected"] is False
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
    bad = subprocess.run([*CLI, "lvo", "evaluate", "--model", str(tmp_path / "missing.json")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "no such model file" in bad.stderr
    assert "Traceback" not in bad.stderr

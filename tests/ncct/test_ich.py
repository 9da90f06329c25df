"""Haemorrhage on NCCT phantoms of both generator families (matrix 128): a bleed is found with
its kind and volume, a mimics-only scan is negative, and the DICOM entry point returns a valid
``ncct`` block with its key image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from strokealert.contracts.analysis import BLEED_KINDS, NcctBlock
from strokealert.contracts.outputs import NCCT_BLOOD_FILE
from strokealert.ncct import analyze_files, analyze_volume
from strokealert.phantoms.ncct_families import MIMICS, NcctLabel, fields, geometric, write_case


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

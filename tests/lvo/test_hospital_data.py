"""A hospital's own labelled CTA (DICOM folders + labels.csv) through ``strokealert lvo evaluate``.

Six cases of one generator family are written as DICOM studies the way a hospital would lay
out its export: ``case_i/`` folders and a ``labels.csv`` with ``case,lvo,side,site``.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from strokealert.cli import app
from strokealert.errors import InputError
from strokealert.lvo.corpus import render_case
from strokealert.phantoms.cta_families import CaseLabel, CtaCase, write_case

LABELS = (CaseLabel("lvo", "M1", "left"), CaseLabel("lvo", "ICA", "right"),
          CaseLabel("lvo", "basilar", "none"), CaseLabel("normal"), CaseLabel("stenosis"),
          CaseLabel("asymmetric_normal"))


@pytest.fixture(scope="module")
def hospital_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hospital")
    rows = []
    for i, label in enumerate(LABELS, start=1):
        case = render_case("original", 40 + i, label, 96)
        write_case(CtaCase(case.family, case.seed, case.label, case.volume_hu, case.spacing_mm,
                           case.details), root / f"case_{i}")
        rows.append({"case": f"case_{i}", "lvo": int(label.kind == "lvo"),
                     "side": label.side, "site": label.site or ""})
    with (root / "labels.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["case", "lvo", "side", "site"])
        writer.writeheader()
        writer.writerows(rows)
    return root


def _counts(output: str, group: str) -> tuple[int, int]:
    """(n+, n-) of a table row, or (0, 0) when the row is absent."""
    match = re.search(rf"^{re.escape(group)}\s+(\d+)\s+(\d+)\s", output, re.MULTILINE)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def test_evaluate_reads_the_hospital_folders_and_labels(hospital_dir: Path) -> None:
    result = CliRunner().invoke(app, ["lvo", "evaluate", "--data", str(hospital_dir)])
    assert result.exit_code == 0, result.output
    assert "; 6 cases" in result.output
    passed = _counts(result.output, "all (gate passed)")
    refused = _counts(result.output, "quality gate: manual review")
    assert passed[0] + refused[0] == 3  # the three LVO rows of labels.csv
    assert passed[1] + refused[1] == 3
    assert passed[0] + passed[1] >= 4  # most of the six pass the quality gate


def test_labels_naming_a_missing_folder_are_refused(hospital_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "labels.csv").write_text("case,lvo,side,site\ncase_9,1,left,M1\n")
    result = CliRunner().invoke(app, ["lvo", "evaluate", "--data", str(tmp_path)])
    assert isinstance(result.exception, InputError)
    assert "case_9" in str(result.exception)

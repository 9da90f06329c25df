"""``strokealert ncct evaluate`` on a labelled folder written from a generator family."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from strokealert.cli import app
from strokealert.ncct.dataset import read_labels, write_synthetic
from strokealert.ncct.evaluate import evaluate
from strokealert.phantoms.series import SeriesInfo, write_centred_volume


def test_evaluate_prints_the_table_for_a_labelled_folder(tmp_path: Path) -> None:
    write_synthetic("geometric", tmp_path / "set", 2, first_seed=7, matrix=128)
    cases = list(read_labels(tmp_path / "set"))
    assert [c.case for c in cases] == ["geometric-00007", "geometric-00008"]
    result = CliRunner().invoke(app, ["ncct", "evaluate", "--data", str(tmp_path / "set")])
    assert result.exit_code == 0, result.output
    line = result.output.strip().splitlines()[-1]
    assert "sensitivity" in line and "specificity" in line and "volume within" in line


def test_evaluate_counts_a_refused_scan_and_located_bleeds(tmp_path: Path) -> None:
    data = tmp_path / "set"
    write_synthetic("geometric", data, 1, first_seed=7, matrix=128)
    air = np.full((12, 64, 64), -1000, dtype=np.int16)  # no head: the analysis refuses it
    write_centred_volume(air, data / "empty" / "dicom", series=SeriesInfo(series_number=2),
                         spacing_mm=(5.0, 1.0, 1.0))
    with (data / "labels.csv").open("a") as handle:
        handle.write("empty,1,intraparenchymal,5.0\n")
    line = evaluate(data)[0]
    # seed 7 holds an intraparenchymal and a subdural bleed, found where they are; the empty
    # scan is refused (manual review in service) and counts as a missed bleed; it has no voxel
    # truth, so "located" counts the other only
    assert "sensitivity 1/2" in line and "located 1/1" in line, line  # no voxel truth: not counted
    assert "analysis failed (manual review) 1" in line, line
    cases = evaluate(data, per_case=True)
    assert cases[-1].split(" | median analysis")[0] == line.split(" | median analysis")[0]
    assert cases[0].startswith("  geometric-00007: blood ") and cases[0].endswith("; TP")
    assert "intraparenchymal+subdural; found " in cases[0], cases[0]
    assert cases[1] == "  empty: blood 5.0 mL intraparenchymal; refused (manual review); FN"

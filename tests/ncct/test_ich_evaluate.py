"""``strokealert ncct evaluate`` on a labelled folder written from a generator family."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from strokealert.cli import app
from strokealert.ncct.dataset import read_labels, write_synthetic


def test_evaluate_prints_the_table_for_a_labelled_folder(tmp_path: Path) -> None:
    write_synthetic("geometric", tmp_path / "set", 2, first_seed=7, matrix=128)
    cases = list(read_labels(tmp_path / "set"))
    assert [c.case for c in cases] == ["geometric-00007", "geometric-00008"]
    result = CliRunner().invoke(app, ["ncct", "evaluate", "--data", str(tmp_path / "set")])
    assert result.exit_code == 0, result.output
    line = result.output.strip().splitlines()[-1]
    assert "sensitivity" in line and "specificity" in line and "volume within" in line

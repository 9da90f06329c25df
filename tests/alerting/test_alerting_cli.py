"""``strokealert oncall``: loads the README's stroke team, refuses bad directory files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from strokealert.cli import app
from strokealert.cli.notify import read_directory_file
from strokealert.errors import InputError


def readme_example() -> str:
    """The stroke-team TOML in the README's Notifications section."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Notifications", 1)[1]
    return "# oncall.toml" + section.split("```toml\n# oncall.toml", 1)[1].split("```", 1)[0]


def test_oncall_cli_loads_the_readme_example_and_refuses_bad_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"STROKEALERT_DATA_DIR": str(tmp_path / "var"), "PATH": "/usr/bin:/bin"}
    cli = [sys.executable, "-m", "strokealert"]
    good = tmp_path / "oncall.toml"
    good.write_text(readme_example())
    monkeypatch.setenv("STROKEALERT_DATA_DIR", env["STROKEALERT_DATA_DIR"])
    done = CliRunner().invoke(app, ["oncall", "load", str(good)])
    assert done.exit_code == 0, done.output
    assert done.output.strip().splitlines()[-1] == "loaded 5 people, 1 schedules, 1 policies"
    shown = CliRunner().invoke(app, ["oncall", "show", "--at", "2026-03-14T02:49:00Z"])
    assert shown.exit_code == 0, shown.output
    assert "schedule stroke-neurology (America/New_York): on call Dr Ada Okafor" in shown.output
    assert "policy   stroke (active)" in shown.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"policies": [{"name": "p", "steps": [
        {"delay_minutes": 5, "targets": [{"user": "Dr Who"}]}]}]}))
    refused = subprocess.run([*cli, "oncall", "load", str(bad)], env=env, capture_output=True,
                             text=True, timeout=120)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1] == (
        f"strokealert: {bad}: policy 'p' step 1: unknown user 'Dr Who'")
    with pytest.raises(InputError, match="cannot read"):
        read_directory_file(tmp_path / "nope.toml")
    (tmp_path / "broken.toml").write_text("[[people]\nname = 1")
    with pytest.raises(InputError, match="not valid toml"):
        read_directory_file(tmp_path / "broken.toml")

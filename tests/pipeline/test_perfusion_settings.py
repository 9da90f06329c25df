"""The service sets the perfusion analysis: ``[perfusion]`` in the TOML file or
``STROKEALERT_PERFUSION__<FIELD>``, every field of ``PerfusionConfig``, checked at start."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from perfusion.config import PerfusionConfig
from strokealert.config import Settings, load_settings
from strokealert.errors import InputError
from strokealert.pipeline.perfusion_settings import perfusion_config

CLI = [sys.executable, "-m", "strokealert"]


def _clean_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STROKEALERT_")}
    return {**env, "STROKEALERT_DATA_DIR": str(tmp_path / "data"), **settings}


def test_every_field_can_be_set_and_nothing_set_means_the_defaults() -> None:
    assert perfusion_config(Settings()) == PerfusionConfig()
    defaults = dataclasses.asdict(PerfusionConfig())
    assert len(defaults) >= 40
    assert perfusion_config(Settings(perfusion=defaults)) == PerfusionConfig()


def test_toml_table_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "strokealert.toml"
    toml.write_text('[perfusion]\nmethod = "osvd"\nsvd_threshold = 0.2\n'
                    "tmax_thresholds_s = [4.0, 6.0, 8.0]\n")
    # load_settings names the file in the environment (for the processes serve starts);
    # monkeypatch takes it out again after the test.
    monkeypatch.setenv("STROKEALERT_CONFIG", str(toml))
    monkeypatch.setenv("STROKEALERT_PERFUSION__SVD_THRESHOLD", "0.3")  # the environment wins
    monkeypatch.setenv("STROKEALERT_PERFUSION__MOTION_CORRECTION", "false")
    monkeypatch.setenv("STROKEALERT_PERFUSION__AIF_VOXELS", "[[1, 2, 3], [1, 2, 4]]")
    config = perfusion_config(load_settings(toml))
    assert config.method == "osvd"
    assert config.svd_threshold == 0.3
    assert config.tmax_thresholds_s == (4.0, 6.0, 8.0)
    assert config.motion_correction is False
    assert config.aif_voxels == [(1, 2, 3), (1, 2, 4)]


@pytest.mark.parametrize(("values", "message"), [
    ({"svd_treshold": 0.2}, "unknown perfusion setting 'svd_treshold'; did you mean "
                            "'svd_threshold'?"),
    ({"min_frames": "many"}, "min_frames: Input should be a valid integer"),
    ({"method": "magic"}, "unknown deconvolution method 'magic'"),
])
def test_bad_settings_are_clear_errors(values: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match="perfusion") as caught:
        perfusion_config(Settings(perfusion=values))
    assert message in str(caught.value)


def test_serve_refuses_an_unknown_perfusion_setting(tmp_path: Path) -> None:
    env = _clean_env(tmp_path, STROKEALERT_HTTP_HOST="127.0.0.1",
                     STROKEALERT_PERFUSION__CORE_RCBF_TYPO="0.3")
    done = subprocess.run([*CLI, "serve"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "unknown perfusion setting 'core_rcbf_typo'; did you mean 'core_rcbf'?" in done.stderr
    assert "Traceback" not in done.stderr


def test_analyze_uses_the_configured_perfusion_settings(tmp_path: Path) -> None:
    """``min_frames`` above the series' 20 frames: the analysis reports exactly that."""
    series = tmp_path / "ctp"
    subprocess.run([*CLI, "phantom", "ctp", str(series), "--matrix", "64", "--slices", "4",
                    "--frames", "20"], env=_clean_env(tmp_path), check=True,
                   capture_output=True, timeout=300)
    env = _clean_env(tmp_path, STROKEALERT_PERFUSION__MIN_FRAMES="25")
    done = subprocess.run([*CLI, "analyze", str(series), "--out", str(tmp_path / "out"),
                           "--json"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    block = json.loads(done.stdout)["perfusion"]
    assert block["status"] == "failed"
    assert "too few time points (20 < 25)" in block["error"]

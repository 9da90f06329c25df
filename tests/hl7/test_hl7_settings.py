"""The listener opens only when configured: STROKEALERT_HL7_PORT set, or hl7_enabled."""

from __future__ import annotations

from pathlib import Path

import pytest

from strokealert.config import load_settings
from strokealert.hl7.mllp import MllpListener
from strokealert.hl7.retention import Hl7Retention
from strokealert.service import Service


@pytest.mark.parametrize(("env", "toml", "listening", "port"), [
    ({}, "", False, 2575),
    ({"STROKEALERT_HL7_PORT": "2600"}, "", True, 2600),
    ({}, "hl7_enabled = true\n", True, 2575),
    ({}, "hl7_port = 2601\n", True, 2601),
])
def test_the_listener_is_a_component_of_serve_only_when_configured(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str], toml: str,
        listening: bool, port: int) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = tmp_path / "strokealert.toml"
    config.write_text(toml)
    # load_settings names the file in the environment (for the processes serve starts);
    # monkeypatch takes it out again after the test.
    monkeypatch.setenv("STROKEALERT_CONFIG", str(config))
    settings = load_settings(config, data_dir=tmp_path)
    assert (settings.hl7_listening, settings.hl7_port) == (listening, port)
    service = Service.default(settings)
    try:
        listeners = [c for c in service.components if isinstance(c, MllpListener)]
        assert len(listeners) == int(listening)
        # Stored messages are purged whether or not the listener is on now.
        assert sum(isinstance(c, Hl7Retention) for c in service.components) == 1
    finally:
        service.engine.dispose()

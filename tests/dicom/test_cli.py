"""`strokealert serve`, `send` and `studies` as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select

from strokealert.db.models.ingest import Study
from strokealert.phantoms import series as syn

from .conftest import CLI, other_free_port, run_cli, storescu, wait_for, write_series


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _study_complete(database: Engine) -> bool:
    with database.connect() as conn:
        return conn.scalar(select(func.count()).select_from(Study)
                           .where(Study.completed_at.is_not(None))) == 1


def test_serve_receives_and_studies_reports(tmp_path: Path, free_port: int,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    env = {**os.environ, "STROKEALERT_DATA_DIR": str(tmp_path / "var"),
           "STROKEALERT_DICOM_PORT": str(free_port), "STROKEALERT_DICOM_HOST": "127.0.0.1",
           "STROKEALERT_SERIES_QUIET_S": "0.5", "STROKEALERT_STUDY_QUIET_S": "0.5",
           "STROKEALERT_HTTP_PORT": str(other_free_port()), "STROKEALERT_HTTP_HOST": "127.0.0.1",
           "STROKEALERT_WORKERS": "1"}  # the whole service starts; one analysis process will do
    env.pop("STROKEALERT_DATABASE_URL", None)
    study = syn.StudyInfo()
    write_series(tmp_path / "in", 5, study=study)
    server = subprocess.Popen([*CLI, "serve"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: _port_open(free_port) or server.poll() is not None, timeout_s=90)
        assert server.poll() is None
        assert storescu(free_port, tmp_path / "in").returncode == 0

        database = create_engine(f"sqlite:///{tmp_path / 'var' / 'strokealert.sqlite3'}")
        try:
            wait_for(lambda: _study_complete(database), timeout_s=20)
        finally:
            database.dispose()
        for name, value in env.items():
            if name.startswith("STROKEALERT_"):
                monkeypatch.setenv(name, value)
        monkeypatch.delenv("STROKEALERT_DATABASE_URL", raising=False)
        assert run_cli(monkeypatch, "studies", "--json") == 0
        text = capsys.readouterr().out
        payload = json.loads(text)
        assert payload["studies"][0]["study_instance_uid"] == study.study_instance_uid
        series = payload["studies"][0]["series"][0]
        assert (series["images"], series["expected"], series["complete"],
                series["completion_reason"], series["kind"]) == (5, 5, True, "count", "ncct")
        for phi in (study.patient.name, study.patient.patient_id, study.accession_number,
                    study.patient.birth_date):
            assert phi not in text
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=60)
    assert server.returncode == 0, output
    assert study.patient.name not in output  # the log names UIDs, never the patient


def test_send_exit_codes(tmp_path: Path, free_port: int, monkeypatch: pytest.MonkeyPatch,
                         capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(monkeypatch, "send", str(tmp_path / "nope"), "--port", str(free_port)) == 2
    assert capsys.readouterr().err.strip() == f"strokealert: no such file or folder: " \
        f"{tmp_path / 'nope'}"
    assert run_cli(monkeypatch, "serve", "--config", str(tmp_path / "none.toml")) == 2
    assert "config file not found" in capsys.readouterr().err
    write_series(tmp_path / "in", 1)
    assert run_cli(monkeypatch, "send", str(tmp_path / "in"), "--port", str(free_port)) == 1
    out = capsys.readouterr()
    assert "sent 0, failed 1" in out.out and "no association" in out.err

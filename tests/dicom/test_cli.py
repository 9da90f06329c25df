"""`strokealert serve`, `send` and `studies` as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from strokealert.dicom import synthetic as syn

from .conftest import CLI, storescu, wait_for, write_series


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_serve_receives_and_studies_reports(tmp_path: Path, free_port: int) -> None:
    env = {**os.environ, "STROKEALERT_DATA_DIR": str(tmp_path / "var"),
           "STROKEALERT_DICOM_PORT": str(free_port), "STROKEALERT_DICOM_HOST": "127.0.0.1",
           "STROKEALERT_SERIES_QUIET_S": "0.5", "STROKEALERT_STUDY_QUIET_S": "0.5"}
    env.pop("STROKEALERT_DATABASE_URL", None)
    study = syn.StudyInfo()
    write_series(tmp_path / "in", 5, study=study)
    server = subprocess.Popen([*CLI, "serve"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: _port_open(free_port) or server.poll() is not None, timeout_s=30)
        assert server.poll() is None
        assert storescu(free_port, tmp_path / "in").returncode == 0

        def report() -> dict:
            out = subprocess.run([*CLI, "studies", "--json"], env=env, capture_output=True,
                                 text=True, timeout=30)
            assert out.returncode == 0, out.stderr
            return json.loads(out.stdout)

        wait_for(lambda: (r := report())["studies"] and r["studies"][0]["complete"],
                 timeout_s=20)
        text = subprocess.run([*CLI, "studies", "--json"], env=env, capture_output=True,
                              text=True, timeout=30).stdout
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
        output, _ = server.communicate(timeout=20)
    assert server.returncode == 0, output
    assert study.patient.name not in output  # the log names UIDs, never the patient


def test_send_exit_codes(tmp_path: Path, free_port: int) -> None:
    missing = subprocess.run([*CLI, "send", str(tmp_path / "nope"), "--port", str(free_port)],
                             capture_output=True, text=True, timeout=30)
    assert missing.returncode == 2
    assert missing.stderr.strip().startswith("strokealert: no such file or folder")
    write_series(tmp_path / "in", 1)
    started = time.monotonic()
    nobody = subprocess.run([*CLI, "send", str(tmp_path / "in"), "--port", str(free_port)],
                            capture_output=True, text=True, timeout=60)
    assert nobody.returncode == 1
    assert "sent 0, failed 1" in nobody.stdout
    assert time.monotonic() - started < 30

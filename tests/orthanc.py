"""A real Orthanc (Debian ``/usr/sbin/Orthanc``) for tests: a PACS on free ports in a temp dir.

Use :func:`running_orthanc` as a context manager, or the ``orthanc`` fixture of
``tests/results/conftest.py``::

    with running_orthanc(tmp_path) as pacs:
        send(..., host="127.0.0.1", port=pacs.dicom_port, called_aet=pacs.aet)
        ids = pacs.instances()
        raw = pacs.instance_file(ids[0])     # DICOM Part 10 bytes
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ORTHANC_BINARY = "/usr/sbin/Orthanc"
START_TIMEOUT_S = 30.0


def orthanc_available() -> bool:
    """True when the Orthanc binary is installed."""
    return Path(ORTHANC_BINARY).is_file() or shutil.which("Orthanc") is not None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Orthanc:
    """A started Orthanc: its ports, AE title, folder, and a small REST client."""

    workdir: Path
    dicom_port: int
    http_port: int
    aet: str = "ORTHANC"
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def get(self, path: str) -> Any:
        """GET ``path`` of the REST API as JSON."""
        response = httpx.get(self.url + path, timeout=10.0)
        response.raise_for_status()
        return response.json()

    def instances(self) -> list[str]:
        """Orthanc ids of every stored instance."""
        return list(self.get("/instances"))

    def instance_file(self, orthanc_id: str) -> bytes:
        """The stored DICOM file of one instance (``/instances/<id>/file``)."""
        response = httpx.get(f"{self.url}/instances/{orthanc_id}/file", timeout=30.0)
        response.raise_for_status()
        return response.content

    def instance_tags(self, orthanc_id: str) -> dict[str, Any]:
        """``/instances/<id>/simplified-tags``."""
        return dict(self.get(f"/instances/{orthanc_id}/simplified-tags"))

    def log(self) -> str:
        path = self.workdir / "orthanc.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def write_config(workdir: Path, dicom_port: int, http_port: int, aet: str,
                 modalities: dict[str, list[Any]] | None = None) -> Path:
    """Orthanc's JSON configuration: storage in ``workdir``, no auth, any called AE."""
    config = {
        "Name": "strokealert-test-pacs",
        "StorageDirectory": str(workdir / "storage"),
        "IndexDirectory": str(workdir / "storage"),
        "DicomAet": aet,
        "DicomPort": dicom_port,
        "HttpPort": http_port,
        "HttpServerEnabled": True,
        "RemoteAccessAllowed": True,
        "AuthenticationEnabled": False,
        "DicomCheckCalledAet": False,
        "DicomAlwaysAllowStore": True,
        "DicomModalities": modalities or {},
        "Plugins": [],
        "SaveJobs": False,
        "StorageCompression": False,
        "ConcurrentJobs": 1,
    }
    path = workdir / "orthanc.json"
    path.write_text(json.dumps(config, indent=2))
    return path


def start_orthanc(workdir: Path, aet: str = "ORTHANC",
                  modalities: dict[str, list[Any]] | None = None) -> Orthanc:
    """Start Orthanc on free ports and wait until ``/system`` answers (3 tries on port races)."""
    workdir.mkdir(parents=True, exist_ok=True)
    last_error = ""
    for _ in range(3):
        server = Orthanc(workdir=workdir, dicom_port=_free_port(), http_port=_free_port(), aet=aet)
        config = write_config(workdir, server.dicom_port, server.http_port, aet, modalities)
        with (workdir / "orthanc.log").open("ab") as log:
            server.process = subprocess.Popen(
                [ORTHANC_BINARY, str(config)], stdout=log, stderr=subprocess.STDOUT,
                cwd=workdir)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and server.process.poll() is None:
            try:
                if server.get("/system").get("DicomAet") == aet:
                    return server
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.1)
        last_error = server.log()[-2000:]
        server.stop()
    raise RuntimeError(f"Orthanc did not start:\n{last_error}")


@contextmanager
def running_orthanc(workdir: Path, aet: str = "ORTHANC",
                    modalities: dict[str, list[Any]] | None = None) -> Iterator[Orthanc]:
    """An Orthanc for the duration of the ``with`` block."""
    server = start_orthanc(workdir, aet, modalities)
    try:
        yield server
    finally:
        server.stop()

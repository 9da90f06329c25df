"""A real ``strokealert serve`` for the receiver attacks, and what the tests measure on it."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pynetdicom import AE
from pynetdicom.sop_class import Verification

from strokealert.demo import free_port, running_service

SCANNERS = ["SCANNER", "CT1", "CT2", "CT3", "CT4", "CT5"]


@dataclass(frozen=True)
class Service:
    """A running service: its process, DICOM port and data folder."""

    proc: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log_path: Path

    def receiver_pid(self) -> int:
        """The process listening on the DICOM port (serve runs the ingest as a child)."""
        inode = _listening_inode(self.port)
        for pid in [self.proc.pid, *_descendants(self.proc.pid)]:
            fd_dir = Path(f"/proc/{pid}/fd")
            for fd in fd_dir.iterdir():
                try:
                    if fd.readlink().name == f"socket:[{inode}]":
                        return pid
                except OSError:
                    continue
        raise AssertionError(f"no process of the service listens on {self.port}")

    def receiver_rss_mb(self) -> float:
        """VmRSS of the receiver process (MB)."""
        status = Path(f"/proc/{self.receiver_pid()}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024


def _descendants(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    found = [int(child) for child in children]
    for child in list(found):
        found += _descendants(child)
    return found


def _listening_inode(port: int) -> str:
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":
            return fields[9]
    raise AssertionError(f"nothing listens on {port}")


@contextmanager
def serve(tmp_path: Path, **settings: str) -> Iterator[Service]:
    """``strokealert serve`` on loopback with the scanners allow-listed and short timeouts."""
    port = free_port()
    env = {"STROKEALERT_DATA_DIR": str(tmp_path / "var"), "STROKEALERT_DICOM_PORT": str(port),
           "STROKEALERT_DICOM_HOST": "127.0.0.1", "STROKEALERT_HTTP_PORT": str(free_port()),
           "STROKEALERT_HTTP_HOST": "127.0.0.1",
           "STROKEALERT_DICOM_ALLOWED_AETS": json.dumps(SCANNERS),
           "STROKEALERT_DICOM_ACSE_TIMEOUT_S": "3", "STROKEALERT_DICOM_NETWORK_TIMEOUT_S": "10"}
    env.update({f"STROKEALERT_{name.upper()}": value for name, value in settings.items()})
    log_path = tmp_path / "serve.log"
    with running_service(env, log_path) as proc:
        yield Service(proc, port, tmp_path / "var", log_path)


def echo(port: int, calling_aet: str = "SCANNER", tls_args: tuple | None = None) -> float:
    """A C-ECHO as ``calling_aet``; returns its seconds (association to release), raises if it
    is refused or fails."""
    ae = AE(ae_title=calling_aet)
    ae.add_requested_context(Verification)
    ae.acse_timeout = ae.network_timeout = ae.dimse_timeout = 30
    started = time.perf_counter()
    assoc = ae.associate("127.0.0.1", port, ae_title="STROKEALERT", tls_args=tls_args)
    assert assoc.is_established, f"association refused for {calling_aet}"
    status = assoc.send_c_echo()
    assoc.release()
    assert status.Status == 0x0000
    return time.perf_counter() - started


def closed_by_peer(sock: socket.socket, timeout_s: float) -> bytes | None:
    """Wait for the peer to close; returns what it sent before closing, None if still open."""
    sock.settimeout(0.2)
    received = b""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            continue
        except OSError:
            return received
        if not chunk:
            return received
        received += chunk
    return None

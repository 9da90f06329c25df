"""``make demo`` and ``strokealert serve`` on a signal: nothing left behind, loopback only.

The demo runs under the real ``timeout`` (which forwards SIGTERM to its child and its process
group, as when ``timeout -s TERM N make demo`` expires); ``serve`` gets SIGTERM alone, as from a
process supervisor. Processes and listening sockets are read from ``/proc``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from strokealert.demo import CLI, LOOPBACK, free_port, wait_for_port

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")

TCP_LISTEN = "0A"


def listening_addresses(port: int) -> set[str]:
    """IPv4/IPv6 addresses with a socket listening on ``port`` (from /proc/net/tcp{,6})."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if fields[3] == TCP_LISTEN and int(port_hex, 16) == port and len(address) == width:
                found.add(_address(address))
    return found


def _address(hex_address: str) -> str:
    """``0100007F`` → ``127.0.0.1``; IPv6 words shown as they are (only ever compared)."""
    if len(hex_address) == 8:
        return ".".join(str(b) for b in reversed(bytes.fromhex(hex_address)))
    return hex_address


def descendants(root: int) -> dict[int, str]:
    """Every live process below ``root``: pid → command line."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: dict[int, str] = {}
    stack = [root]
    while stack:
        for pid in children.get(stack.pop(), []):
            found[pid] = _cmdline(pid)
            stack.append(pid)
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def alive(pid: int, cmdline: str) -> bool:
    """``pid`` still runs the same program (not a zombie, not a reused pid)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z" and _cmdline(pid) == cmdline


def wait_gone(processes: dict[int, str], timeout_s: float) -> list[str]:
    """Wait until none of ``processes`` is alive; the command lines of those still alive."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        left = [cmd for pid, cmd in processes.items() if alive(pid, cmd)]
        if not left:
            return []
        time.sleep(0.2)
    return left


def _ports_env(tmp_path: Path) -> tuple[int, int, dict[str, str]]:
    http_port, dicom_port = free_port(), free_port()
    env = {**os.environ, "STROKEALERT_HTTP_PORT": str(http_port),
           "STROKEALERT_DICOM_PORT": str(dicom_port)}
    for name in ("STROKEALERT_DATABASE_URL", "STROKEALERT_CONFIG", "STROKEALERT_HTTP_HOST",
                 "STROKEALERT_DICOM_HOST", "STROKEALERT_WEBHOOK_URL"):
        env.pop(name, None)
    return http_port, dicom_port, env


def test_demo_stopped_by_timeout_leaves_no_process_and_frees_its_ports(tmp_path: Path) -> None:
    http_port, dicom_port, env = _ports_env(tmp_path)
    log = (tmp_path / "demo.out").open("wb")
    timer = subprocess.Popen(["timeout", "-s", "TERM", "900", sys.executable, "-m",
                              "strokealert.demo"], cwd=tmp_path, env=env, stdout=log,
                             stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_port(dicom_port, 300, timer)
        wait_for_port(http_port, 60, timer)
        assert listening_addresses(http_port) == {"127.0.0.1"}
        assert listening_addresses(dicom_port) == {"127.0.0.1"}
        processes = descendants(timer.pid)
        serve = [cmd for cmd in processes.values() if cmd.endswith("-m strokealert serve")]
        assert serve, processes
        assert len(processes) >= 3  # the demo, serve, and serve's ingest child at least
        timer.send_signal(signal.SIGTERM)  # what `timeout` does when its time is up
        assert timer.wait(timeout=90) == 0  # the demo stopped cleanly
    finally:
        if timer.poll() is None:
            os.killpg(timer.pid, signal.SIGKILL)
        log.close()
    assert wait_gone(processes, 15) == []
    assert listening_addresses(http_port) == set()
    assert listening_addresses(dicom_port) == set()
    output = (tmp_path / "demo.out").read_text()
    assert "stopped (SIGTERM)" in output and "Traceback" not in output, output


def test_serve_stops_its_ingest_child_on_sigterm(tmp_path: Path) -> None:
    http_port, dicom_port, env = _ports_env(tmp_path)
    env = {**env, **LOOPBACK, "STROKEALERT_DATA_DIR": str(tmp_path / "data")}
    with (tmp_path / "serve.log").open("wb") as log:
        serve = subprocess.Popen([*CLI, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    try:
        wait_for_port(dicom_port, 120, serve)
        wait_for_port(http_port, 60, serve)
        children = descendants(serve.pid)
        assert any("multiprocessing" in cmd for cmd in children.values()), children
        serve.send_signal(signal.SIGTERM)  # to serve alone, not to its group
        assert serve.wait(timeout=60) == 0
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGKILL)
    assert wait_gone(children, 15) == []
    assert listening_addresses(http_port) == set()
    assert listening_addresses(dicom_port) == set()

"""``make demo``: start the service on embedded defaults, send a synthetic stroke study over
DICOM, print the alert as the stroke team receives it, and leave the dashboard running.

The demo listens on 127.0.0.1 only (DICOM and HTTP). SIGINT, SIGTERM and SIGHUP (Ctrl-C,
``timeout``, a closed terminal) stop it cleanly: the service, in a process group of its own, is
stopped with everything it started, so its ports are free again.

The helpers here (start the service, wait for its ports, catch its webhook alerts) are also
used by the end-to-end tests and ``bench/e2e.py``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any

from notifications.signing import SIGNATURE_HEADER, verify_body
from strokealert import NOT_A_MEDICAL_DEVICE

CLI = [sys.executable, "-m", "strokealert"]
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
LOOPBACK = {"STROKEALERT_HTTP_HOST": "127.0.0.1", "STROKEALERT_DICOM_HOST": "127.0.0.1"}
SERVICE_STOP_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout_s: float = 60.0, proc: subprocess.Popen[bytes] | None = None
                  ) -> None:
    """Block until something accepts TCP connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"service exited with status {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on port {port} after {timeout_s:.0f} s")


class WebhookInbox:
    """A loopback receiver of ``strokealert.alert/1`` webhooks that checks their signature
    (and its timestamp, within the default replay window); anything else gets HTTP 401."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.alerts: list[dict[str, Any]] = []
        self.received_at: list[float] = []
        self._cond = threading.Condition()
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if not verify_body(inbox.secret, body, self.headers.get(SIGNATURE_HEADER),
                                   now=time.time()):
                    self.send_response(401)
                    self.end_headers()
                    return
                with inbox._cond:
                    inbox.alerts.append(json.loads(body))
                    inbox.received_at.append(time.time())
                    inbox._cond.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count: int, timeout_s: float) -> list[dict[str, Any]]:
        """Wait until ``count`` alerts have arrived (or the timeout); returns them all."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while len(self.alerts) < count and time.monotonic() < deadline:
                self._cond.wait(timeout=max(0.0, deadline - time.monotonic()))
            return list(self.alerts)

    def close(self) -> None:
        self.server.shutdown()


@contextmanager
def running_service(env: Mapping[str, str], log_path: Path,
                    timeout_s: float = 120.0) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``strokealert serve`` with ``env`` until the block ends; waits for both ports.

    It listens on 127.0.0.1 unless ``env`` names other hosts. It runs in a process group of
    its own; leaving the block (normally or by an exception) stops that whole group.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([*CLI, "serve"], env={**os.environ, **LOOPBACK, **env},
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for_port(int(env.get("STROKEALERT_DICOM_PORT", "11112")), timeout_s, proc)
            wait_for_port(int(env.get("STROKEALERT_HTTP_PORT", "8000")), timeout_s, proc)
            yield proc
        finally:
            stop_process_group(proc)


def stop_process_group(proc: subprocess.Popen[bytes],
                       timeout_s: float = SERVICE_STOP_TIMEOUT_S) -> None:
    """SIGTERM to ``proc`` (a process-group leader, which stops its own children first), wait
    up to ``timeout_s`` seconds, then SIGKILL whatever is left in its group. Stop signals
    that arrive meanwhile are held until the group is gone."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:  # the group is empty: everything stopped by itself
            pass
        proc.wait()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


class StopRequested(Exception):
    """A stop signal (SIGINT, SIGTERM, SIGHUP) reached the demo."""


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    raise StopRequested(signal.Signals(signum).name)


def make_study(out_dir: Path, seed: int = 7, small: bool = False, now: bool = False) -> Path:
    """A synthetic stroke study (left M1 occlusion, core and penumbra) as DICOM files;
    ``now``: acquired now (the headers' times), so its scan-to-alert interval is real."""
    args = [*CLI, "phantom", "study", str(out_dir), "--seed", str(seed)]
    if small:
        args.append("--small")
    if now:
        args.append("--now")
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    return out_dir


def send_study(study_dir: Path, port: int, calling_aet: str = "CT_SCANNER") -> None:
    """Send every file under ``study_dir`` with ``strokealert send`` (C-STORE)."""
    subprocess.run([*CLI, "send", str(study_dir), "--host", "127.0.0.1", "--port", str(port),
                    "--aet", calling_aet], check=True, capture_output=True)


def show_alert(alert: Mapping[str, Any]) -> str:
    """The alert as the lock screen of a phone shows it."""
    return (f"  [{alert['level'].upper()}] {alert['title']}\n"
            f"  {alert['body']}\n"
            f"  {alert['site']} · {alert['created_at']} · {alert['kind']}\n"
            f"  {alert['url']}")


def main() -> None:
    """Run the demo until a stop signal; exits 0 after a clean stop."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, _raise_stop)
    try:
        run_demo(Path("var/demo").resolve())
    except StopRequested as stop:
        print(f"\nstopped ({stop})")


def run_demo(root: Path) -> None:
    """Everything ``make demo`` shows, under ``root``; returns when the service exits."""
    data_dir = root / "data"
    study_dir = root / "study"
    secret = secrets.token_hex(16)
    inbox = WebhookInbox(secret)
    http_port = int(os.environ.get("STROKEALERT_HTTP_PORT", "8000"))
    dicom_port = int(os.environ.get("STROKEALERT_DICOM_PORT", "11112"))
    env = {
        **LOOPBACK,
        "STROKEALERT_DATA_DIR": str(data_dir),
        "STROKEALERT_HTTP_PORT": str(http_port),
        "STROKEALERT_DICOM_PORT": str(dicom_port),
        "STROKEALERT_PUBLIC_URL": f"http://localhost:{http_port}",
        "STROKEALERT_WEBHOOK_URL": inbox.url,
        "STROKEALERT_WEBHOOK_SECRET": secret,
        "STROKEALERT_SERIES_QUIET_S": "2",
    }
    full_env = {**os.environ, **env}
    print(NOT_A_MEDICAL_DEVICE)
    if data_dir.exists():
        shutil.rmtree(data_dir)
    subprocess.run([*CLI, "db", "upgrade"], env=full_env, check=True, capture_output=True)
    password = secrets.token_urlsafe(9)
    subprocess.run([*CLI, "user", "add", "demo", "--role", "admin", "--password-stdin"],
                   env=full_env, input=password.encode(), check=True, capture_output=True)
    if study_dir.exists():
        shutil.rmtree(study_dir)
    print("generating a synthetic stroke study (CTA + CT perfusion), acquired now ...")
    make_study(study_dir, small=True, now=True)
    try:
        with running_service(env, root / "serve.log") as proc:
            print(f"strokealert is listening on 127.0.0.1: DICOM {dicom_port} "
                  f"(AE STROKEALERT), HTTP {http_port}")
            started = time.time()
            send_study(study_dir, dicom_port)
            sent = time.time()
            print(f"sent {sum(1 for _ in study_dir.rglob('*.dcm'))} images "
                  f"in {sent - started:.1f} s")
            first = inbox.wait(1, 180)
            if not first:
                print("no alert arrived within 3 minutes; see", root / "serve.log")
            for index, alert in enumerate(inbox.wait(2, 120)):
                arrived = inbox.received_at[index]
                when = (f"{arrived - sent:.1f} s after the last image" if arrived >= sent else
                        f"{arrived - started:.1f} s after the first image, while the CT "
                        "perfusion was still arriving")
                print(f"\n{'alert' if index == 0 else 'update'} on the stroke team's phones, "
                      f"{when}:")
                print(show_alert(alert))
            print(f"\ndashboard: http://localhost:{http_port}/  login: demo / {password}")
            print("press Ctrl-C to stop")
            proc.wait()
    finally:
        inbox.close()


if __name__ == "__main__":
    main()

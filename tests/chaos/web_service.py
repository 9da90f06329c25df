"""A real ``strokealert serve`` on PostgreSQL for the web chaos tests: users added with the
``strokealert user add`` command, logins through the form, and the service's log at hand."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from strokealert.demo import CLI, free_port, running_service

PASSWORD = "correct horse battery"


@dataclass
class Served:
    """A running service: its addresses, environment and log file."""

    base_url: str
    dicom_port: int
    env: dict[str, str]
    log_path: Path

    @contextmanager
    def client(self, username: str | None = None, csrf: bool = False) -> Iterator[httpx.Client]:
        """An HTTP client, logged in as ``username`` through the form when given, sending the
        session's CSRF token on every request with ``csrf``."""
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
            if username is not None:
                login(client, username)
            if csrf:
                token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/").text)
                assert token is not None
                client.headers["X-CSRF-Token"] = token.group(1)
            yield client

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def login(client: httpx.Client, username: str, password: str = PASSWORD) -> httpx.Response:
    """Log in through the form (its CSRF token first); the answer (303 when right)."""
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None, page.text[:300]
    done = client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token.group(1)})
    if password == PASSWORD:
        assert done.status_code == 303, done.text[:300]
    return done


def add_user(env: dict[str, str], username: str, role: str) -> None:
    subprocess.run([*CLI, "user", "add", username, "--role", role, "--password-stdin"],
                   input=PASSWORD + "\n", env=env, check=True, capture_output=True, text=True,
                   timeout=120)


@contextmanager
def web_service(root: Path, database_url: str, users: dict[str, str],
                **settings: str) -> Iterator[Served]:
    """``strokealert serve`` on 127.0.0.1 (free ports) with ``users`` (name → role) and the
    extra ``STROKEALERT_<NAME>`` ``settings``; stopped when the block ends."""
    dicom_port, http_port = free_port(), free_port()
    env = {**os.environ,
           "STROKEALERT_DATA_DIR": str(root / "data"),
           "STROKEALERT_DATABASE_URL": database_url,
           "STROKEALERT_DICOM_PORT": str(dicom_port),
           "STROKEALERT_HTTP_PORT": str(http_port),
           "STROKEALERT_HTTP_HOST": "127.0.0.1",
           "STROKEALERT_PUBLIC_URL": f"http://127.0.0.1:{http_port}",
           "STROKEALERT_SECRET_KEY": "chaos-web-key",
           **{f"STROKEALERT_{name.upper()}": value for name, value in settings.items()}}
    for username, role in users.items():
        add_user(env, username, role)
    log_path = root / "serve.log"
    with running_service(env, log_path):
        yield Served(f"http://127.0.0.1:{http_port}", dicom_port, env, log_path)

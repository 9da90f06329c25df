"""Shared helpers of the web/API tests: an app on a fresh database, users, logins, cases."""

from __future__ import annotations

import json
import queue
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from strokealert import db
from strokealert.api.app import create_app
from strokealert.api.services.users import add_user
from strokealert.cases import upsert_case_from_analysis
from strokealert.config import Settings
from strokealert.db.models.cases import Case

PASSWORD = "correct horse battery"
ROLES = ("stroke_team", "radiologist", "coordinator", "admin")


@dataclass
class Env:
    settings: Settings
    factory: sessionmaker[Session]
    app: FastAPI


def make_env(data_dir: Path, url: str | None = None, **overrides: Any) -> Env:
    settings = Settings(data_dir=data_dir, database_url=url, secret_key="k" * 32,
                        timezone=overrides.pop("timezone", "America/New_York"), **overrides)
    db.upgrade(settings.resolved_database_url)
    factory = db.make_session_factory(db.make_engine(settings.resolved_database_url))
    with factory.begin() as session:
        for role in ROLES:
            add_user(session, role, role, PASSWORD, display_name=f"Dr {role.title()}")
    return Env(settings, factory, create_app(settings, factory))


def analysis(uid: str, level: str = "critical", core: float = 21.0) -> dict[str, Any]:
    """A ``strokealert.analysis/1`` result as the pipeline writes it."""
    return {
        "schema": "strokealert.analysis/1", "study_instance_uid": uid, "series": [],
        "perfusion": {"status": "ok", "error": None, "core_ml": core,
                      "hypoperfusion_ml": {"tmax4": 140.0, "tmax6": 102.0, "tmax8": 70.0,
                                           "tmax10": 35.0},
                      "mismatch_ml": 81.0, "mismatch_ratio": 4.8, "hir": 0.34, "side": "left",
                      "defuse3_eligible": True, "maps": {}, "key_images": []},
        "lvo": {"status": "ok", "error": None, "probability": 0.97, "suspected": True,
                "threshold": 0.5, "side": "left", "site": "M1", "model": "demo@1",
                "key_images": []},
        "alert": {"level": level, "reasons": ["LVO suspected: left M1 (p=0.97)"],
                  "rules": ["lvo_suspected"]},
        "timings_s": {"total": 10.0},
    }


def new_case(factory: sessionmaker[Session], uid: str, level: str = "critical",
             **timeline: Any) -> str:
    """A case as the pipeline creates it, then timeline (or other) columns set by hand."""
    with factory.begin() as session:
        result = analysis(uid, level)
        if level != "critical":
            result["alert"]["reasons"] = {"warning": ["Large core: 84 mL"],
                                          "manual_review": ["CTA needs manual review: motion"],
                                          "none": []}[level]
        case = upsert_case_from_analysis(session, study=None, result=result)
        for name, value in timeline.items():
            setattr(case, name, value)
        return case.id


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns the session's CSRF token."""
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303, response.text[:200]
    home = client.get("/")
    return re.search(r'name="csrf-token" content="([^"]+)"', home.text).group(1)


def get_case(factory: sessionmaker[Session], case_id: str) -> Case:
    with factory() as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case


@contextmanager
def event_stream(client: httpx.Client) -> Iterator[tuple[int, queue.Queue[dict[str, Any]]]]:
    """``/events`` opened with a logged-in real-HTTP ``client``: its status and a queue that a
    thread fills with the data of each ``case`` event, until the block ends."""
    events: queue.Queue[dict[str, Any]] = queue.Queue()
    with client.stream("GET", "/events") as response:
        def read() -> None:
            try:
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        events.put(json.loads(line[6:]))
            except httpx.HTTPError:
                return

        if response.status_code == 200:
            threading.Thread(target=read, name="sse-reader", daemon=True).start()
        try:
            yield response.status_code, events
        finally:
            # Hang up as a closing browser tab does: a plain close() would wait for the reader
            # thread's blocked recv() (until the next keep-alive) before the FIN goes out.
            network = response.extensions.get("network_stream")
            sock = network.get_extra_info("socket") if network is not None else None
            if sock is not None:
                with suppress(OSError):  # already closed (the server ended the stream)
                    sock.shutdown(socket.SHUT_RDWR)

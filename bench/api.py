"""Worklist and case-viewer latency with 10,000 cases in PostgreSQL (target p95 ≤ 100 ms).

    .venv/bin/python bench/api.py [--cases 10000] [--requests 200]

Creates a throw-away database on the test PostgreSQL, fills it through the same helper the
pipeline uses (bulk), serves the app with uvicorn on a free port and times real HTTP requests
(logged-in session) for ``/`` (worklist page), ``/api/cases`` and ``/cases/<id>`` (viewer page,
one audited PHI view each). Prints p50/p95 per endpoint, the median of 3 rounds. With
``--streams N``, N live worklist streams (``/events``, server-sent events) stay open meanwhile.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from strokealert import db  # noqa: E402
from strokealert.api.server import WebComponent  # noqa: E402
from strokealert.api.services.users import add_user  # noqa: E402
from strokealert.cases import URGENCY  # noqa: E402
from strokealert.config import Settings  # noqa: E402
from strokealert.db.models.cases import Case  # noqa: E402
from tests.api.helpers import analysis  # noqa: E402

ADMIN_URL = os.environ.get("STROKEALERT_TEST_POSTGRES_URL",
                           "postgresql+psycopg://postgres@127.0.0.1:5432/test")
LEVELS = ("critical", "warning", "manual_review", "none")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fill(factory, n: int) -> list[str]:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    ids = []
    rows = []
    for i in range(n):
        level = LEVELS[i % 4]
        created = now - timedelta(minutes=37 * i)
        case_id = str(uuid.uuid4())
        ids.append(case_id)
        rows.append({"id": case_id, "study_instance_uid": f"2.25.{i}", "site": "Main campus CT",
                     "created_at": created, "updated_at": created, "status": "analyzed",
                     "alert_level": level, "urgency": URGENCY[level],
                     "title": "LVO suspected: left M1", "summary": "Core 21 mL",
                     "result_json": analysis(f"2.25.{i}", level), "key_images": [],
                     "map_files": {}, "transfer": i % 10 == 0, "patient_name": f"DOE^{i}",
                     "arrival_at": created - timedelta(minutes=20),
                     "needle_at": created + timedelta(minutes=25) if i % 3 == 0 else None})
    with factory.begin() as session:
        for start in range(0, n, 2000):
            session.execute(insert(Case), rows[start:start + 2000])
        add_user(session, "bench", "admin", "bench password")
    return ids


def percentiles(samples: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(samples, n=20, method="inclusive")
    return statistics.median(samples), q[18]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--streams", type=int, default=0,
                        help="live worklist streams held open while timing")
    args = parser.parse_args()
    name = f"sa_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(data_dir=Path(tmp), database_url=url, secret_key="b" * 32,
                                web_max_streams_per_user=max(8, args.streams))
            db.upgrade(url)
            engine = db.make_engine(url, pool_size=10)
            factory = db.make_session_factory(engine)
            started = time.perf_counter()
            ids = fill(factory, args.cases)
            with engine.connect() as conn:
                conn.execute(text("ANALYZE"))
            print(f"{args.cases} cases inserted in {time.perf_counter() - started:.1f} s")
            port = free_port()
            web = WebComponent(settings, factory, port=port)
            web.start()
            try:
                run(f"http://127.0.0.1:{port}", ids, args.requests, args.streams)
            finally:
                web.stop()
            engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :n"), {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def run(base: str, ids: list[str], requests: int, streams: int) -> None:
    with httpx.Client(base_url=base, timeout=30) as client, ExitStack() as open_streams:
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        client.post("/login", data={"username": "bench", "password": "bench password",
                                    "csrf_token": token})
        endpoints = {"worklist page  GET /": lambda i: "/",
                     "worklist API   GET /api/cases": lambda i: "/api/cases",
                     "case viewer    GET /cases/<id>": lambda i: f"/cases/{ids[i * 37 % len(ids)]}"}
        for _ in range(streams):
            stream = open_streams.enter_context(client.stream("GET", "/events"))
            assert stream.status_code == 200
        for path in ("/", "/api/cases", f"/cases/{ids[0]}"):
            assert client.get(path).status_code == 200, path
        results: dict[str, list[tuple[float, float]]] = {k: [] for k in endpoints}
        for _round in range(3):
            for label, path_of in endpoints.items():
                samples = []
                for i in range(requests):
                    t0 = time.perf_counter()
                    response = client.get(path_of(i))
                    samples.append((time.perf_counter() - t0) * 1000)
                    assert response.status_code == 200
                results[label].append(percentiles(samples))
    print(f"{'endpoint':<34} {'p50 ms':>8} {'p95 ms':>8}  target p95 <= 100 ms "
          f"(median of 3 rounds x {requests} requests, {len(ids)} cases, {streams} open "
          "streams)")
    for label, rounds in results.items():
        p50 = statistics.median(r[0] for r in rounds)
        p95 = statistics.median(r[1] for r in rounds)
        verdict = "ok" if p95 <= 100 else "SLOW"
        print(f"{label:<34} {p50:8.1f} {p95:8.1f}  {verdict}")


if __name__ == "__main__":
    main()

"""HL7 MLLP throughput: messages per second with their ACK, and ACK latency (p50, p99).

    .venv/bin/python bench/hl7.py [--patients 200] [--connections 1 4] [--runs 3] [--sqlite]

Runs the listener of ``strokealert serve`` (``strokealert.hl7``: store raw, apply, commit, then
ACK) on a free port over a throw-away PostgreSQL database (or SQLite with ``--sqlite``), and
sends code strokes (per patient: ADT^A04 arrival opening a case, RAS^O17 tenecteplase, ORM^O01
thrombectomy) from N connections at once with the ``hl7`` package's ``MLLPClient``, each
message waiting for its ACK as senders do. Every ACK must be AA. Prints one row per
connection count: the median of ``--runs`` runs (a fresh database each).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

# This file is named hl7.py: its own folder must not shadow the hl7 package.
HERE = Path(__file__).resolve().parent
sys.path[:] = [str(HERE.parent), *(p for p in sys.path if Path(p or ".").resolve() != HERE)]

from hl7.client import MLLPClient  # noqa: E402

from strokealert import db  # noqa: E402
from strokealert.config import load_settings  # noqa: E402
from strokealert.hl7.mllp import MllpListener  # noqa: E402
from strokealert.hl7.receive import Receiver  # noqa: E402
from tests.hl7.mllp_client import message  # noqa: E402

ADMIN_URL = os.environ.get("STROKEALERT_TEST_POSTGRES_URL",
                           "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TEMPLATES = [message("code_stroke.hl7", i).replace("\n", "\r").strip("\r") for i in range(3)]


def code_stroke(patient: int, run: str) -> list[str]:
    """The three messages of one patient's code stroke, with their own ids."""
    return [t.replace("MRN4711", f"MRN{run}{patient}").replace("VN0815", f"VN{run}{patient}")
            .replace("|CS000", f"|{run}-{patient}-") for t in TEMPLATES]


def send_all(port: int, messages: list[str], latencies: list[float]) -> None:
    with MLLPClient("127.0.0.1", port) as client:
        for text_ in messages:
            start = time.perf_counter()
            ack = client.send_message(text_)
            latencies.append(time.perf_counter() - start)
            if b"MSA|AA|" not in ack:
                raise RuntimeError(f"not accepted: {ack!r}")


def one_run(url: str, patients: int, connections: int, data_dir: Path) -> tuple[float, float,
                                                                                  float]:
    """(messages/s, p50 ms, p99 ms) of one run on the migrated database ``url``."""
    settings = load_settings(data_dir=data_dir, database_url=url, hl7_host="127.0.0.1",
                             hl7_port=0, timezone="America/New_York")
    engine = db.make_engine(url)
    listener = MllpListener(settings, Receiver(settings, db.make_session_factory(engine)))
    listener.start()
    run = uuid.uuid4().hex[:6]
    per_connection: list[list[str]] = [[] for _ in range(connections)]
    for patient in range(patients):
        per_connection[patient % connections] += code_stroke(patient, run)
    latencies: list[list[float]] = [[] for _ in range(connections)]
    threads = [threading.Thread(target=send_all, args=(listener.port, msgs, lat))
               for msgs, lat in zip(per_connection, latencies, strict=True)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    listener.stop()
    engine.dispose()
    flat = sorted(x for lat in latencies for x in lat)
    if len(flat) != patients * 3:
        raise RuntimeError(f"{len(flat)} of {patients * 3} messages acknowledged")
    p99 = flat[min(len(flat) - 1, int(0.99 * len(flat)))]
    return len(flat) / elapsed, statistics.median(flat) * 1000, p99 * 1000


def fresh_database(sqlite: bool, folder: Path) -> tuple[str, str | None]:
    """A migrated database: (url, PostgreSQL database name to drop, if any)."""
    if sqlite:
        url = f"sqlite:///{folder / f'{uuid.uuid4().hex}.sqlite3'}"
        db.upgrade(url)
        return url, None
    name = f"sa_bench_hl7_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    db.upgrade(url)
    return url, name


def drop_database(name: str) -> None:
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--patients", type=int, default=200, help="code strokes per run")
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    args = parser.parse_args()
    print(f"HL7 MLLP listener, {args.patients} code strokes x 3 messages per run, "
          f"{'SQLite' if args.sqlite else 'PostgreSQL'}, median of {args.runs} runs")
    print(f"{'connections':>11} | {'messages':>8} | {'msg/s':>7} | {'p50 ms':>7} | {'p99 ms':>7}")
    print("-" * 53)
    with tempfile.TemporaryDirectory(prefix="sa-bench-hl7-") as tmp:
        for connections in args.connections:
            results = []
            for _ in range(args.runs):
                url, name = fresh_database(args.sqlite, Path(tmp))
                try:
                    results.append(one_run(url, args.patients, connections, Path(tmp)))
                finally:
                    if name:
                        drop_database(name)
            rate, p50, p99 = (statistics.median(r[i] for r in results) for i in range(3))
            print(f"{connections:>11} | {args.patients * 3:>8} | {rate:>7.0f} | {p50:>7.1f} | "
                  f"{p99:>7.1f}")


if __name__ == "__main__":
    main()

"""End-to-end benchmark: full stroke studies from the scanner to the first provider request.

    .venv/bin/python bench/e2e.py [--studies 5] [--small] [--keep DIR] [--postgres ADMIN_URL]

Generates ``--studies`` synthetic stroke studies (left M1 occlusion + CTP core/penumbra; full
size: CTA 512×512×~320 at 0.625 mm, CTP 512×512 × 16 × 40), starts ``strokealert serve`` on
embedded defaults (SQLite, local executor, webhook channel to a loopback receiver; with
``--postgres postgresql+psycopg://user@host/db`` on a fresh PostgreSQL database created through
that URL and dropped afterwards), sends each study with DCMTK ``storescu`` (TCP_NODELAY=1), one
after another, and prints per study:

- last image → first alert request (the webhook POST reaching the provider side), and
  → the perfusion update;
- the breakdown from the study's timeline: completion wait (last image of the series →
  completion event), LVO and perfusion analysis (load included), decision + notify.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# bench/perfusion.py would shadow the perfusion package when this runs as a script; the
# repository root gives tests.dcmtk.
HERE = Path(__file__).resolve().parent
sys.path[:] = [str(HERE.parent), *(p for p in sys.path if Path(p or ".").resolve() != HERE)]

from sqlalchemy import create_engine, select, text  # noqa: E402

from strokealert.db.models.cases import Case  # noqa: E402
from strokealert.db.models.pipeline import StageEvent  # noqa: E402
from strokealert.demo import WebhookInbox, free_port, running_service  # noqa: E402
from strokealert.phantoms.study import write_study  # noqa: E402
from tests import dcmtk  # noqa: E402


def send(folder: Path, port: int) -> float:
    """storescu the whole study; returns the time the last image was acknowledged."""
    subprocess.run([dcmtk.storescu(), "-aet", "CT_SCANNER", "-aec", "STROKEALERT", "-pdu", "131072",
                    "+sd", "+r", "+sp", "*.dcm", "127.0.0.1", str(port), str(folder)],
                   env={**os.environ, "TCP_NODELAY": "1"}, check=True, capture_output=True)
    return time.time()


def timeline(engine, study_uid: str) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Seconds since the epoch of the stages, and analysis durations, for one study."""
    with engine.connect() as conn:
        rows = conn.execute(select(StageEvent.stage, StageEvent.at, StageEvent.detail)
                            .where(StageEvent.study_instance_uid == study_uid)
                            .order_by(StageEvent.at)).all()
    marks: dict[str, float] = {}
    for stage, at, detail in rows:
        detail = detail or {}
        key = stage
        if stage == "analysed":
            key = f"analysed_{detail.get('kind')}"
            marks[f"{key}_s"] = float(detail.get("seconds", 0.0))
        elif stage == "alerted":
            key = f"alerted_{detail.get('kind')}"
        elif stage == "series_complete":
            key = f"complete_{len([k for k in marks if k.startswith('complete_')])}"
        marks.setdefault(key, at.timestamp() if at.tzinfo else at.timestamp())
    return marks


@contextmanager
def database(admin_url: str | None, data_dir: Path) -> Iterator[str]:
    """The service's database URL: SQLite in the data dir, or a fresh PostgreSQL database."""
    if admin_url is None:
        yield f"sqlite:///{data_dir / 'strokealert.sqlite3'}"
        return
    name = f"strokealert_e2e_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :name"), {"name": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", type=int, default=5)
    parser.add_argument("--small", action="store_true", help="reduced matrices")
    parser.add_argument("--keep", type=Path, help="work folder to keep (default: temporary)")
    parser.add_argument("--postgres", metavar="ADMIN_URL",
                        help="run on a fresh PostgreSQL database created through this URL")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="strokealert-e2e-"))
    print(f"generating {args.studies} {'small' if args.small else 'full-size'} studies in {work}")
    studies = []
    for index in range(args.studies):
        folder = work / f"study{index}"
        if not (folder / "truth.json").exists():
            write_study(folder, seed=100 + index, small=args.small)
        truth = json.loads((folder / "truth.json").read_text())
        studies.append((folder, truth))

    secret = secrets.token_hex(8)
    inbox = WebhookInbox(secret)
    dicom_port, http_port = free_port(), free_port()
    data_dir = work / "data"
    env = {"STROKEALERT_DATA_DIR": str(data_dir), "STROKEALERT_DICOM_PORT": str(dicom_port),
           "STROKEALERT_HTTP_PORT": str(http_port), "STROKEALERT_HTTP_HOST": "127.0.0.1",
           "STROKEALERT_WEBHOOK_URL": inbox.url, "STROKEALERT_WEBHOOK_SECRET": secret,
           "STROKEALERT_SECRET_KEY": secret}
    rows = []
    with database(args.postgres, data_dir) as url, \
            running_service({**env, "STROKEALERT_DATABASE_URL": url}, work / "serve.log"):
        print(f"database: {url.split('://', 1)[0]}")
        engine = create_engine(url)
        for folder, truth in studies:
            before = len(inbox.alerts)
            started = time.time()
            last_image = send(folder, dicom_port)
            inbox.wait(before + 2, 300)
            time.sleep(1)
            with engine.connect() as conn:
                case_id = conn.scalar(select(Case.id).where(
                    Case.study_instance_uid == truth["study_instance_uid"]))
            arrivals = [(a, t) for a, t in zip(inbox.alerts, inbox.received_at, strict=True)
                        if a["case_id"] == case_id]
            marks = timeline(engine, truth["study_instance_uid"])
            first = arrivals[0][1] if arrivals else float("nan")
            second = arrivals[1][1] if len(arrivals) > 1 else float("nan")
            completes = sorted(v for k, v in marks.items() if k.startswith("complete_"))
            alerted = marks.get("alerted_new", float("nan"))
            rows.append({
                "study": folder.name, "send_s": last_image - started,
                "first_alert_s": first - last_image, "update_s": second - last_image,
                "title": arrivals[0][0]["title"] if arrivals else "(none)",
                "completion_wait_s": (completes[-1] - last_image) if completes else float("nan"),
                "lvo_s": marks.get("analysed_lvo_s", float("nan")),
                "perfusion_s": marks.get("analysed_perfusion_s", float("nan")),
                "decision_notify_s": first - alerted,
            })
        engine.dispose()
    inbox.close()

    cols = ["send_s", "first_alert_s", "update_s", "completion_wait_s", "lvo_s", "perfusion_s",
            "decision_notify_s"]
    print(f"\n{'study':8} " + " ".join(f"{c:>17}" for c in cols) + "  first alert")
    for row in rows:
        print(f"{row['study']:8} " + " ".join(f"{row[c]:17.2f}" for c in cols)
              + f"  {row['title']}")
    for name, fn in (("median", statistics.median), ("max", max)):
        print(f"{name:8} " + " ".join(f"{fn([r[c] for r in rows]):17.2f}" for c in cols))
    print("\nfirst_alert_s: last image acknowledged → first alert request at the provider "
          "(target median ≤ 30 s); update_s: → perfusion update.")
    print("completion_wait_s: last image → last series completion event; lvo_s/perfusion_s:"
          " analysis incl. loading; decision_notify_s: alert commit → provider request.")


if __name__ == "__main__":
    main()

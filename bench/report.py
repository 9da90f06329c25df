"""Door-to-needle measures for the demo case and a generated cohort, printed as tables.

    .venv/bin/python bench/report.py [--cases 500] [--seed 16] [--no-demo]

Demo: runs what ``make demo`` runs (``strokealert serve`` on embedded defaults, a synthetic
study sent over DICOM) twice in one service: the study dated now (``phantom study --now``, what
the demo sends) and the same study with the phantom's fixed 2026-03-14 date (what the demo sent
before), and prints each case's scan-to-alert and data-quality flags.

Cohort: ``--cases`` generated cases (diagnosis mix, ages, in-hospital strokes, transfers,
last-known-well delays, alteplase / tenecteplase, documented reasons, thrombectomies, and a few
typing errors and missing times), summarised by :func:`strokealert.quality.measures.summarize`:
per measure the initial population, exclusions, denominator, numerator, rate and median; the
data-quality line; and the time to summarise and to write the registry file.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

# bench/perfusion.py would shadow the perfusion package when this runs as a script.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from sqlalchemy import create_engine, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from strokealert.config import Settings  # noqa: E402
from strokealert.db.models.cases import Case  # noqa: E402
from strokealert.demo import (  # noqa: E402
    CLI,
    WebhookInbox,
    free_port,
    running_service,
    send_study,
)
from strokealert.quality.measures import MEASURES, case_flags, case_values, summarize  # noqa: E402
from strokealert.quality.registry import to_registry_csv  # noqa: E402

START = datetime(2026, 1, 1, tzinfo=UTC)
DEMO_TIMEOUT_S = 600.0


def demo_cases(root: Path) -> list[Case]:
    """The demo's case for a study dated now and for one with the phantom's fixed date."""
    studies = root / "studies"
    subprocess.run([*CLI, "phantom", "study", str(studies / "now"), "--small", "--now"],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([*CLI, "phantom", "study", str(studies / "fixed"), "--small", "--seed", "8"],
                   check=True, stdout=subprocess.DEVNULL)
    secret = secrets.token_hex(16)
    inbox = WebhookInbox(secret)
    data_dir = root / "data"
    env = {"STROKEALERT_DATA_DIR": str(data_dir), "STROKEALERT_HTTP_PORT": str(free_port()),
           "STROKEALERT_DICOM_PORT": str(free_port()), "STROKEALERT_WEBHOOK_URL": inbox.url,
           "STROKEALERT_WEBHOOK_SECRET": secret, "STROKEALERT_SERIES_QUIET_S": "2"}
    database_url = Settings(data_dir=data_dir).resolved_database_url
    subprocess.run([*CLI, "db", "upgrade"], env={**os.environ, **env}, check=True,
                   capture_output=True)
    try:
        with running_service(env, root / "serve.log"):
            for name in ("now", "fixed"):
                send_study(studies / name, int(env["STROKEALERT_DICOM_PORT"]))
            deadline = time.monotonic() + DEMO_TIMEOUT_S
            engine = create_engine(database_url)
            while time.monotonic() < deadline:
                with Session(engine) as session:
                    cases = list(session.scalars(select(Case).where(
                        Case.alert_sent_at.is_not(None)).order_by(Case.created_at)))
                    if len(cases) == 2:
                        session.expunge_all()
                        return cases
                time.sleep(2)
            raise SystemExit(f"the demo cases got no alert in {DEMO_TIMEOUT_S:.0f} s; see "
                             f"{root / 'serve.log'}")
    finally:
        inbox.close()


def generated_case(rng: random.Random, index: int) -> Case:
    """One plausible-looking case; about 3 % carry a typing error or a missing time."""
    door = START + timedelta(days=rng.uniform(0, 180))
    diagnosis = rng.choices(("ischemic", "tia", "ich", "sah", "mimic", None),
                            (70, 8, 10, 2, 8, 2))[0]
    in_hospital = rng.random() < 0.05
    transfer = not in_hospital and rng.random() < 0.15
    lkw = door - timedelta(minutes=rng.lognormvariate(4.6, 0.8))  # median ~100 min
    if in_hospital:
        lkw = door + timedelta(hours=rng.uniform(6, 72))
    fields: dict[str, Any] = {
        "final_diagnosis": diagnosis, "age_years": rng.choice((17,) + tuple(range(25, 96))),
        "in_hospital_stroke": in_hospital, "transfer": transfer,
        "arrival_at": door - timedelta(minutes=rng.uniform(60, 180)) if transfer else door,
        "transfer_in_at": door if transfer else None, "last_known_well_at": lkw,
        "ncct_at": max(door, lkw) + timedelta(minutes=rng.gammavariate(3, 5)),
    }
    fields["cta_at"] = fields["ncct_at"] + timedelta(minutes=rng.uniform(2, 8))
    fields["alert_sent_at"] = fields["cta_at"] + timedelta(minutes=rng.uniform(2, 6))
    fields["first_ack_at"] = fields["alert_sent_at"] + timedelta(minutes=rng.uniform(0.5, 6))
    window = (max(door, lkw) - lkw) <= timedelta(minutes=270)
    if diagnosis in ("ischemic", "mimic") and window and rng.random() < 0.55:
        fields["needle_at"] = max(door, lkw) + timedelta(minutes=rng.gammavariate(6, 7))
        fields["thrombolytic_agent"] = rng.choice(("alteplase", "tenecteplase"))
        if rng.random() < 0.06:
            fields["ivt_delay_reason"] = rng.choice(("eligibility", "medical"))
    elif diagnosis == "ischemic" and window and rng.random() < 0.5:
        fields["ivt_not_given_reason"] = rng.choice(("rapidly improving symptoms",
                                                     "anticoagulated", "patient declined"))
    if diagnosis == "ischemic" and rng.random() < 0.18:
        puncture = fields["cta_at"] + timedelta(minutes=rng.gammavariate(5, 12))
        fields.update(groin_puncture_at=puncture,
                      first_pass_at=puncture + timedelta(minutes=rng.uniform(8, 35)))
        fields["tici"] = rng.choice(("2a", "2b", "2b", "2c", "3", "3"))
        fields["reperfusion_at"] = fields["first_pass_at"] + timedelta(minutes=rng.uniform(0, 30))
    if rng.random() < 0.04 and not in_hospital:
        fields["transfer_out_at"] = door + timedelta(minutes=rng.gammavariate(6, 20))
    error = rng.random()
    if error < 0.01 and "needle_at" in fields:
        fields["needle_at"] = door - timedelta(minutes=30)  # typed on the wrong hour
    elif error < 0.02:
        fields["ncct_at"] = door - timedelta(minutes=45)  # scanner clock an hour off
    elif error < 0.025:
        fields["alert_sent_at"] = fields["cta_at"] + timedelta(days=300)  # a wrong year
    elif error < 0.04:
        fields["arrival_at" if not transfer else "transfer_in_at"] = None  # not documented
    return Case(id=f"gen-{index:04d}", study_instance_uid=f"gen-{index}", site="Main campus",
                created_at=door, **fields)


def print_table(summary: dict[str, Any]) -> None:
    print(f"{'measure':<46} {'initial':>7} {'excl':>5} {'denom':>6} {'num':>5} {'rate':>6} "
          f"{'median':>7}")
    for m in MEASURES:
        d = summary["measures"][m.key]
        rate = "" if d["rate"] is None else f"{100 * d['rate']:.0f} %"
        median = "" if d["median"] is None else f"{d['median']:g}"
        num = "" if d["numerator"] is None else str(d["numerator"])
        print(f"{d['label'][:46]:<46} {d['initial']:>7} {len(d['excluded']):>5} "
              f"{d['denominator']:>6} {num:>5} {rate:>6} {median:>7}")
    q = summary["data_quality"]
    rules = ", ".join(f"{k} {v}" for k, v in q["by_rule"].items())
    print(f"data quality: {q['cases_flagged']} cases flagged, {q['intervals_flagged']} "
          f"implausible intervals ({rules}); {q['utd_exclusions']} UTD exclusions")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--no-demo", action="store_true", help="skip the demo service run")
    args = parser.parse_args()
    zone = ZoneInfo("UTC")
    if not args.no_demo:
        with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
            print("demo: strokealert serve, two synthetic studies sent over DICOM ...")
            for label, case in zip(("dated now", "fixed 2026-03-14"), demo_cases(Path(tmp)),
                                   strict=True):
                value = case_values(case)["scan_to_alert"]
                flags = "; ".join(f.reason for f in case_flags(case)) or "none"
                print(f"  demo study {label:<17} scan-to-alert {value!s:>12}   flags: {flags}")
    rng = random.Random(args.seed)
    cohort = [generated_case(rng, i) for i in range(args.cases)]
    started = time.perf_counter()
    summary = summarize(cohort, zone)
    summarised = time.perf_counter() - started
    summary["timezone"] = zone.key
    started = time.perf_counter()
    registry = to_registry_csv(summary, zone)
    written = time.perf_counter() - started
    print(f"\ncohort: {args.cases} generated cases (seed {args.seed})")
    print_table(summary)
    print(f"summarised in {1000 * summarised:.0f} ms; registry file "
          f"{len(registry.splitlines()) - 1} rows, {len(registry) / 1024:.0f} KiB, "
          f"in {1000 * written:.0f} ms")


if __name__ == "__main__":
    main()

"""Alert commit → provider request latency, and fan-out to 1,000 recipients.

Runs the service's alerting (relay + engine, real firebase-admin and twilio SDKs) against the
loopback fakes of FCM v1 and Twilio REST from ``tests/notifications/fakes.py`` on SQLite (and
PostgreSQL when reachable). Latency: from the ``COMMIT`` of the transaction that raised the
alert to the fake receiving the provider request (p50/p95/p99 over N alerts; target p95 ≤
200 ms), for an alert without key images (push, SMS: the figures before key images) and one
with a key image (push with ``image_url``, SMS with the link, MMS with the media, a voice call).
Fan-out: one alert paging 1,000 people (push, then SMS) — notifications/s, median of several
runs, against a peer in the same run: a plain loop of ``messaging.send`` / ``messages.create``
with no outbox.

    .venv/bin/python bench/notify.py [--alerts 40] [--fanout 1000 (0: skip)] [--runs 3]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "notifications"))

from fakes import FakeFcm, FakeTwilio  # noqa: E402
from firebase_admin import messaging  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from notifications.directory import load_directory  # noqa: E402
from strokealert import alerting, db  # noqa: E402
from strokealert.config import Settings  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


PREFIXES = {"sms": 1555, "mms": 1556, "voice": 1557}
"""Phone numbers by contact type: +1555… SMS, +1556… MMS, +1557… voice."""


def directory(people: int, rules: list[dict[str, Any]],
              contacts: tuple[str, ...] = ("sms",)) -> dict[str, Any]:
    """``people`` people with a device and a phone number of each type in ``contacts``."""
    return {
        "people": [{"name": f"Person {i:04d}", "roles": ["stroke"],
                    "devices": [{"token": f"tok-{i:04d}"}],
                    "contacts": [{"type": kind, "address": f"+{PREFIXES[kind]}{i:07d}"}
                                 for kind in contacts],
                    "rules": rules} for i in range(people)],
        "policies": [{"name": "stroke", "repeat": 0,
                      "steps": [{"delay_minutes": 5, "targets": [{"role": "stroke"}]}]}],
    }


def pg_database() -> str | None:
    try:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT",
                              connect_args={"connect_timeout": 3})
        name = f"sa_bench_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    except Exception:
        return None


def drop_pg(url: str) -> None:
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = url.rsplit("/", 1)[1]
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = :n"), {"n": name})
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


class Bench:
    def __init__(self, url: str, workdir: Path, people: int, rules: list[dict[str, Any]],
                 contacts: tuple[str, ...] = ("sms",), provider_ms: float = 0.0):
        self.fcm, self.twilio = FakeFcm(), FakeTwilio()
        self.fcm.response_ms = self.twilio.response_ms = provider_ms
        credentials = self.fcm.service_account(workdir / f"sa-{uuid.uuid4().hex[:6]}.json")
        self.settings = Settings(
            database_url=url, data_dir=workdir, secret_key="bench", notify_console=False,
            fcm_credentials_file=credentials, fcm_endpoint=self.fcm.url,
            twilio_account_sid=self.twilio.account_sid,
            twilio_auth_token=self.twilio.auth_token, twilio_from_number="+15550009999",
            twilio_base_url=self.twilio.url, scheduler_mode="dedicated")
        db.upgrade(url)
        self.engine = db.make_engine(url)
        self.factory = db.make_session_factory(self.engine)
        with self.factory.begin() as session:
            load_directory(session, directory(people, rules, contacts), datetime.now(UTC))
        self.component = alerting.AlertingComponent(self.settings, self.factory,
                                                    relay_poll_s=0.5)
        self.component.start()

    def raise_alert(self, case_id: str, key_images: list[str] | None = None) -> float:
        """Raise and commit; returns the wall time right after COMMIT."""
        with self.factory.begin() as session:
            alerting.raise_alert(session, self.settings, case_id=case_id, level="critical",
                                 kind="new",
                                 title="LVO suspected: left M1",
                                 body="Core 21 mL, Tmax>6 s 102 mL, mismatch 4.8",
                                 site="Main campus CT2",
                                 url=f"https://strokealert.example.org/cases/{case_id}",
                                 key_images=key_images)
        return time.time()

    def requests(self) -> dict[str, list[float]]:
        """Arrival times of the provider requests so far, per channel."""
        def to(form: dict[str, list[str]]) -> str:
            return form["To"][0]

        return {"push": [r.at for r in self.fcm.sends()],
                "sms": [r.at for r in self.twilio.creates() if to(r.form()).startswith("+1555")],
                "mms": [r.at for r in self.twilio.creates() if to(r.form()).startswith("+1556")],
                "voice": [r.at for r in self.twilio.call_creates()]}

    def close(self) -> None:
        self.component.stop()
        self.engine.dispose()
        self.fcm.close()
        self.twilio.close()


def wait(predicate, timeout_s: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("provider requests did not arrive")
        time.sleep(0.001)


def latency(url: str, workdir: Path, alerts: int, contacts: tuple[str, ...],
            key_images: list[str] | None, provider_ms: float = 0.0) -> dict[str, list[float]]:
    """Milliseconds from COMMIT to each channel's provider request, per alert (one person:
    push, and a text to each SMS/MMS number and a call to the voice number, all at once);
    the fakes answer each request after ``provider_ms``."""
    rules = [{"channel": "push", "after_minutes": 0}, {"channel": "sms", "after_minutes": 0}]
    if "voice" in contacts:
        rules.append({"channel": "voice", "after_minutes": 0})
    bench = Bench(url, workdir, 1, rules, contacts, provider_ms)
    channels = ("push", *contacts)
    out: dict[str, list[float]] = {c: [] for c in channels}

    def arrived(before: dict[str, list[float]]) -> bool:
        now = bench.requests()
        return all(len(now[c]) > len(before[c]) for c in channels)

    try:
        before = bench.requests()
        bench.raise_alert("warm-up", key_images)  # first OAuth token fetch and connections
        wait(lambda: arrived(before))
        for i in range(alerts):
            before = bench.requests()
            committed = bench.raise_alert(f"case-{i}", key_images)
            wait(lambda b=before: arrived(b))  # type: ignore[misc]
            after = bench.requests()
            for channel in channels:
                out[channel].append((after[channel][len(before[channel])] - committed) * 1000)
            time.sleep(0.02)
    finally:
        bench.close()
    return out


RUNS = (("no key image (before)", ("sms",), None),
        ("with key image", ("sms", "mms", "voice"), ["lvo_mip.png"]))


def fanout(url: str, workdir: Path, people: int, channel: str) -> float:
    """Notifications per second for one alert paging ``people`` people on ``channel``."""
    bench = Bench(url, workdir, people, [{"channel": channel, "after_minutes": 0}])
    try:
        bench.raise_alert("warm-up-0")  # token fetch, connections, caches
        received = bench.fcm.sent if channel == "push" else bench.twilio.messages
        wait(lambda: len(received) == people)
        committed = bench.raise_alert("fan-out")
        wait(lambda: len(received) == 2 * people)
        return people / (time.time() - committed)
    finally:
        bench.close()


def peer_rate(workdir: Path, people: int, channel: str) -> float:
    """The same sends as a plain loop through the SDK: no database, no outbox, no retries."""
    from notifications.channels.fcm import FcmChannel
    from notifications.channels.twilio_sms import TwilioChannel

    fcm, twilio = FakeFcm(), FakeTwilio()
    try:
        if channel == "push":
            app = FcmChannel(str(fcm.service_account(workdir / "peer.json")),
                             endpoint=fcm.url).app
            warnings.simplefilter("ignore", DeprecationWarning)  # Message(token=...)
            messaging.send(messaging.Message(token="tok-warm"), app=app)
            start = time.time()
            for i in range(people):
                messaging.send(messaging.Message(token=f"tok-{i:04d}",
                                                 notification=messaging.Notification("LVO", "x")),
                               app=app)
        else:
            client = TwilioChannel(twilio.account_sid, twilio.auth_token, "+15550009999",
                                   base_url=twilio.url).client
            start = time.time()
            for i in range(people):
                client.messages.create(to=f"+1555{i:07d}", from_="+15550009999", body="LVO")
        return people / (time.time() - start)
    finally:
        fcm.close()
        twilio.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=40, help="alerts for the latency figures")
    parser.add_argument("--fanout", type=int, default=1000, help="recipients of the fan-out")
    parser.add_argument("--runs", type=int, default=3, help="fan-out runs (median reported)")
    parser.add_argument("--provider-ms", type=float, default=0.0,
                        help="the fakes answer after this many ms (an internet round trip)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        targets = [("sqlite", lambda: f"sqlite:///{workdir / uuid.uuid4().hex}.sqlite3")]
        if probe := pg_database():
            drop_pg(probe)
            targets.append(("postgresql", pg_database))  # type: ignore[arg-type]
        print(f"commit → provider request, {args.alerts} alerts, one recipient (ms); "
              f"providers answer after {args.provider_ms:g} ms")
        print(f"{'database':<11} {'alert':<22} {'channel':<8} {'p50':>7} {'p95':>7} {'p99':>7} "
              f"{'max':>7}  target p95 ≤ 200")
        for name, make_url in targets:
            for label, contacts, key_images in RUNS:
                url = make_url()
                try:
                    result = latency(url, workdir, args.alerts, contacts, key_images,
                                     args.provider_ms)
                finally:
                    if name == "postgresql":
                        drop_pg(url)
                for channel, values in result.items():
                    q = statistics.quantiles(values, n=100, method="inclusive")
                    print(f"{name:<11} {label:<22} {channel:<8} {statistics.median(values):7.1f} "
                          f"{q[94]:7.1f} {q[98]:7.1f} {max(values):7.1f}")
        if not args.fanout:
            return
        print()
        print(f"fan-out of one alert to {args.fanout} recipients (notifications/s, median of "
              f"{args.runs}) vs a plain SDK loop")
        print(f"{'database':<11} {'channel':<8} {'outbox':>8} {'peer':>8} {'ratio':>6}")
        for name, make_url in targets:
            for channel in ("push", "sms"):
                rates = []
                for _ in range(args.runs):
                    url = make_url()
                    try:
                        rates.append(fanout(url, workdir, args.fanout, channel))
                    finally:
                        if name == "postgresql":
                            drop_pg(url)
                peer = peer_rate(workdir, args.fanout, channel)
                ours = statistics.median(rates)
                print(f"{name:<11} {channel:<8} {ours:8.0f} {peer:8.0f} {ours / peer:6.2f}")


if __name__ == "__main__":
    main()

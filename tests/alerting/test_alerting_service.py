"""strokealert's alerting: outbox wake-ups across processes, settings given explicitly."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker

from notifications.directory import load_directory
from notifications.models import Person
from notifications.signing import signed_url
from strokealert import alerting
from tests.alerting.conftest import Service
from tests.notifications.stroke_team import PUBLIC_URL, SIGNING_SECRET

WRITER = """
import sys, time
from strokealert import alerting, db
from strokealert.config import Settings

settings = Settings.model_validate_json(sys.stdin.read())
engine = db.make_engine(settings.resolved_database_url)
with db.make_session_factory(engine).begin() as session:
    alerting.raise_alert(session, settings, case_id="case-w", level="critical", kind="new",
                         title="LVO suspected: left M1", body="Core 21 mL", site="CT2",
                         url="https://strokealert.example.org/cases/case-w")
print(time.time())
"""


def test_an_alert_written_by_another_process_wakes_the_relay(service: Service) -> None:
    """The relay polls every 30 s, yet the writer's commit wakes it (NOTIFY / datagram)."""
    service.component.stop()
    component = alerting.AlertingComponent(service.settings, service.factory,
                                           relay_poll_s=30.0, with_scheduler=False)
    service.component = component
    component.start()
    time.sleep(1.0)  # the listener thread is connected and the relay idles on its long poll
    writer = subprocess.run([sys.executable, "-c", WRITER], input=service.settings
                            .model_dump_json(), capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).resolve().parents[2])
    assert writer.returncode == 0, writer.stderr
    committed = float(writer.stdout.split()[-1])
    deadline = time.monotonic() + 5.0
    while not service.fakes.webhook.accepted and time.monotonic() < deadline:
        time.sleep(0.01)
    assert service.fakes.webhook.accepted, "the relay was not woken"
    latency_s = service.fakes.webhook.accepted[0].at - committed
    print(f"\nwriter commit -> webhook POST ({service.engine.dialect.name}, relay poll 30 s): "
          f"{latency_s * 1000:.0f} ms")
    assert latency_s < 2.0


def test_signed_links_and_twilio_use_the_settings_they_are_given(service: Service) -> None:
    alert_id = service.raise_alert()
    service.drain()
    now = int(time.time())
    link = urlparse(signed_url(PUBLIC_URL, f"/alerts/{alert_id}/images/0", SIGNING_SECRET,
                               now + 60))
    query = {k: v[0] for k, v in parse_qs(link.query).items()}
    with service.factory() as session:
        assert alerting.key_image_for(session, alert_id, 0, query, service.settings) \
            == "lvo_mip.png"
        assert alerting.key_image_for(session, alert_id, 0, query, service.settings.model_copy(
            update={"secret_key": "another-key"})) is None
        assert alerting.key_image_for(session, alert_id, 1, query, service.settings) is None
    with service.factory.begin() as session:
        with pytest.raises(alerting.SignatureError, match="not configured"):
            alerting.twilio_incoming(session, PUBLIC_URL, {"Body": "1"}, None,
                                     service.settings.model_copy(
                                         update={"twilio_auth_token": None}))
        ada = session.scalar(select(Person.id).where(Person.name == "Dr Ada Okafor"))
        ack = urlparse(signed_url(PUBLIC_URL, f"/alerts/{alert_id}/ack", SIGNING_SECRET,
                                  now + 60, person=str(ada)))
        ack_query = {k: v[0] for k, v in parse_qs(ack.query).items()}
        assert not alerting.acknowledge_link(session, alert_id, {**ack_query, "person": "999"},
                                             service.settings)
        assert alerting.acknowledge_link(session, alert_id, ack_query, service.settings)
    with service.factory() as session:
        [history] = alerting.alert_history(session, "case-1")
    assert [(a["by"], a["via"]) for a in history["acks"]] == [("Dr Ada Okafor", "push")]


def test_the_scheduler_wakes_when_the_next_step_is_due(service: Service) -> None:
    """With a 30 s fallback interval, a step due 1.8 s after the page runs on time."""
    with service.factory.begin() as session:
        load_directory(session, {"policies": [{"name": "fast", "repeat": 0, "steps": [
            {"delay_minutes": 0.03, "targets": [{"role": "ct-technologist"}]},
            {"delay_minutes": 5, "targets": [{"role": "neuro-interventionalist"}]}]}]},
            datetime.now(UTC))
    service.component.stop()
    service.settings = service.settings.model_copy(
        update={"escalation_policy": "fast", "scheduler_interval_s": 30.0})
    service.component = alerting.AlertingComponent(service.settings, service.factory,
                                                   with_scheduler=True)
    service.component.start()
    fcm = service.fakes.fcm
    paged = time.monotonic()  # before the alert: its escalation clock starts inside raise_alert
    service.raise_alert()
    while len(fcm.sent) < 2 and time.monotonic() - paged < 15.0:
        time.sleep(0.01)
    step_s = time.monotonic() - paged
    assert [m["token"] for m in fcm.sent] == ["tok-eve", "tok-cyd"]
    print(f"\nstep 2 due after 1.8 s, paged after {step_s:.2f} s (scheduler fallback 30 s)")
    # Never early; well before the 30 s fallback poll (generous: the machine is shared).
    assert 1.75 < step_s < 10.0


def test_the_library_reaches_no_host_table_even_with_the_whole_service_imported(
        tmp_path: Path) -> None:
    """No ORM hook of the service fires on the library's models (e.g. stamping a case)."""
    import strokealert.api.app  # noqa: F401  (everything the web app and the pipeline import)
    import strokealert.pipeline.jobs  # noqa: F401
    from notifications.engine import AlertSpec, Notifier
    from notifications.schema import metadata

    engine = create_engine(f"sqlite:///{tmp_path / 'library-only.sqlite3'}")
    metadata.create_all(engine)  # the library's tables and nothing else
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory.begin() as session:
        alert_id = Notifier(factory=factory).raise_alert(session, AlertSpec(
            case_id="case-1", level="critical", kind="new", title="LVO suspected: left M1",
            body="Core 21 mL", site="CT2", url=f"{PUBLIC_URL}/cases/case-1"))
    with factory() as session:
        assert [a["alert_id"] for a in Notifier(factory=factory).history(session, "case-1")] \
            == [alert_id]
    engine.dispose()

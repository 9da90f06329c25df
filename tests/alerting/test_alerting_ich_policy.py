"""A haemorrhage pages along its own escalation policy (``ich_policy``), other alerts along
``escalation_policy``; unset, the haemorrhage policy is the stroke policy."""

from __future__ import annotations

from pathlib import Path

from notifications.clock import FakeClock
from notifications.directory import load_directory
from strokealert.config import Settings
from tests.alerting.conftest import Service

NEUROSURGERY = {
    "people": [{"name": "Dr Nia Osei", "roles": ["neurosurgeon"],
                "devices": [{"token": "tok-nia", "platform": "ios"}],
                "contacts": [{"type": "sms", "address": "+15550000009"}]}],
    "policies": [{"name": "stroke-neurosurgery", "repeat": 0, "steps": [
        {"delay_minutes": 5, "targets": [{"role": "neurosurgeon"}, {"role": "ct-technologist"}]},
    ]}],
}


def paged(service: Service, alert_id: str) -> set[str]:
    return {row.recipient for row in service.rows(alert_id=alert_id, purpose="page")}


def test_the_ich_policy_pages_neurosurgery_and_the_default_does_not(service: Service) -> None:
    with service.factory.begin() as session:
        load_directory(session, NEUROSURGERY, FakeClock().now())
    ich = service.raise_alert(case_id="case-ich", title="Haemorrhage suspected: subdural",
                              policy="stroke-neurosurgery")
    lvo = service.raise_alert(case_id="case-lvo")
    assert "Dr Nia Osei" in paged(service, ich)
    assert "Dr Nia Osei" not in paged(service, lvo) and paged(service, lvo)


def test_the_ich_policy_defaults_to_the_stroke_policy(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).resolved_ich_policy == "stroke"
    assert Settings(data_dir=tmp_path, escalation_policy="code",
                    ich_policy="neuro").resolved_ich_policy == "neuro"

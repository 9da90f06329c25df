"""No name, MRN, birth date or accession number from a DICOM header reaches any channel or log.

A whole escalation, raised the way the pipeline raises it (decision text, opaque case id), goes
out through every channel of the service; the wire and the log are searched for the identifiers.
"""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pytest

from notifications.clock import FakeClock
from notifications.payload import ALERT_FIELDS, MAX_PAYLOAD_BYTES
from strokealert import alerting
from strokealert.phantoms.series import Patient, SeriesInfo, StudyInfo, ct_slice
from strokealert.pipeline.rules import decide
from tests.alerting.conftest import Service

PATIENT = Patient(name="QUIXOTE^ZELDA^MARIE", patient_id="MRN98765432", birth_date="19480229")
STUDY = StudyInfo(accession_number="ACCX7781234", patient=PATIENT)


def phi_forms(dataset) -> set[str]:  # type: ignore[no-untyped-def]
    """Every way the header's identifiers could be spelt in a message."""
    name = str(dataset.PatientName)
    family, given = name.split("^")[:2]
    birth = dataset.PatientBirthDate
    return {name, family, given, f"{given} {family}", family.title(), given.title(),
            dataset.PatientID, dataset.PatientID[3:], dataset.AccessionNumber,
            dataset.AccessionNumber[3:], birth, f"{birth[:4]}-{birth[4:6]}-{birth[6:]}",
            f"{birth[4:6]}/{birth[6:]}/{birth[:4]}", f"{birth[6:]}.{birth[4:6]}.{birth[:4]}"}


def test_no_phi_from_the_dicom_header_reaches_push_sms_mms_email_webhook_or_log(
        fake_clock: FakeClock, service: Service, caplog: pytest.LogCaptureFixture) -> None:
    dataset = ct_slice(np.zeros((8, 8)), study=STUDY, series=SeriesInfo(description="CTA HEAD"),
                       instance_number=1, position_mm=(0, 0, 0), pixel_spacing_mm=(0.5, 0.5),
                       slice_thickness_mm=1.0, acquisition_datetime=datetime(2026, 3, 14, 2, 45))
    forbidden = phi_forms(dataset)
    # What the pipeline alerts with: the decision text, an opaque case id, site, link.
    decision = decide({"status": "failed", "error": "no arterial input function found"},
                      {"status": "ok", "probability": 0.97, "suspected": True,
                       "threshold": 0.5, "side": "left", "site": "M1"})
    caplog.set_level("DEBUG")
    service.raise_alert(case_id="0b6f1c3e-3f4e-4a51-9a55-6f0c2c9d1e77", level=decision.level,
                        title=decision.title, body=decision.body,
                        key_images=["lvo_mip.png", "perfusion_summary.png"])
    service.drain()
    for minutes in (2, 3, 5, 2):
        fake_clock.advance(minutes=minutes)
        service.component.tick()
        service.drain()
    with service.factory.begin() as session:
        alerting.acknowledge(session, service.settings,
                             case_id="0b6f1c3e-3f4e-4a51-9a55-6f0c2c9d1e77",
                             by="Dr Ada Okafor", via="api")
    service.drain()

    fakes = service.fakes
    wire = [r.path.encode() + bytes(str(dict(r.headers)), "utf8") + r.body
            for fake in (fakes.fcm, fakes.twilio, fakes.webhook) for r in fake.requests]
    wire += fakes.smtp.raw + [m.encode() for m in caplog.messages]
    assert len(fakes.fcm.sent) >= 6 and len(fakes.twilio.messages) >= 4
    assert fakes.smtp.raw and fakes.webhook.accepted
    text = b"\n".join(wire).decode("utf8", errors="replace").upper()
    for value in forbidden:
        assert value.upper() not in text, f"PHI {value!r} reached a provider or the log"
    # Every push / webhook body is exactly the schema (or the ack schema) and ≤ 4096 bytes.
    for message in fakes.fcm.sent:
        assert len(json.dumps(message).encode()) <= MAX_PAYLOAD_BYTES
        payload = json.loads(message["data"]["payload"])
        if payload["schema"] == "strokealert.alert/2":
            assert tuple(payload) == ALERT_FIELDS
    for record in fakes.webhook.accepted:
        assert len(record.body) <= MAX_PAYLOAD_BYTES

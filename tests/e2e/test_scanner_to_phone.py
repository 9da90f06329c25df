"""End to end: DCMTK storescu (the scanner) → ``strokealert serve`` → phone and PACS.

The real firebase-admin and twilio SDKs talk to loopback fakes of FCM v1 and Twilio REST; a
real Orthanc is the PACS. The alert must carry the finding and no PHI; the SC, SEG and SR
must arrive in Orthanc and parse with highdicom.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import highdicom as hd
import pydicom
import pytest
from pydicom.filebase import DicomBytesIO

from strokealert.demo import CLI, WebhookInbox, free_port, running_service
from strokealert.phantoms.study import write_study
from tests import dcmtk
from tests.notifications.fakes import FakeFcm, FakeTwilio
from tests.orthanc import orthanc_available, running_orthanc

pytestmark = pytest.mark.skipif(
    not (dcmtk.storescu_path() and orthanc_available()),
    reason="needs DCMTK storescu and Orthanc (Debian packages dcmtk, orthanc)")

SEG_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
SR_CLASS = "1.2.840.10008.5.1.4.1.1.88.34"
SC_CLASS = "1.2.840.10008.5.1.4.1.1.7"

ONCALL = {
    "people": [{"name": "Dr Ada Okafor", "roles": ["neurologist"],
                "devices": [{"token": "token-of-adas-phone", "platform": "android"}],
                "contacts": [{"type": "sms", "address": "+15550000001"}],
                "rules": [{"channel": "push", "after_minutes": 0},
                          {"channel": "sms", "after_minutes": 0}]}],
    "policies": [{"name": "stroke", "repeat": 0,
                  "steps": [{"delay_minutes": 5, "targets": [{"role": "neurologist"}]}]}],
}


def wait_until(predicate, timeout_s: float, interval_s: float = 0.5):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    return predicate()


def test_study_reaches_the_phone_and_results_reach_pacs(tmp_path: Path) -> None:
    truth = write_study(tmp_path / "study", side="left", site="M1", seed=11, small=True)
    phi = [v for v in truth["phi"].values()] + [truth["phi"]["patient_name"].split("^")[0]]

    fcm, twilio = FakeFcm(), FakeTwilio()
    inbox = WebhookInbox("e2e-secret")
    oncall = tmp_path / "oncall.json"
    oncall.write_text(json.dumps(ONCALL))
    dicom_port, http_port = free_port(), free_port()
    with running_orthanc(tmp_path / "orthanc") as pacs:
        env = {
            "STROKEALERT_DATA_DIR": str(tmp_path / "data"),
            "STROKEALERT_DICOM_PORT": str(dicom_port),
            "STROKEALERT_HTTP_PORT": str(http_port),
            "STROKEALERT_HTTP_HOST": "127.0.0.1",
            "STROKEALERT_PUBLIC_URL": f"http://127.0.0.1:{http_port}",
            "STROKEALERT_SECRET_KEY": "e2e-key",
            "STROKEALERT_FCM_CREDENTIALS_FILE": str(fcm.service_account(tmp_path / "fcm.json")),
            "STROKEALERT_FCM_ENDPOINT": fcm.url,
            "STROKEALERT_TWILIO_ACCOUNT_SID": twilio.account_sid,
            "STROKEALERT_TWILIO_AUTH_TOKEN": twilio.auth_token,
            "STROKEALERT_TWILIO_FROM_NUMBER": "+15550009999",
            "STROKEALERT_TWILIO_BASE_URL": twilio.url,
            "STROKEALERT_WEBHOOK_URL": inbox.url,
            "STROKEALERT_WEBHOOK_SECRET": "e2e-secret",
            "STROKEALERT_PACS_ENABLED": "true",
            "STROKEALERT_PACS_HOST": "127.0.0.1",
            "STROKEALERT_PACS_PORT": str(pacs.dicom_port),
            "STROKEALERT_PACS_AE_TITLE": pacs.aet,
            "STROKEALERT_SERIES_QUIET_S": "2",
            "STROKEALERT_STUDY_QUIET_S": "4",
        }
        full_env = {**os.environ, **env}
        subprocess.run([*CLI, "oncall", "load", str(oncall)], env=full_env, check=True,
                       capture_output=True)
        log_path = tmp_path / "serve.log"
        with running_service(env, log_path):
            sent = subprocess.run(
                [dcmtk.storescu(), "-aet", "CT_SCANNER", "-aec", "STROKEALERT", "+sd", "+r",
                 "+sp", "*.dcm", "127.0.0.1", str(dicom_port), str(tmp_path / "study")],
                env={**os.environ, "TCP_NODELAY": "1"}, capture_output=True, text=True)
            assert sent.returncode == 0, sent.stderr[-2000:]

            # Both the LVO alert and the perfusion update reach the phone.
            pushes = wait_until(lambda: len(fcm.sent) >= 2 and fcm.sent, 240)
            log = log_path.read_text(errors="replace")
            assert pushes, f"no push arrived; service log:\n{log[-4000:]}"
            payloads = [json.loads(m["data"]["payload"]) for m in fcm.sent]
            first, update = payloads[0], payloads[1]
            assert first["kind"] == "new" and first["level"] == "critical"
            assert first["title"] == "LVO suspected: left M1"
            assert update["kind"] == "update" and update["case_id"] == first["case_id"]
            assert update["body"].startswith("Core ")
            assert all(m["token"] == "token-of-adas-phone" for m in fcm.sent)

            sms = wait_until(lambda: twilio.creates(), 30)
            assert sms and "LVO suspected: left M1" in sms[0].form()["Body"][0]
            assert wait_until(lambda: inbox.alerts, 30)

            # No PHI on any wire: push, SMS, webhook.
            wires = [r.body.decode(errors="replace") for r in fcm.requests + twilio.requests]
            wires += [json.dumps(a) for a in inbox.alerts]
            for text in wires:
                for value in phi:
                    assert value not in text, f"PHI {value!r} left the hospital"

            # SC, SEG and SR in the PACS, filed under the patient's study.
            def result_objects() -> dict[str, list[pydicom.Dataset]]:
                found: dict[str, list[pydicom.Dataset]] = {}
                for orthanc_id in pacs.instances():
                    ds = pydicom.dcmread(DicomBytesIO(pacs.instance_file(orthanc_id)))
                    found.setdefault(str(ds.SOPClassUID), []).append(ds)
                return found if SEG_CLASS in found and SR_CLASS in found else {}

            objects = wait_until(result_objects, 120, 1.0)
            assert objects, f"results did not reach PACS:\n{log_path.read_text()[-4000:]}"
        fcm.close()
        twilio.close()
        inbox.close()

    assert SC_CLASS in objects
    seg = hd.seg.Segmentation.from_dataset(objects[SEG_CLASS][0])
    labels = {d.SegmentLabel for d in seg.SegmentSequence}
    assert len(labels) == 2
    assert seg.StudyInstanceUID == truth["study_instance_uid"]
    for sr_ds in objects[SR_CLASS]:
        sr = hd.sr.Comprehensive3DSR.from_dataset(sr_ds)
        assert sr.StudyInstanceUID == truth["study_instance_uid"]

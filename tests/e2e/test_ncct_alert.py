"""End to end, issue 19's done-when: an NCCT-only study sent by DCMTK storescu (the scanner) to a
real ``strokealert serve`` gives a ``critical`` haemorrhage alert within 10 s of its last image
when it holds blood, paged along the haemorrhage policy (the neurosurgeon's phone), with the
NCCT's SC, SEG and SR in the PACS; a study without blood gives no haemorrhage alert and its case
carries the NCCT block with its ASPECTS. Both studies in one server run; the latency is
printed."""

from __future__ import annotations

import os
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.filebase import DicomBytesIO
from sqlalchemy import select

from notifications.directory import load_directory
from strokealert import db
from strokealert.db.models.cases import Case
from strokealert.demo import WebhookInbox, free_port, running_service
from strokealert.phantoms.ncct_families import NcctLabel, geometric, write_case
from tests import dcmtk
from tests.notifications.fakes import FakeFcm
from tests.orthanc import orthanc_available, running_orthanc

pytestmark = pytest.mark.skipif(
    not (dcmtk.storescu_path() and orthanc_available()),
    reason="needs DCMTK storescu and Orthanc (Debian packages dcmtk, orthanc)")

SR_CLASS = "1.2.840.10008.5.1.4.1.1.88.34"
SC_CLASS = "1.2.840.10008.5.1.4.1.1.7"
SEG_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
ALERT_WITHIN_S = 10.0

ONCALL = {
    "people": [
        {"name": "Dr Ada Okafor", "roles": ["neurologist"],
         "devices": [{"token": "tok-neurologist", "platform": "android"}],
         "rules": [{"channel": "push", "after_minutes": 0}]},
        {"name": "Dr Nia Osei", "roles": ["neurosurgeon"],
         "devices": [{"token": "tok-neurosurgeon", "platform": "ios"}],
         "rules": [{"channel": "push", "after_minutes": 0}]}],
    "policies": [
        {"name": "stroke", "repeat": 0,
         "steps": [{"delay_minutes": 5, "targets": [{"role": "neurologist"}]}]},
        {"name": "stroke-neurosurgery", "repeat": 0,
         "steps": [{"delay_minutes": 5, "targets": [{"role": "neurologist"},
                                                    {"role": "neurosurgeon"}]}]}],
}


def write_study(folder: Path, label: NcctLabel) -> str:
    """A 96 x 96 x 45 NCCT of the geometric family; its study UID."""
    write_case(geometric.render(3, label, matrix=96), folder)
    first = next((folder / "dicom").glob("*.dcm"))
    return str(pydicom.dcmread(first, stop_before_pixels=True).StudyInstanceUID)


def store(folder: Path, port: int) -> float:
    """C-STORE the folder as a scanner would; the time its last image was acknowledged."""
    sent = subprocess.run([dcmtk.storescu(), "-aet", "CT_SCANNER", "-aec", "STROKEALERT", "+sd",
                           "+r", "+sp", "*.dcm", "127.0.0.1", str(port), str(folder)],
                          env={**os.environ, "TCP_NODELAY": "1"}, capture_output=True, text=True)
    assert sent.returncode == 0, sent.stderr[-2000:]
    return time.time()


def load_oncall(database_url: str) -> None:
    """The people and policies, written into the service's (migrated) database."""
    engine = db.make_engine(database_url)
    try:
        with db.make_session_factory(engine).begin() as session:
            load_directory(session, ONCALL, datetime.now(UTC))
    finally:
        engine.dispose()


def analysed_case(database_url: str, study_uid: str, timeout_s: float) -> dict[str, Any] | None:
    """The case's analysis result once its NCCT block is in, else None at the timeout."""
    engine = db.make_engine(database_url)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                result = connection.scalar(select(Case.result_json).where(
                    Case.study_instance_uid == study_uid))
            if result and (result.get("ncct") or {}).get("status") not in (None, "not_run"):
                return dict(result)
            time.sleep(0.3)
        return None
    finally:
        engine.dispose()


def test_ncct_only_studies_alert_on_blood_within_10_s_and_not_without(tmp_path: Path) -> None:
    blood_uid = write_study(tmp_path / "blood", NcctLabel(bleeds=("intraparenchymal",)))
    clean_uid = write_study(tmp_path / "clean", NcctLabel(ischaemic_regions=("M2", "I"),
                                                          ischaemic_side="left"))
    fcm, inbox = FakeFcm(), WebhookInbox("e2e-secret")
    dicom_port, http_port = free_port(), free_port()
    database_url = f"sqlite:///{tmp_path / 'data' / 'strokealert.sqlite3'}"
    with running_orthanc(tmp_path / "orthanc") as pacs:
        env = {
            "STROKEALERT_DATA_DIR": str(tmp_path / "data"),
            "STROKEALERT_DICOM_PORT": str(dicom_port),
            "STROKEALERT_HTTP_PORT": str(http_port),
            "STROKEALERT_PUBLIC_URL": f"http://127.0.0.1:{http_port}",
            "STROKEALERT_SECRET_KEY": "e2e-key",
            "STROKEALERT_FCM_CREDENTIALS_FILE": str(fcm.service_account(tmp_path / "fcm.json")),
            "STROKEALERT_FCM_ENDPOINT": fcm.url,
            "STROKEALERT_WEBHOOK_URL": inbox.url,
            "STROKEALERT_WEBHOOK_SECRET": "e2e-secret",
            "STROKEALERT_ICH_POLICY": "stroke-neurosurgery",
            "STROKEALERT_PACS_ENABLED": "true",
            "STROKEALERT_PACS_PORT": str(pacs.dicom_port),
            "STROKEALERT_PACS_AE_TITLE": pacs.aet,
            "STROKEALERT_STUDY_QUIET_S": "2",
        }
        log_path = tmp_path / "serve.log"
        with running_service(env, log_path):
            load_oncall(database_url)
            last_image = store(tmp_path / "blood", dicom_port)
            alerts = inbox.wait(1, 60)
            assert alerts, f"no alert; service log:\n{log_path.read_text()[-4000:]}"
            latency_s = inbox.received_at[0] - last_image
            print(f"\nNCCT haemorrhage alert {latency_s:.1f} s after the last image "
                  f"(limit {ALERT_WITHIN_S:.0f} s)")
            alert = alerts[0]
            assert alert["level"] == "critical" and alert["kind"] == "new"
            assert alert["title"].startswith("Haemorrhage suspected: intraparenchymal, ")
            assert latency_s <= ALERT_WITHIN_S

            store(tmp_path / "clean", dicom_port)
            clean = analysed_case(database_url, clean_uid, 60)
            assert clean is not None, f"clean study not analysed:\n{log_path.read_text()[-4000:]}"


            def ncct_objects() -> set[str]:
                found = set()
                for orthanc_id in pacs.instances():
                    ds = pydicom.dcmread(DicomBytesIO(pacs.instance_file(orthanc_id)))
                    if ds.StudyInstanceUID == blood_uid:
                        found.add(str(ds.SOPClassUID))
                return found

            deadline = time.monotonic() + 30
            expected = {SC_CLASS, SEG_CLASS, SR_CLASS}
            while not expected <= ncct_objects() and time.monotonic() < deadline:
                time.sleep(0.5)
            objects = ncct_objects()
            time.sleep(1.0)  # a (wrong) alert for the clean study would be out by now
        fcm.close()
        inbox.close()

    assert [a["title"] for a in inbox.alerts] == [alert["title"]], "the clean study alerted"
    paged = {m["token"] for m in fcm.sent}
    assert paged == {"tok-neurologist", "tok-neurosurgeon"}, "not paged along the ICH policy"
    assert clean["alert"]["level"] == "none"
    assert clean["ncct"]["ich"]["suspected"] is False
    assert 0 <= clean["ncct"]["aspects"]["score"] <= 10
    assert {SC_CLASS, SEG_CLASS, SR_CLASS} <= objects, \
        "the NCCT's key image, SEG and SR did not reach PACS"

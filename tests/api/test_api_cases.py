"""The pipeline's helper: cases from analysis results, with PHI and DICOM acquisition times
(timezone offset applied), key images under the output folder, and the alert time stamped."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import select

from strokealert import alerting
from strokealert.cases import upsert_case_from_analysis
from strokealert.db.models.audit import AuditEvent
from strokealert.db.models.cases import Case
from strokealert.db.models.ingest import Instance, Series, Study
from strokealert.phantoms.series import SeriesInfo, StudyInfo, write_volume
from tests.api.helpers import analysis, login, make_env


def test_case_from_analysis_with_dicom_times(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    study_info = StudyInfo(study_datetime=datetime(2026, 3, 14, 2, 41, 7),
                           timezone_offset="-0500")
    files = write_volume(np.zeros((2, 16, 16), np.int16), tmp_path / "cta", study=study_info,
                         series=SeriesInfo(contrast=True), spacing_mm=(1, 1, 1),
                         acquisition_datetime=datetime(2026, 3, 14, 2, 45, 30))
    out = tmp_path / "out" / "lvo"
    out.mkdir(parents=True)
    (out / "lvo_mip.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
    now = datetime.now(UTC)
    with env.factory.begin() as session:
        study = Study(study_instance_uid=study_info.study_instance_uid, patient_name="DOE^JANE",
                      patient_id="MRN0012345", patient_birth_date="19510314",
                      accession_number="ACC1", first_received_at=now, last_received_at=now)
        series = Series(study=study, series_instance_uid="2.25.1", kind="cta",
                        first_received_at=now, last_received_at=now)
        session.add_all([study, series])
        session.flush()
        session.add(Instance(series_id=series.id, sop_instance_uid="2.25.2", sop_class_uid="1",
                             transfer_syntax_uid="1", instance_number=1, path=str(files[0]),
                             size_bytes=1, sha256="0" * 64, received_at=now))
        result = analysis(study_info.study_instance_uid)
        result["lvo"]["key_images"] = ["lvo_mip.png", "missing.png"]
        case = upsert_case_from_analysis(session, study=study, result=result,
                                         output_dirs=[out], rule_fired=["lvo_suspected"])
        case_id = case.id
        alert_id = alerting.raise_alert(session, env.settings, case_id=case.id, level="critical",
                                        kind="new", title=case.title, body=case.summary,
                                        site=case.site, url=f"http://x/cases/{case.id}")
    with env.factory() as session:
        case = session.get(Case, case_id)
        assert case.status == "analyzed" and case.alert_level == "critical" and case.urgency == 0
        assert case.title == "LVO suspected: left M1 (p=0.97)"
        assert case.summary == "Core 21 mL, Tmax>6 s 102 mL, mismatch 4.8"
        assert case.rule_fired == "lvo_suspected"
        assert (case.patient_name, case.patient_id, case.birth_date, case.accession_number) == (
            "DOE^JANE", "MRN0012345", "19510314", "ACC1")
        # 02:45:30 at UTC-05:00 is 07:45:30 UTC.
        assert case.cta_at == datetime(2026, 3, 14, 7, 45, 30, tzinfo=UTC)
        assert case.key_images == ["lvo_mip.png"]  # only files that exist
        assert case.alert_sent_at is not None
    # A person's correction survives the next analysis of the same study.
    client = TestClient(env.app)
    csrf = login(client, "coordinator")
    edited = client.patch(f"/api/cases/{case_id}/timeline", headers={"X-CSRF-Token": csrf},
                          json={"cta_at": "2026-03-14T07:44:00Z", "tici": "9"})
    assert edited.status_code == 422 and "tici" in edited.json()["detail"]
    edited = client.patch(f"/api/cases/{case_id}/timeline", headers={"X-CSRF-Token": csrf},
                          json={"cta_at": "2026-03-14T07:44:00Z"})
    assert edited.status_code == 200
    with env.factory.begin() as session:
        study = session.scalar(select(Study))
        again = upsert_case_from_analysis(session, study=study, result=result, output_dirs=[out])
        assert again.id == case_id
        assert again.cta_at == datetime(2026, 3, 14, 7, 44, tzinfo=UTC)
    history = client.get(f"/api/cases/{case_id}/alerts").json()
    assert [a["alert_id"] for a in history] == [alert_id]
    image = client.get(f"/cases/{case_id}/images/0")
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    assert client.get(f"/cases/{case_id}/images/1").status_code == 404
    with env.factory() as session:
        views = [e.detail for e in session.scalars(
            select(AuditEvent).where(AuditEvent.action == "phi_view",
                                     AuditEvent.object_id == case_id))]
    assert {"via": "key_image", "index": 0} in views  # the image shown is audited
    assert "patient" not in str(history).lower()

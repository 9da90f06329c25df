"""Real DICOM traffic into the receiver: DCMTK storescu and pynetdicom as senders."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pydicom
from pynetdicom import AE
from pynetdicom.sop_class import CTImageStorage
from sqlalchemy import func, select

from strokealert.db.models.ingest import CompletionEvent, Instance, QuarantinedFile, Series
from strokealert.dicom.retention import purge_expired
from strokealert.phantoms import series as syn

from .conftest import RunningService, dataset_bytes, storescu, wait_for, write_series


def _count(running: RunningService, model: type, *where: object) -> int:
    with running.service.factory() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _events(running: RunningService, level: str) -> list[CompletionEvent]:
    with running.service.factory() as session:
        return list(session.scalars(select(CompletionEvent)
                                    .where(CompletionEvent.level == level)
                                    .order_by(CompletionEvent.id)))


def test_storescu_study_stored_once_and_completed_once(database_url: str, make_service,
                                                       tmp_path: Path) -> None:
    running = make_service(database_url)
    study = syn.StudyInfo()
    counted = write_series(tmp_path / "in" / "a", 12, study=study,
                           series=syn.SeriesInfo(series_number=2, description="Head 5mm"))
    quiet = write_series(tmp_path / "in" / "b", 8, study=study, with_count=False, seed=1,
                         series=syn.SeriesInfo(series_number=3, description="Head 5mm"))

    first = storescu(running.port, tmp_path / "in")
    assert first.returncode == 0, first.stderr
    running.settle()
    wait_for(lambda: len(running.studies_done) == 1)
    # The same images again: not stored twice, not counted twice, no new completion.
    again = storescu(running.port, tmp_path / "in")
    assert again.returncode == 0, again.stderr
    running.settle()

    assert _count(running, Instance) == 20
    stored = sorted((running.settings.store_dir / study.study_instance_uid).rglob("*.dcm"))
    assert len(stored) == 20
    with running.service.factory() as session:
        rows = {i.sop_instance_uid: i for i in session.scalars(select(Instance))}
        series = {s.series_instance_uid: s for s in session.scalars(select(Series))}
    source = {pydicom.dcmread(p).SOPInstanceUID: p for p in counted + quiet}
    for sop_uid, row in rows.items():
        data = Path(row.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row.sha256
        # Received bytes are kept as sent: the source file's dataset, byte for byte.
        assert dataset_bytes(Path(row.path)) == dataset_bytes(source[sop_uid])
        assert pydicom.dcmread(row.path).file_meta.MediaStorageSOPInstanceUID == sop_uid

    series_events = _events(running, "series")
    assert sorted((e.series_instance_uid, e.reason, e.instance_count) for e in series_events) \
        == sorted([(pydicom.dcmread(counted[0]).SeriesInstanceUID, "count", 12),
                   (pydicom.dcmread(quiet[0]).SeriesInstanceUID, "quiet", 8)])
    assert [e.instance_count for e in _events(running, "study")] == [20]
    assert len(running.series_done) == 2 and len(running.studies_done) == 1
    counted_uid = pydicom.dcmread(counted[0]).SeriesInstanceUID
    assert series[counted_uid].expected_count == 12
    assert series[counted_uid].kind == "ncct"


def test_corrupt_image_quarantined_rest_of_series_completes(database_url: str, make_service,
                                                            tmp_path: Path) -> None:
    running = make_service(database_url)
    paths = write_series(tmp_path / "in", 7)
    broken = pydicom.dcmread(paths[2])
    broken.Rows = 80  # header no longer matches the pixel data length
    broken.save_as(paths[2])
    no_pixels = pydicom.dcmread(paths[4])
    del no_pixels.PixelData
    no_pixels.save_as(paths[4])
    no_series = pydicom.dcmread(paths[5])
    del no_series.SeriesInstanceUID
    no_series.save_as(paths[5])

    result = storescu(running.port, tmp_path / "in", options=("-v",))
    log = (result.stdout + result.stderr).lower()
    assert "error: cannotunderstand" in log and "error: datasetdoesnotmatchsopclass" in log, log
    running.settle()
    wait_for(lambda: len(running.series_done) == 1)

    assert running.series_done[0].instance_count == 4
    assert running.series_done[0].reason == "quiet"  # 7 announced, 4 acceptable
    assert _count(running, Instance) == 4
    with running.service.factory() as session:
        quarantined = list(session.scalars(select(QuarantinedFile)))
    assert sorted(q.sop_instance_uid for q in quarantined) == sorted(
        [broken.SOPInstanceUID, no_pixels.SOPInstanceUID, no_series.SOPInstanceUID])
    reasons = " ".join(q.reason for q in quarantined)
    assert "pixel data is" in reasons and "no pixel data" in reasons
    assert "missing or invalid SeriesInstanceUID" in reasons
    for row in quarantined:
        assert Path(row.path).is_file()
        assert Path(row.path).with_suffix(".reason.txt").read_text().startswith("status 0x")


def test_late_image_reopens_and_recompletes(make_service, tmp_path: Path) -> None:
    running = make_service()
    paths = write_series(tmp_path / "in", 5, with_count=False)
    late = paths.pop()
    late.rename(tmp_path / "late.dcm")
    other = write_series(tmp_path / "other", 3, study=syn.StudyInfo(
        study_instance_uid=pydicom.dcmread(paths[0]).StudyInstanceUID), seed=3)
    assert storescu(running.port, tmp_path / "in", *other).returncode == 0
    wait_for(lambda: len(running.studies_done) == 1)  # both series complete, study too
    assert storescu(running.port, tmp_path / "late.dcm").returncode == 0
    wait_for(lambda: len(running.studies_done) == 2)  # re-opened and re-completed
    assert sorted(c.instance_count for c in running.series_done) == [3, 4, 5]
    assert [c.instance_count for c in running.studies_done] == [7, 8]
    assert sorted(e.instance_count for e in _events(running, "series")) == [3, 4, 5]


def test_unknown_calling_ae_rejected(make_service, tmp_path: Path) -> None:
    running = make_service(dicom_allowed_aets=["CT1"])
    write_series(tmp_path / "in", 3)
    refused = storescu(running.port, tmp_path / "in", calling_aet="INTRUDER")
    assert refused.returncode != 0
    assert "rejected" in (refused.stderr + refused.stdout).lower()
    accepted = storescu(running.port, tmp_path / "in", calling_aet="CT1")
    assert accepted.returncode == 0, accepted.stderr
    running.settle()
    assert _count(running, Instance) == 3


def test_aborted_association_keeps_what_arrived(make_service, tmp_path: Path) -> None:
    running = make_service()
    paths = write_series(tmp_path / "in", 6)
    ae = AE(ae_title="SCANNER")
    ae.add_requested_context(CTImageStorage, syn.ExplicitVRLittleEndian)
    assoc = ae.associate("127.0.0.1", running.port, ae_title="STROKEALERT")
    assert assoc.is_established
    for path in paths[:3]:
        assert assoc.send_c_store(path).Status == 0
    assoc.abort()
    running.settle()
    wait_for(lambda: _count(running, Instance) == 3)
    wait_for(lambda: len(running.series_done) == 1)
    assert running.series_done[0].reason == "quiet"


def test_retention_purges_files_and_rows(make_service, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    running = make_service()
    write_series(tmp_path / "in", 4)
    assert storescu(running.port, tmp_path / "in").returncode == 0
    running.settle()
    ingest = running.service.ingest
    running.service.stop()
    assert purge_expired(running.service.factory, ingest.store,
                         datetime.now(UTC) - timedelta(days=1)) == 0
    assert purge_expired(running.service.factory, ingest.store,
                         datetime.now(UTC) + timedelta(seconds=1)) == 4
    assert _count(running, Instance) == 0 and _count(running, Series) == 0
    assert not list(running.settings.store_dir.rglob("*.dcm"))


def test_scheduled_retention_purges_while_serving(make_service, tmp_path: Path) -> None:
    running = make_service(retention_days=1.0 / 86400, retention_interval_s=0.5)
    write_series(tmp_path / "in", 3)
    assert storescu(running.port, tmp_path / "in").returncode == 0
    running.settle()
    wait_for(lambda: _count(running, Instance) == 0, timeout_s=10)
    assert not list(running.settings.store_dir.rglob("*.dcm"))


def test_tls_association(make_service, tmp_path: Path) -> None:
    import ssl
    import subprocess

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    running = make_service(dicom_tls_cert=cert, dicom_tls_key=key)
    paths = write_series(tmp_path / "in", 2)
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(cert))
    context.check_hostname = False
    ae = AE(ae_title="SCANNER")
    ae.add_requested_context(CTImageStorage, syn.ExplicitVRLittleEndian)
    plain = ae.associate("127.0.0.1", running.port, ae_title="STROKEALERT")
    assert not plain.is_established  # a cleartext peer gets no association
    assoc = ae.associate("127.0.0.1", running.port, ae_title="STROKEALERT",
                         tls_args=(context, None))
    assert assoc.is_established
    assert [assoc.send_c_store(p).Status for p in paths] == [0, 0]
    assoc.release()
    running.settle()
    assert _count(running, Instance) == 2


def test_overwrite_policy_replaces_changed_instance(make_service, tmp_path: Path) -> None:
    running = make_service(dicom_duplicate_policy="overwrite")
    paths = write_series(tmp_path / "in", 3)
    assert storescu(running.port, tmp_path / "in").returncode == 0
    wait_for(lambda: len(running.series_done) == 1)
    changed = pydicom.dcmread(paths[0])
    changed.WindowCenter = "60"  # a corrected header, same SOP Instance UID
    changed.save_as(tmp_path / "changed.dcm")
    assert storescu(running.port, tmp_path / "changed.dcm").returncode == 0
    wait_for(lambda: len(running.series_done) == 2)  # re-opened, complete again by count
    assert [c.reason for c in running.series_done] == ["count", "count"]
    assert _count(running, Instance) == 3
    with running.service.factory() as session:
        row = session.scalar(select(Instance).where(
            Instance.sop_instance_uid == changed.SOPInstanceUID))
    assert pydicom.dcmread(row.path).WindowCenter == 60
    assert row.sha256 == hashlib.sha256(Path(row.path).read_bytes()).hexdigest()

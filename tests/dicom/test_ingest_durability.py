"""Durability of the index (issue 14) in-process: the journal, a resend of images stored but
not indexed, and reconciliation of the index with the store."""

from __future__ import annotations

import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import pydicom
import pytest

from strokealert.dicom.journal import Journal
from strokealert.dicom.reconcile import STALE_PART_S, reconcile
from strokealert.dicom.records import InstanceRecord, QuarantineRecord

from .conftest import storescu, wait_for, write_series


def _instance(n: int) -> InstanceRecord:
    return InstanceRecord(
        study_uid="1.2.3", series_uid="1.2.3.4", sop_uid=f"1.2.3.4.{n}", sop_class_uid="1.2",
        transfer_syntax_uid="1.2.840.10008.1.2", dataset=None, calling_aet="CT1",
        path=f"/store/{n}.dcm", size_bytes=100 + n, chunks=None,
        received_at=datetime(2026, 3, 14, 2, 49, n, tzinfo=UTC), sha256="ab" * 32)


def test_journal_round_trip_in_bounded_chunks(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal" / "index.jsonl")
    assert not journal.pending and list(journal.chunks(10)) == []
    quarantined = QuarantineRecord(path="/q/x.dcm", reason="no pixel data", calling_aet=None,
                                   study_uid=None, series_uid=None, sop_uid="9.9",
                                   received_at=datetime(2026, 3, 14, tzinfo=UTC))
    journal.append([_instance(n) for n in range(5)])
    journal.append([quarantined, *(_instance(n) for n in range(5, 7))])
    assert journal.pending
    chunks = list(journal.chunks(3))
    assert [len(c) for c in chunks] == [3, 3, 2]
    records = [r for chunk in chunks for r in chunk]
    assert records[5] == quarantined
    assert [r.sop_uid for r in records if isinstance(r, InstanceRecord)] == \
        [f"1.2.3.4.{n}" for n in range(7)]
    assert records[0] == _instance(0)
    journal.clear()
    assert not journal.pending and not journal.path.exists()


def test_journal_skips_a_torn_last_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    journal = Journal(tmp_path / "index.jsonl")
    journal.append([_instance(1), _instance(2)])
    with open(journal.path, "ab") as handle:  # a crash in the middle of an append
        handle.write(b'{"type": "instance", "study_uid": "1.2')
    records = [r for chunk in journal.chunks(10) for r in chunk]
    assert [r.sop_uid for r in records] == ["1.2.3.4.1", "1.2.3.4.2"]
    assert "line 3 unreadable" in caplog.text


def test_resend_indexes_a_stored_file_missing_from_the_index(make_service,
                                                             tmp_path: Path) -> None:
    """Files in the store without index rows (as after a crash) are not discarded as
    duplicates when the scanner resends them: they are indexed, once."""
    running = make_service()
    paths = write_series(tmp_path / "in", 8)
    for path in paths[:5]:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        target = running.service.ingest.store.instance_path(
            ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    assert storescu(running.port, tmp_path / "in").returncode == 0
    wait_for(lambda: len(running.series_done) == 1)
    assert (running.series_done[0].reason, running.series_done[0].instance_count) == ("count", 8)
    assert storescu(running.port, tmp_path / "in").returncode == 0  # indexed: discarded
    running.settle()
    wait_for(lambda: len(running.studies_done) == 1)
    assert len(running.series_done) == 1 and running.studies_done[0].instance_count == 8


def test_reconcile_indexes_unindexed_files_and_reports_missing_ones(
        make_service, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    running = make_service()
    write_series(tmp_path / "in", 6)
    assert storescu(running.port, tmp_path / "in").returncode == 0
    wait_for(lambda: len(running.studies_done) == 1)
    running.service.stop()
    store = running.service.ingest.store
    stored = sorted(store.store_dir.rglob("*.dcm"))
    stored[0].unlink()  # an index row without its file
    extra = write_series(tmp_path / "extra", 2, seed=5)  # files without index rows
    for path in extra:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        target = store.instance_path(ds.StudyInstanceUID, ds.SeriesInstanceUID,
                                     ds.SOPInstanceUID)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    fresh_part = stored[1].parent / f".{stored[1].name}.1234abcd.part"
    fresh_part.write_bytes(b"half a file, being written")
    stale_part = stored[2].parent / f".{stored[2].name}.5678ef01.part"
    stale_part.write_bytes(b"half a file, cut off by a crash")
    old = time.time() - STALE_PART_S - 60
    os.utime(stale_part, (old, old))

    indexed: list[InstanceRecord] = []
    report = reconcile(running.service.factory, store, indexed.extend)
    assert (report.indexed, report.missing_files, report.unreadable) == (2, 1, 0)
    assert report.series_checked == 2
    assert report.stale_parts_removed == 1
    assert fresh_part.exists() and not stale_part.exists()
    extra_ds = pydicom.dcmread(extra[0], stop_before_pixels=True)
    assert {r.sop_uid for r in indexed} == {
        pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID for p in extra}
    assert {(r.study_uid, r.series_uid) for r in indexed} == {
        (extra_ds.StudyInstanceUID, extra_ds.SeriesInstanceUID)}
    assert all(r.size_bytes == Path(r.path).stat().st_size for r in indexed)
    assert "1 indexed images have no file in the store" in caplog.text

"""Reconciliation of the index with the store: the files on disk are the truth.

A file in ``store/<study>/<series>/`` without an index row (a crash between the answer to the
scanner and the index write) is indexed from its own header; an index row whose file is gone
is reported. A temporary ``.part`` file older than :data:`STALE_PART_S` (a write cut off by a
crash, never answered with success) is deleted. The indexer runs it at start over the series
folders changed since the last pass, and over the whole store every ``reconcile_interval_s``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pydicom
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from strokealert.db.models.ingest import Instance, Series, Study
from strokealert.dicom.records import InstanceRecord
from strokealert.dicom.store import ImageStore, valid_uid

log = logging.getLogger(__name__)

STALE_PART_S = 3600.0
"""Age (s) past which a temporary ``.part`` file is taken for a crashed write and deleted."""


@dataclass
class ReconcileReport:
    """What one pass found: series folders checked, files indexed, unreadable files and
    index rows whose file is missing."""

    series_checked: int = 0
    indexed: int = 0
    unreadable: int = 0
    missing_files: int = 0
    stale_parts_removed: int = 0


def record_from_file(path: Path) -> InstanceRecord:
    """An index record for a stored file, from its own header (received at its mtime)."""
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    stat = path.stat()
    return InstanceRecord(
        study_uid=str(ds.StudyInstanceUID), series_uid=str(ds.SeriesInstanceUID),
        sop_uid=str(ds.SOPInstanceUID), sop_class_uid=str(ds.SOPClassUID),
        transfer_syntax_uid=str(ds.file_meta.TransferSyntaxUID), dataset=ds, calling_aet=None,
        path=str(path), size_bytes=stat.st_size, chunks=None,
        received_at=datetime.fromtimestamp(stat.st_mtime, UTC))


def _series_folders(store: ImageStore, since: float | None) -> Iterator[Path]:
    """Series folders of the store, those modified at or after ``since`` (epoch s) only."""
    if not store.store_dir.is_dir():
        return
    for study in os.scandir(store.store_dir):
        if not study.is_dir() or not valid_uid(study.name):
            continue
        for series in os.scandir(study.path):
            if series.is_dir() and valid_uid(series.name) and (
                    since is None or series.stat().st_mtime >= since):
                yield Path(series.path)


def reconcile(factory: sessionmaker[Session], store: ImageStore,
              index: Callable[[list[InstanceRecord]], None], *, since: float | None = None,
              batch_size: int = 500) -> ReconcileReport:
    """Index stored files that have no index row (``index`` takes a batch); report rows
    whose file is gone. ``since`` limits the pass to series folders changed since then."""
    report = ReconcileReport()
    for folder in _series_folders(store, since):
        report.series_checked += 1
        report.stale_parts_removed += _remove_stale_parts(folder)
        files = {p.stem: p for p in folder.glob("*.dcm") if not p.name.startswith(".")}
        with factory() as session:
            rows = set(session.scalars(select(Instance.sop_instance_uid).join(Series).where(
                Series.series_instance_uid == folder.name)))
        gone = len(rows - files.keys())
        if gone:
            report.missing_files += gone
            log.error("series %s: %d indexed images have no file in the store", folder.name,
                      gone)
        batch: list[InstanceRecord] = []
        for sop_uid in sorted(files.keys() - rows):
            try:
                batch.append(record_from_file(files[sop_uid]))
            except Exception as exc:
                report.unreadable += 1
                log.error("stored file %s/%s unreadable, not indexed: %s", folder.name,
                          files[sop_uid].name, exc)
                continue
            if len(batch) >= batch_size:
                index(batch)
                report.indexed += len(batch)
                batch = []
        if batch:
            index(batch)
            report.indexed += len(batch)
    if since is None:
        report.missing_files += _series_without_folder(factory, store)
    if report.indexed or report.missing_files or report.unreadable:
        log.warning("reconciliation: %d series checked, %d unindexed files indexed, "
                    "%d unreadable, %d index rows without a file", report.series_checked,
                    report.indexed, report.unreadable, report.missing_files)
    return report


def _remove_stale_parts(folder: Path, now: float | None = None) -> int:
    """Delete the ``.part`` files in ``folder`` older than :data:`STALE_PART_S`; their count."""
    cutoff = (time.time() if now is None else now) - STALE_PART_S
    removed = 0
    for part in folder.glob(".*.part"):
        try:
            if part.stat().st_mtime < cutoff:
                part.unlink()
                removed += 1
        except FileNotFoundError:  # renamed or removed meanwhile
            continue
    if removed:
        log.warning("series %s: %d stale temporary files of interrupted writes deleted",
                    folder.name, removed)
    return removed


def _series_without_folder(factory: sessionmaker[Session], store: ImageStore) -> int:
    """Index rows of series whose whole folder is gone (reported); returns their count."""
    missing = 0
    with factory() as session:
        rows = session.execute(select(Study.study_instance_uid, Series.series_instance_uid,
                                      Series.instance_count)
                               .select_from(Series).join(Series.study)
                               .execution_options(yield_per=1000))
        for study_uid, series_uid, count in rows:
            if count and not (store.store_dir / study_uid / series_uid).is_dir():
                missing += count
                log.error("series %s: %d indexed images, its folder is gone", series_uid, count)
    return missing

"""The index's database writes: one transaction per batch of records, one per completion.

:class:`IndexWriter` turns records into ``studies``/``series``/``instances``/``quarantine`` rows
and keeps the :class:`CompletionTracker`'s counts in step with what it commits; indexing is
idempotent on the SOP Instance UID (a second copy with the same bytes changes nothing, one
with other bytes replaces the row and re-opens its series). It writes each completion with its
``CompletionEvent`` in one transaction. It holds no thread and no schedule: the
:class:`strokealert.dicom.index.Indexer` calls it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import UTC, datetime, tzinfo
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from strokealert.db.models.ingest import CompletionEvent, Instance, QuarantinedFile, Series, Study
from strokealert.dicom.classify import SliceInfo, classify_slices, slice_info
from strokealert.dicom.completion import CompletionTracker, SeriesState, StudyState
from strokealert.dicom.header import Description, RawHeader, describe
from strokealert.dicom.records import Completion, InstanceRecord, QuarantineRecord, Record

log = logging.getLogger(__name__)

HASH_PIECE = 1 << 20  # bytes read at a time when a stored file is hashed


def sha256_of(record: InstanceRecord) -> str:
    """SHA-256 of the record's bytes: its chunks, else the stored file."""
    digest = hashlib.sha256()
    if record.chunks is not None:
        for chunk in record.chunks:
            digest.update(chunk)
        return digest.hexdigest()
    with open(record.path, "rb") as handle:
        while piece := handle.read(HASH_PIECE):
            digest.update(piece)
    return digest.hexdigest()


def _epoch(moment: datetime | None) -> float:
    if moment is None:
        return time.time()
    if moment.tzinfo is None:  # SQLite returns naive datetimes (stored as UTC)
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class IndexWriter:
    """Database writes of the index (see the module docstring).

    ``quiet_from`` (epoch s): no series or study reloaded from the database starts its quiet
    time earlier (the indexer's start: a stopped service could not hear the scanner).
    """

    def __init__(self, factory: sessionmaker[Session], tracker: CompletionTracker,
                 zone: tzinfo, quiet_from: float) -> None:
        self.factory = factory
        self.tracker = tracker
        self.zone = zone
        self.quiet_from = quiet_from

    # --- state -----------------------------------------------------------------------------
    def load_open_state(self) -> None:
        """Replace the tracker's state by the series and studies not yet complete."""
        self.tracker.clear()
        with self.factory() as session:
            rows = session.execute(
                select(Series, Study).join(Study)
                .where((Series.completed_at.is_(None)) | (Study.completed_at.is_(None))))
            for series, study in rows:
                self.tracker.add_study(self._study_from_row(study))
                self.tracker.add_series(self._series_from_row(series, study.study_instance_uid))

    def _quiet_start(self, last_received: datetime | None) -> float:
        return max(_epoch(last_received), self.quiet_from)

    def _study_from_row(self, study: Study) -> StudyState:
        return StudyState(study.id, study.study_instance_uid,
                          self._quiet_start(study.last_received_at),
                          study.completed_at is not None)

    def _series_from_row(self, series: Series, study_uid: str) -> SeriesState:
        """State of a series known only from the database (headers re-read when needed)."""
        return SeriesState(series.id, study_uid, series.series_instance_uid,
                           series.instance_count, self._quiet_start(series.last_received_at),
                           series.completed_at is not None, series.expected_count,
                           slices=None if series.instance_count else [])

    def _study_state(self, session: Session, record: InstanceRecord,
                     desc: Description) -> StudyState:
        state = self.tracker.studies.get(record.study_uid)
        if state is not None:
            return state
        row = session.scalar(select(Study).where(Study.study_instance_uid == record.study_uid))
        if row is None:
            row = Study(study_instance_uid=record.study_uid, calling_aet=record.calling_aet,
                        first_received_at=record.received_at,
                        last_received_at=record.received_at, **desc.study_fields)
            session.add(row)
            session.flush()
        state = self.tracker.add_study(self._study_from_row(row))
        for series in session.scalars(select(Series).where(Series.study_id == row.id)):
            self.tracker.add_series(self._series_from_row(series, record.study_uid))
        return state

    def _series_state(self, session: Session, record: InstanceRecord, desc: Description,
                      study: StudyState) -> SeriesState:
        state = self.tracker.series.get(record.series_uid)
        if state is not None:
            return state
        row = session.scalar(select(Series).where(
            Series.series_instance_uid == record.series_uid))
        if row is None:
            row = Series(study_id=study.study_id, series_instance_uid=record.series_uid,
                         kind="other", instance_count=0, first_received_at=record.received_at,
                         last_received_at=record.received_at, **desc.series_fields)
            session.add(row)
            session.flush()
        return self.tracker.add_series(self._series_from_row(row, record.study_uid))

    # --- indexing --------------------------------------------------------------------------
    def write(self, batch: list[Record]) -> None:
        """Write one batch in one transaction and update the tracker's counts (which are
        stale if this raises: reload them with :meth:`load_open_state`)."""
        instances = [r for r in batch if isinstance(r, InstanceRecord)]
        touched_series: dict[str, SeriesState] = {}
        touched_studies: dict[str, StudyState] = {}
        reopened_series: set[str] = set()
        reopened_studies: set[str] = set()
        new_rows: dict[str, dict[str, object]] = {}
        with self.factory.begin() as session:
            uids = [r.sop_uid for r in instances]
            existing = {uid: (row_id, sha) for uid, row_id, sha in session.execute(
                select(Instance.sop_instance_uid, Instance.id, Instance.sha256)
                .where(Instance.sop_instance_uid.in_(uids)))} if uids else {}
            for record in batch:
                if isinstance(record, QuarantineRecord):
                    session.add(QuarantinedFile(
                        path=record.path, reason=record.reason, calling_aet=record.calling_aet,
                        study_instance_uid=record.study_uid,
                        series_instance_uid=record.series_uid,
                        sop_instance_uid=record.sop_uid, received_at=record.received_at))
                    continue
                if record.duplicate and (record.sop_uid in existing
                                         or record.sop_uid in new_rows):
                    continue  # a discarded resend of an indexed image: nothing to do
                if record.sha256 is None:
                    record.sha256 = sha256_of(record)
                if record.description is None:
                    record.description = self._describe(record)
                record.chunks = record.dataset = None  # a retry needs neither again
                sha, desc = record.sha256, record.description
                study = self._study_state(session, record, desc)
                series = self._series_state(session, record, desc, study)
                new_slice: SliceInfo | None = None
                pending = new_rows.get(record.sop_uid)
                if pending is not None:  # a second copy within this batch
                    if pending["sha256"] == sha:
                        continue
                    pending.update(path=record.path, sha256=sha, size_bytes=record.size_bytes,
                                   transfer_syntax_uid=record.transfer_syntax_uid,
                                   received_at=record.received_at)
                elif record.sop_uid in existing:  # a second copy: the file on disk is the latest
                    row_id, old_sha = existing[record.sop_uid]
                    session.execute(update(Instance).where(Instance.id == row_id).values(
                        path=record.path, sha256=sha, size_bytes=record.size_bytes,
                        transfer_syntax_uid=record.transfer_syntax_uid,
                        received_at=record.received_at))
                    existing[record.sop_uid] = (row_id, sha)
                    if sha == old_sha:
                        continue
                else:
                    new_rows[record.sop_uid] = {
                        "series_id": series.series_id, "sop_instance_uid": record.sop_uid,
                        "sop_class_uid": record.sop_class_uid,
                        "transfer_syntax_uid": record.transfer_syntax_uid,
                        "instance_number": desc.instance_number, "path": record.path,
                        "size_bytes": record.size_bytes, "sha256": sha,
                        "received_at": record.received_at}
                    new_slice = desc.slice
                series_reopened, study_reopened = self.tracker.received(
                    series, study, record.received_at.timestamp(), new_slice)
                if series_reopened:
                    reopened_series.add(series.series_uid)
                if study_reopened:
                    reopened_studies.add(study.study_uid)
                touched_series[series.series_uid] = series
                touched_studies[study.study_uid] = study
            if new_rows:  # one executemany: the ORM's unit of work costs ~1 ms per row
                session.execute(insert(Instance), list(new_rows.values()))
            for series in touched_series.values():
                values: dict[str, object] = {
                    "instance_count": series.count, "expected_count": series.expected,
                    "last_received_at": _utc(series.last_received)}
                if series.series_uid in reopened_series:
                    values.update(completed_at=None, completion_reason=None)
                session.execute(update(Series).where(Series.id == series.series_id)
                                .values(**values))
            for study in touched_studies.values():
                values = {"last_received_at": _utc(study.last_received)}
                if study.study_uid in reopened_studies:
                    values["completed_at"] = None
                session.execute(update(Study).where(Study.id == study.study_id).values(**values))
        for uid in reopened_series:
            log.info("series %s re-opened by a late image", uid)

    def _describe(self, record: InstanceRecord) -> Description:
        try:
            dataset = record.dataset
            if dataset is None:  # from the journal: read the stored file's header
                dataset = pydicom.dcmread(record.path, stop_before_pixels=True)
            return describe(RawHeader(dataset), self.zone)
        except Exception as exc:  # odd values: index it anyway, without the details
            log.warning("header of SOP %s only partly readable: %s", record.sop_uid, exc)
            return describe(Dataset(), self.zone)

    # --- completion ------------------------------------------------------------------------
    def _slices(self, series: SeriesState) -> list[SliceInfo]:
        """The series' slice headers: from memory, or read again from the stored files."""
        if series.slices is not None:
            return series.slices
        with self.factory() as session:
            paths = list(session.scalars(select(Instance.path)
                                         .where(Instance.series_id == series.series_id)))
        slices = []
        for path in paths:
            try:
                slices.append(slice_info(pydicom.dcmread(path, stop_before_pixels=True)))
            except Exception as exc:
                log.warning("cannot re-read header of %s: %s", Path(path).name, exc)
        series.slices = slices
        return slices

    def complete_series(self, series: SeriesState, reason: str) -> Completion:
        """Classify the series, mark it complete and write its completion event."""
        kind = classify_slices(self._slices(series))
        now = datetime.now(UTC)
        with self.factory.begin() as session:
            session.execute(update(Series).where(Series.id == series.series_id).values(
                kind=kind, completed_at=now, completion_reason=reason,
                instance_count=series.count, expected_count=series.expected))
            event = CompletionEvent(level="series", study_instance_uid=series.study_uid,
                                    series_instance_uid=series.series_uid, reason=reason,
                                    instance_count=series.count, created_at=now)
            session.add(event)
            session.flush()
            event_id = event.id
        series.complete = True
        log.info("series %s complete by %s: %d images, kind %s", series.series_uid, reason,
                 series.count, kind)
        return Completion(event_id, "series", series.study_uid, series.series_uid, reason,
                          series.count, kind, now)

    def complete_study(self, study: StudyState, count: int) -> Completion:
        """Mark the study complete and write its completion event."""
        now = datetime.now(UTC)
        with self.factory.begin() as session:
            session.execute(update(Study).where(Study.id == study.study_id)
                            .values(completed_at=now))
            event = CompletionEvent(level="study", study_instance_uid=study.study_uid,
                                    series_instance_uid=None, reason="quiet",
                                    instance_count=count, created_at=now)
            session.add(event)
            session.flush()
            event_id = event.id
        study.complete = True
        log.info("study %s complete: %d images", study.study_uid, count)
        return Completion(event_id, "study", study.study_uid, None, "quiet", count, None, now)

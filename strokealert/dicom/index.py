"""The indexer: one background thread that owns every ingest write to the database.

The receiver's handlers only put records on a queue. This thread drains it in batches (one
transaction per batch), keeps per-series counts in memory, decides completion (by the count the
headers announce, else after ``series_quiet_s`` of silence; a study after ``study_quiet_s`` once
all its series are complete), writes each completion exactly once as a ``CompletionEvent`` in the
same transaction that marks the series complete, and then calls the in-process callbacks. An
image arriving for a completed series re-opens it (and its study); it completes again later.
Being the only writer, it also runs the retention purge between batches.

Nothing answered with success is dropped: a batch the database cannot take goes to the
:class:`Journal` on the local disk (not memory) and is replayed when the database answers again
(probed with back-off); completions wait meanwhile. At start the journal is replayed and the
index reconciled with the store (:mod:`strokealert.dicom.reconcile`) before any completion is
decided; the whole store is reconciled again every ``reconcile_interval_s``.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pydicom
from pydicom.dataset import Dataset
from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from strokealert.config import Settings
from strokealert.db.models.ingest import CompletionEvent, Instance, QuarantinedFile, Series, Study
from strokealert.dicom.classify import SliceInfo, classify_slices, expected_count, slice_info
from strokealert.dicom.header import Description, RawHeader, describe
from strokealert.dicom.journal import Journal
from strokealert.dicom.reconcile import reconcile
from strokealert.dicom.records import (
    Completion,
    CompletionCallback,
    InstanceRecord,
    QuarantineRecord,
    Record,
)
from strokealert.dicom.retention import purge_expired
from strokealert.dicom.store import ImageStore

__all__ = ["Completion", "CompletionCallback", "Indexer", "InstanceRecord", "QuarantineRecord"]

log = logging.getLogger(__name__)

BATCH_MAX = 500
BATCH_WINDOW_S = 0.25  # collect records this long after the first (adds to completion latency)
RETRY_WAIT_S = (0.25, 5.0)  # first and longest pause between database probes (doubles)
RECONCILE_MARGIN_S = 60.0  # series folders changed this long before the last pass are checked
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


@dataclass
class _SeriesState:
    series_id: int
    study_uid: str
    series_uid: str
    count: int
    last_received: float  # epoch seconds of the last image
    complete: bool
    expected: int | None
    first: SliceInfo | None = None
    slices: list[SliceInfo] | None = field(default_factory=list)  # None: read from files
    acquisition_numbers: set[int] = field(default_factory=set)
    temporal_indices: set[int] = field(default_factory=set)


@dataclass
class _StudyState:
    study_id: int
    study_uid: str
    last_received: float
    complete: bool
    series: set[str] = field(default_factory=set)


def _epoch(moment: datetime | None) -> float:
    if moment is None:
        return time.time()
    if moment.tzinfo is None:  # SQLite returns naive datetimes (stored as UTC)
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class Indexer:
    """Background indexer and completion monitor (see the module docstring)."""

    def __init__(self, settings: Settings, factory: sessionmaker[Session], store: ImageStore,
                 *, retention_interval_s: float | None = None) -> None:
        self.settings = settings
        self.factory = factory
        self.store = store
        self.zone = ZoneInfo(settings.timezone)
        self.retention_interval_s = (settings.retention_interval_s
                                     if retention_interval_s is None else retention_interval_s)
        self.on_series_complete: list[CompletionCallback] = []
        self.on_study_complete: list[CompletionCallback] = []
        self._queue: queue.Queue[Record] = queue.Queue()
        self._series: dict[str, _SeriesState] = {}
        self._studies: dict[str, _StudyState] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_purge = 0.0
        self._next_reconcile = 0.0
        self._started_at = time.time()
        self.journal = Journal(settings.data_dir / "journal" / "index.jsonl")
        self._reconciled_marker = settings.data_dir / "journal" / "reconciled-at"
        self._stale = True  # the in-memory state must be (re)loaded from the database
        self._retry_wait_s = RETRY_WAIT_S[0]
        self._next_try = 0.0  # monotonic time of the next database attempt after a failure

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Start the thread; it replays the journal and reconciles before deciding anything."""
        self._started_at = time.time()
        self._next_purge = time.time() + min(60.0, self.retention_interval_s)
        self._next_reconcile = time.time() + self.settings.reconcile_interval_s
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="dicom-indexer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Index what is queued, then stop."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def submit(self, record: Record) -> None:
        """Queue a record (called from the receiver's handlers; never blocks)."""
        self._queue.put(record)

    def join(self) -> None:
        """Block until every record submitted so far is indexed (or, while the database
        is down, in the journal)."""
        self._queue.join()

    # --- main loop -------------------------------------------------------------------------
    def _run(self) -> None:
        recovered = self._recover(startup=True)
        while True:
            batch = self._drain(self._wait_s() if recovered else 0.05)
            if batch:
                self._write(batch)
                for _ in batch:
                    self._queue.task_done()
            if not recovered and time.monotonic() >= self._next_try:
                recovered = self._recover(startup=True)
            elif recovered:
                self._housekeeping()
            if self._stop.is_set() and self._queue.empty():
                return

    def _write(self, batch: list[Record]) -> None:
        """Index ``batch``, or append it to the journal while the database is unreachable
        (or the journal still holds older records); never drops it."""
        if not self.journal.pending and self._index_or_isolate(batch):
            return
        for record in batch:  # the journal holds hashes, not bytes or headers
            if isinstance(record, InstanceRecord):
                if record.sha256 is None:
                    record.sha256 = sha256_of(record)
                record.chunks = record.dataset = None
        self.journal.append(batch)
        log.warning("database unreachable: %d records kept in the index journal", len(batch))

    def _index_or_isolate(self, batch: list[Record]) -> bool:
        """Index ``batch``; False if the database is unreachable. A batch that fails with the
        database up is indexed one record at a time, and a record that still fails is logged
        (its file stays in the store: reconciliation retries it)."""
        try:
            if self._stale:
                self._reload_state()
            self._index(batch)
            return True
        except Exception as exc:
            self._stale = True
            if not self._database_reachable():
                self._schedule_retry(exc)
                return False
            log.exception("a batch of %d records failed; indexing them one by one", len(batch))
        for record in batch:
            try:
                if self._stale:
                    self._reload_state()
                self._index([record])
            except Exception as exc:
                self._stale = True
                if not self._database_reachable():
                    self._schedule_retry(exc)
                    return False  # the whole batch goes to the journal: indexing is idempotent
                log.exception("cannot index %s; its file stays in the store and "
                              "reconciliation retries it", record.path)
        return True

    def _database_reachable(self) -> bool:
        try:
            with self.factory() as session:
                session.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def _schedule_retry(self, exc: BaseException) -> None:
        """Wait before the next database attempt, doubling up to ``RETRY_WAIT_S[1]``."""
        log.warning("database unreachable (%s: %s); retrying in %.2f s", type(exc).__name__,
                    str(exc).splitlines()[0] if str(exc) else "", self._retry_wait_s)
        self._next_try = time.monotonic() + self._retry_wait_s
        self._retry_wait_s = min(self._retry_wait_s * 2, RETRY_WAIT_S[1])

    def _recover(self, *, startup: bool = False) -> bool:
        """Replay the journal (and at start reconcile the changed series folders); False if
        the database is still unreachable."""
        try:
            self._reload_state()
            replayed = 0
            for chunk in self.journal.chunks(BATCH_MAX):
                if not self._index_or_isolate(chunk):
                    return False
                replayed += len(chunk)
            if replayed:
                self.journal.clear()
                log.info("index journal replayed: %d records", replayed)
            if startup:
                self.reconcile(full=False)
        except Exception as exc:
            self._stale = True
            self._schedule_retry(exc)
            return False
        self._retry_wait_s = RETRY_WAIT_S[0]
        return True

    def _housekeeping(self) -> None:
        """Replay a pending journal, decide completions, purge and reconcile when due."""
        if time.monotonic() < self._next_try:
            return
        if self.journal.pending and not self._recover():
            return
        try:
            if self._stale:
                self._reload_state()
            self._check_completions()
            if time.time() >= self._next_purge:
                self.purge()
            if time.time() >= self._next_reconcile:
                self.reconcile(full=True)
            self._retry_wait_s = RETRY_WAIT_S[0]
        except Exception as exc:
            self._stale = True
            self._schedule_retry(exc)

    def _reload_state(self) -> None:
        """The in-memory counts from the database (after a start or a failed write)."""
        self._series.clear()
        self._studies.clear()
        self._load_open_state()
        self._stale = False

    def reconcile(self, *, full: bool) -> None:
        """Index stored files missing from the index and report rows without files (runs on
        the indexer thread); ``full=False`` checks only folders changed since the last pass."""
        started = time.time()
        since = None
        if not full and self._reconciled_marker.exists():
            since = float(self._reconciled_marker.read_text()) - RECONCILE_MARGIN_S
        reconcile(self.factory, self.store, self._index_reconciled, since=since,
                  batch_size=BATCH_MAX)
        self._reconciled_marker.parent.mkdir(parents=True, exist_ok=True)
        self._reconciled_marker.write_text(f"{started:.3f}\n")
        self._next_reconcile = started + self.settings.reconcile_interval_s

    def _index_reconciled(self, batch: list[InstanceRecord]) -> None:
        if not self._index_or_isolate(list(batch)):
            raise ConnectionError("database unreachable during reconciliation")

    def _wait_s(self) -> float:
        """Time until the next quiet-time deadline, clamped to [0.01, 0.5] s."""
        now = time.time()
        deadlines = [s.last_received + self.settings.series_quiet_s
                     for s in self._series.values() if not s.complete]
        deadlines += [s.last_received + self.settings.study_quiet_s
                      for s in self._studies.values() if not s.complete]
        if not deadlines:
            return 0.5
        return min(0.5, max(0.01, min(deadlines) - now))

    def _drain(self, timeout: float) -> list[Record]:
        """The next batch: waits ``timeout`` for a first record, then up to
        ``BATCH_WINDOW_S`` for more (one transaction per batch, not per image)."""
        try:
            batch = [self._queue.get(timeout=timeout)]
        except queue.Empty:
            return []
        window_end = time.monotonic() + BATCH_WINDOW_S
        while len(batch) < BATCH_MAX:
            left = window_end - time.monotonic()
            try:
                batch.append(self._queue.get(timeout=left) if left > 0
                             else self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    # --- state -----------------------------------------------------------------------------
    def _load_open_state(self) -> None:
        """Series and studies not yet complete (after a restart), with their counts."""
        with self.factory() as session:
            rows = session.execute(
                select(Series, Study.study_instance_uid).join(Study)
                .where((Series.completed_at.is_(None)) | (Study.completed_at.is_(None))))
            for series, study_uid in rows:
                study_state = self._studies.get(study_uid)
                if study_state is None:
                    study_row = session.get(Study, series.study_id)
                    assert study_row is not None
                    study_state = self._studies[study_uid] = _StudyState(
                        study_row.id, study_uid, self._quiet_from(study_row.last_received_at),
                        study_row.completed_at is not None)
                study_state.series.add(series.series_instance_uid)
                self._series[series.series_instance_uid] = self._state_from_row(series, study_uid)

    def _study_state(self, session: Session, record: InstanceRecord,
                     desc: Description) -> _StudyState:
        state = self._studies.get(record.study_uid)
        if state is not None:
            return state
        row = session.scalar(select(Study).where(Study.study_instance_uid == record.study_uid))
        if row is None:
            row = Study(study_instance_uid=record.study_uid, calling_aet=record.calling_aet,
                        first_received_at=record.received_at,
                        last_received_at=record.received_at, **desc.study_fields)
            session.add(row)
            session.flush()
        state = _StudyState(row.id, record.study_uid, self._quiet_from(row.last_received_at),
                            row.completed_at is not None)
        for series in session.scalars(select(Series).where(Series.study_id == row.id)):
            state.series.add(series.series_instance_uid)  # all of them: the study waits for all
            self._series.setdefault(series.series_instance_uid, self._state_from_row(
                series, record.study_uid))
        self._studies[record.study_uid] = state
        return state

    def _quiet_from(self, last_received: datetime | None) -> float:
        """Where a reloaded series' or study's quiet time starts (epoch s): its last image,
        or this indexer's start if later (the scanner could not reach a stopped service)."""
        return max(_epoch(last_received), self._started_at)

    def _state_from_row(self, series: Series, study_uid: str) -> _SeriesState:
        """State of a series known only from the database (headers re-read when needed)."""
        return _SeriesState(series.id, study_uid, series.series_instance_uid,
                            series.instance_count, self._quiet_from(series.last_received_at),
                            series.completed_at is not None, series.expected_count,
                            slices=None if series.instance_count else [])

    def _series_state(self, session: Session, record: InstanceRecord, desc: Description,
                      study: _StudyState) -> _SeriesState:
        state = self._series.get(record.series_uid)
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
        state = self._state_from_row(row, record.study_uid)
        study.series.add(record.series_uid)
        self._series[record.series_uid] = state
        return state

    # --- indexing --------------------------------------------------------------------------
    def _index(self, batch: list[Record]) -> None:
        """Write one batch in one transaction and update the in-memory counts."""
        instances = [r for r in batch if isinstance(r, InstanceRecord)]
        touched_series: dict[str, _SeriesState] = {}
        touched_studies: dict[str, _StudyState] = {}
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
                epoch = record.received_at.timestamp()
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
                    series.count += 1
                    self._add_slice(series, desc.slice)
                series.last_received = max(series.last_received, epoch)
                study.last_received = max(study.last_received, epoch)
                if series.complete:
                    series.complete = False
                    reopened_series.add(series.series_uid)
                if study.complete:
                    study.complete = False
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

    def _add_slice(self, series: _SeriesState, info: SliceInfo) -> None:
        if series.slices is not None:
            series.slices.append(info)
        if info.acquisition_number is not None:
            series.acquisition_numbers.add(info.acquisition_number)
        if info.temporal_index is not None:
            series.temporal_indices.add(info.temporal_index)
        if series.first is None:
            series.first = info
        series.expected = expected_count(series.first, len(series.acquisition_numbers),
                                         len(series.temporal_indices))

    # --- completion ------------------------------------------------------------------------
    def _check_completions(self) -> None:
        now = time.time()
        due: list[tuple[_SeriesState, str]] = []
        for series in self._series.values():
            if series.complete or series.count == 0:
                continue
            if series.expected is not None and series.count >= series.expected:
                due.append((series, "count"))
            elif now - series.last_received >= self.settings.series_quiet_s:
                due.append((series, "quiet"))
        done: list[Completion] = [self._complete_series(series, reason) for series, reason in due]
        for study in self._studies.values():
            if study.complete or not study.series:
                continue
            states = [self._series.get(uid) for uid in study.series]
            if all(s is not None and s.complete for s in states) \
                    and now - study.last_received >= self.settings.study_quiet_s:
                done.append(self._complete_study(study, sum(s.count for s in states if s)))
        for completion in done:
            callbacks = (self.on_series_complete if completion.level == "series"
                         else self.on_study_complete)
            for callback in callbacks:
                try:
                    callback(completion)
                except Exception:
                    log.exception("completion callback failed")
        if any(c.level == "study" for c in done):
            self._forget_completed_studies()

    def _slices(self, series: _SeriesState) -> list[SliceInfo]:
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

    def _complete_series(self, series: _SeriesState, reason: str) -> Completion:
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

    def _complete_study(self, study: _StudyState, count: int) -> Completion:
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

    def _forget_completed_studies(self) -> None:
        """Drop the in-memory state of complete studies; a late image reloads it."""
        for uid in [u for u, s in self._studies.items() if s.complete]:
            for series_uid in self._studies.pop(uid).series:
                self._series.pop(series_uid, None)

    # --- retention -------------------------------------------------------------------------
    def purge(self) -> int:
        """Purge images older than ``retention_days`` now (runs on the indexer thread)."""
        self._next_purge = time.time() + self.retention_interval_s
        cutoff = datetime.now(UTC) - timedelta(days=self.settings.retention_days)
        removed = purge_expired(self.factory, self.store, cutoff)
        if removed:
            self._reload_state()
        return removed

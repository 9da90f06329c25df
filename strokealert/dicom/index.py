"""The indexer: one background thread that owns every ingest write to the database.

The receiver's handlers only put records on a queue. This thread takes them in batches (one
transaction per batch, written by :class:`IndexWriter`), lets the :class:`CompletionTracker`
decide completion (by the count the headers announce, else after ``series_quiet_s`` of silence;
a study after ``study_quiet_s`` once all its series are complete), has each completion written
exactly once as a ``CompletionEvent`` and hands it to the :class:`CompletionFanout`. The thread
sleeps until a record arrives or the next deadline (quiet time, retention, reconciliation),
waking at least every ``FALLBACK_WAKE_S``. Being the only writer, it also runs the retention
purge (:class:`Retention`) between batches.

Nothing answered with success is dropped: a batch the database cannot take goes to the
:class:`Journal` on the local disk (not memory) and is replayed when the database answers again
(probed with back-off); completions wait meanwhile. At start the journal is replayed and the
index reconciled with the store (:mod:`strokealert.dicom.reconcile`) before any completion is
decided; the whole store is reconciled again every ``reconcile_interval_s``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from strokealert.config import Settings
from strokealert.dicom.completion import (
    CompletionFanout,
    CompletionHooks,
    CompletionTracker,
)
from strokealert.dicom.index_writer import IndexWriter, sha256_of
from strokealert.dicom.journal import Journal
from strokealert.dicom.reconcile import reconcile
from strokealert.dicom.records import (
    Completion,
    CompletionCallback,
    InstanceRecord,
    QuarantineRecord,
    Record,
)
from strokealert.dicom.retention import Retention
from strokealert.dicom.store import ImageStore

__all__ = ["Completion", "CompletionCallback", "Indexer", "InstanceRecord", "QuarantineRecord"]

log = logging.getLogger(__name__)

BATCH_MAX = 500
BATCH_WINDOW_S = 0.25  # collect records this long after the first (adds to completion latency)
FALLBACK_WAKE_S = 5.0  # longest sleep when no record and no deadline wakes the thread
RETRY_WAIT_S = (0.25, 5.0)  # first and longest pause between database probes (doubles)
RECONCILE_MARGIN_S = 60.0  # series folders changed this long before the last pass are checked


class Indexer(CompletionHooks):
    """Background indexer and completion monitor (see the module docstring)."""

    def __init__(self, settings: Settings, factory: sessionmaker[Session], store: ImageStore,
                 *, retention_interval_s: float | None = None) -> None:
        self.settings = settings
        self.factory = factory
        self.store = store
        self.fanout = CompletionFanout()
        self.tracker = CompletionTracker(settings.series_quiet_s, settings.study_quiet_s)
        self.writer = IndexWriter(factory, self.tracker, ZoneInfo(settings.timezone),
                                  quiet_from=time.time())
        self.retention = Retention(factory, store, settings.retention_days,
                                   settings.retention_interval_s if retention_interval_s is None
                                   else retention_interval_s)
        self.journal = Journal(settings.data_dir / "journal" / "index.jsonl")
        self._reconciled_marker = settings.data_dir / "journal" / "reconciled-at"
        self._next_reconcile = 0.0
        self._queue: queue.Queue[Record | None] = queue.Queue()  # None: wake up
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._stale = True  # the tracker must be (re)loaded from the database
        self._retry_wait_s = RETRY_WAIT_S[0]
        self._next_try = 0.0  # monotonic time of the next database attempt after a failure

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Start the thread; it replays the journal and reconciles before deciding anything."""
        self.writer.quiet_from = time.time()
        self._next_reconcile = time.time() + self.settings.reconcile_interval_s
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="dicom-indexer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Index what is queued, then stop."""
        self._stop.set()
        self._queue.put(None)
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
            items = self._drain(self._wait_s() if recovered else RETRY_WAIT_S[0])
            batch = [item for item in items if item is not None]
            if batch:
                self._write(batch)
            for _ in items:
                self._queue.task_done()
            if not recovered and time.monotonic() >= self._next_try:
                recovered = self._recover(startup=True)
            elif recovered:
                self._housekeeping()
            if self._stop.is_set() and self._queue.empty():
                return

    def _wait_s(self) -> float:
        """Seconds until the next deadline (quiet time, purge, reconciliation, retry)."""
        now = time.time()
        deadlines = [self.retention.next_at, self._next_reconcile]
        retry_in = self._next_try - time.monotonic()
        if retry_in > 0:
            deadlines.append(now + retry_in)
        quiet = self.tracker.next_deadline()
        if quiet is not None:
            deadlines.append(quiet)
        return min(FALLBACK_WAKE_S, max(0.01, min(deadlines) - now))

    def _drain(self, timeout: float) -> list[Record | None]:
        """The next batch: waits ``timeout`` for a first record (or a wake-up, None), then
        up to ``BATCH_WINDOW_S`` for more (one transaction per batch, not per image)."""
        items: list[Record | None] = []
        try:
            items.append(self._queue.get(timeout=timeout))
        except queue.Empty:
            return []
        window_end = time.monotonic() + BATCH_WINDOW_S
        while len(items) < BATCH_MAX and not self._stop.is_set():
            left = window_end - time.monotonic()
            try:
                items.append(self._queue.get(timeout=left) if left > 0
                             else self._queue.get_nowait())
            except queue.Empty:
                break
        return items

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
            self.writer.write(batch)
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
                self.writer.write([record])
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

    def _reload_state(self) -> None:
        """The tracker's state from the database (after a start or a failed write)."""
        self.writer.load_open_state()
        self._stale = False

    # --- housekeeping ----------------------------------------------------------------------
    def _housekeeping(self) -> None:
        """Replay a pending journal, decide completions, purge and reconcile when due."""
        if time.monotonic() < self._next_try:
            return
        if self.journal.pending and not self._recover():
            return
        try:
            if self._stale:
                self._reload_state()
            self._complete_due()
            if self.retention.due(time.time()) and self.retention.purge():
                self._reload_state()
            if time.time() >= self._next_reconcile:
                self.reconcile(full=True)
            self._retry_wait_s = RETRY_WAIT_S[0]
        except Exception as exc:
            self._stale = True
            self._schedule_retry(exc)

    def _complete_due(self) -> None:
        """Write the completions that are due, then hand them to the callbacks."""
        now = time.time()
        done = [self.writer.complete_series(series, reason)
                for series, reason in self.tracker.due_series(now)]
        done += [self.writer.complete_study(study, count)
                 for study, count in self.tracker.due_studies(now)]
        for completion in done:
            self.fanout.publish(completion)
        if any(c.level == "study" for c in done):
            self.tracker.forget_completed_studies()

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

"""The pipeline's dispatcher inside the service: wakes on completions, queues and submits jobs."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from strokealert.config import Settings
from strokealert.db.models.pipeline import Job
from strokealert.db.wakeup import COMPLETION, Subscription, wakeup_for
from strokealert.pipeline.executors import Executor, LocalExecutor, make_executor
from strokealert.pipeline.jobs import consume_completion_events, recoverable_jobs

log = logging.getLogger(__name__)


class PipelineComponent:
    """Consumes completion events into jobs and hands them to the executor.

    It wakes when a completion event is committed: on PostgreSQL by the ``completion_events``
    trigger's NOTIFY (any process's writes), and by :meth:`wake`, which the in-process ingest's
    completion callbacks call. A poll every ``poll_s`` seconds is only the fallback (a lost
    wake-up, a restart).
    """

    def __init__(self, settings: Settings, factory: sessionmaker[Session],
                 executor: Executor | None = None, poll_s: float = 5.0,
                 sweep_s: float = 30.0) -> None:
        self.settings = settings
        self.factory = factory
        self.executor = executor
        self.poll_s = poll_s
        self.sweep_s = sweep_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._woken_by: Subscription | None = None

    def wake(self, *_: object) -> None:
        self._wake.set()

    def start(self) -> None:
        if self.executor is None:
            self.executor = make_executor(self.settings)
        if isinstance(self.executor, LocalExecutor):
            # The local pool died with the previous process: its running jobs are orphans.
            with self.factory.begin() as session:
                session.execute(update(Job).where(Job.status == "running")
                                .values(status="queued", lease_until=None))
            self.executor.warm()
        self._stop.clear()
        self._woken_by = wakeup_for(self.factory.kw["bind"]).subscribe(COMPLETION, self.wake)
        self._thread = threading.Thread(target=self._run, name="pipeline-dispatch", daemon=True)
        self._thread.start()

    def _submit_recoverable(self, queued_for_s: float) -> None:
        assert self.executor is not None
        busy = self.executor.in_flight()
        for job_id in recoverable_jobs(self.factory, queued_for_s):
            if job_id not in busy:
                self.executor.submit(job_id)

    def _run(self) -> None:
        assert self.executor is not None
        last_sweep: float | None = None
        while not self._stop.is_set():
            try:
                if last_sweep is None or time.monotonic() - last_sweep >= self.sweep_s:
                    # First pass after start: everything left over; later: only stragglers.
                    self._submit_recoverable(0.0 if last_sweep is None else self.sweep_s)
                    last_sweep = time.monotonic()
                for job_id in consume_completion_events(self.factory, self.settings):
                    self.executor.submit(job_id)
            except Exception:
                log.exception("pipeline dispatch failed; retrying")
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def stop(self) -> None:
        if self._woken_by is not None:
            self._woken_by.close()
            self._woken_by = None
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self.executor is not None:
            self.executor.shutdown()

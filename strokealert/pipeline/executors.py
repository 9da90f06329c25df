"""Executors run jobs: ``local`` (a process pool beside the receiver) or ``celery`` (workers).

Both call the same :func:`strokealert.pipeline.jobs.execute_job`; submitting a job twice is
harmless because a job is claimed atomically before it runs.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Protocol

from strokealert.config import Settings
from strokealert.pipeline.worker import session_factory_for, warm_up

log = logging.getLogger(__name__)


class Executor(Protocol):
    def submit(self, job_id: int) -> None: ...

    def in_flight(self) -> set[int]: ...

    def shutdown(self) -> None: ...


_worker_settings: Settings | None = None


def _init_worker(settings_json: dict[str, Any]) -> None:
    """Process-pool initializer: settings, engine, and the heavy imports done once, up front."""
    global _worker_settings
    _worker_settings = Settings(**settings_json)
    session_factory_for(_worker_settings.resolved_database_url)
    warm_up()
    # The job code too (DB models, results, monitoring): a worker's first job paid ~5 s of
    # imports on a loaded machine before it claimed its job.
    import strokealert.pipeline.jobs  # noqa: F401


def _run_job_in_worker(job_id: int) -> str:
    from strokealert.pipeline.jobs import execute_job

    assert _worker_settings is not None
    factory = session_factory_for(_worker_settings.resolved_database_url)
    return execute_job(factory, _worker_settings, job_id)


class LocalExecutor:
    """A pool of spawned processes, so analysis never holds the receiver's GIL."""

    def __init__(self, settings: Settings) -> None:
        self._workers = max(1, settings.workers)
        self._pool = ProcessPoolExecutor(
            max_workers=self._workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(settings.model_dump(mode="json"),),
        )
        self._lock = threading.Lock()
        self._in_flight: set[int] = set()

    def submit(self, job_id: int) -> None:
        with self._lock:
            if job_id in self._in_flight:
                return
            self._in_flight.add(job_id)
        future = self._pool.submit(_run_job_in_worker, job_id)
        future.add_done_callback(functools.partial(self._done, job_id))

    def _done(self, job_id: int, future: Future[str]) -> None:
        with self._lock:
            self._in_flight.discard(job_id)
        if future.exception() is not None:
            log.error("job %s crashed its worker: %s", job_id, future.exception())

    def in_flight(self) -> set[int]:
        with self._lock:
            return set(self._in_flight)

    def warm(self) -> None:
        """Start every worker process now (imports and model load) rather than on first use."""
        for future in [self._pool.submit(int, 0) for _ in range(self._workers)]:
            future.result()

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class CeleryExecutor:
    """Sends job ids to Celery workers over the broker (Redis); results live in the database."""

    def __init__(self, settings: Settings) -> None:
        from strokealert.pipeline.celery_app import run_job

        self._run_job = run_job

    def submit(self, job_id: int) -> None:
        self._run_job.delay(job_id)

    def in_flight(self) -> set[int]:
        return set()

    def shutdown(self) -> None:
        return None


def make_executor(settings: Settings) -> Executor:
    if settings.executor == "celery":
        if not settings.broker_url:
            raise ValueError("STROKEALERT_BROKER_URL is required with STROKEALERT_EXECUTOR=celery")
        return CeleryExecutor(settings)
    return LocalExecutor(settings)

"""APScheduler 3 wrapper: one process wakes the escalation engine on an interval.

The job store is persistent (SQLAlchemy, table ``apscheduler_jobs``) with
``misfire_grace_time=None`` (a late wake-up still runs) and ``coalesce`` (missed runs collapse
into one). The job only wakes the engine; each escalation's next due time lives in the
database, so a restarted scheduler picks up exactly where the last one stopped. Never run two
schedulers on one job store (duplicate or missed runs): the service runs it embedded, or a
dedicated ``strokealert scheduler`` process does when scaled out.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine

log = logging.getLogger(__name__)

JOBS_TABLE = "apscheduler_jobs"
_TICKS: dict[str, Callable[[], object]] = {}
_LOCK = threading.Lock()


def run_tick(name: str) -> None:
    """The persisted job's target: call the engine tick registered under ``name``."""
    with _LOCK:
        tick = _TICKS.get(name)
    if tick is None:
        log.warning("no escalation engine registered as %r in this process", name)
        return
    tick()


class EscalationScheduler:
    """Runs ``tick`` every ``interval_s`` seconds from a job store, and earlier when told:
    :meth:`wake` (now) or :meth:`wake_at` (the next escalation's due time)."""

    def __init__(self, engine: Engine, tick: Callable[[], object], *,
                 name: str = "notifications", interval_s: float = 5.0) -> None:
        self.engine = engine
        self.tick = tick
        self.name = name
        self.interval_s = interval_s
        self.scheduler: BackgroundScheduler | None = None

    @property
    def job_id(self) -> str:
        return f"{self.name}-escalations"

    def start(self) -> None:
        with _LOCK:
            _TICKS[self.name] = self.tick
        scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=self.engine, tablename=JOBS_TABLE)},
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
            timezone=UTC)
        scheduler.start(paused=True)
        scheduler.add_job(run_tick, "interval", args=[self.name], id=self.job_id,
                          seconds=self.interval_s, replace_existing=True,
                          misfire_grace_time=None, coalesce=True, max_instances=1)
        scheduler.resume()
        self.scheduler = scheduler

    def wake(self) -> None:
        """Run the tick as soon as possible."""
        self.wake_at(datetime.now(UTC))

    def wake_at(self, when: datetime) -> None:
        """Run the tick at ``when`` (aware) when that comes before its next interval run."""
        if self.scheduler is None:
            return
        job = self.scheduler.get_job(self.job_id)
        if job is not None and (job.next_run_time is None or when < job.next_run_time):
            self.scheduler.modify_job(self.job_id, next_run_time=when)

    def stop(self, wait: bool = True) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=wait)
            self.scheduler = None
        with _LOCK:
            if _TICKS.get(self.name) is self.tick:
                del _TICKS[self.name]

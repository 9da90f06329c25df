"""Celery application for scaled-out analysis workers.

Run workers with ``celery -A strokealert.pipeline.celery_app worker``. The app reads the
settings (broker URL) when Celery first needs its configuration, not at import. Tasks are
acknowledged late and are idempotent (a job is claimed in the database before it runs), so a
worker lost mid-job makes the broker redeliver it and exactly one worker finishes it.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import worker_process_init

from strokealert.config import get_settings
from strokealert.pipeline.jobs import execute_job
from strokealert.pipeline.worker import session_factory_for, warm_up

app = Celery("strokealert")


@app.on_configure.connect
def _configure(sender: Celery, **_: Any) -> None:
    sender.conf.update(
        broker_url=get_settings().broker_url or "redis://127.0.0.1:6379/0",
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
    )


@worker_process_init.connect
def _warm(**_: object) -> None:
    warm_up()


@app.task(name="strokealert.run_job")
def run_job(job_id: int) -> str:
    """Run one pipeline job (no-op if another worker already has it)."""
    settings = get_settings()
    return execute_job(session_factory_for(settings.resolved_database_url), settings, job_id)

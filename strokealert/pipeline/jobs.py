"""Durable jobs: completion events → one job per changed NCCT/CTA/CTP series → case and alert.

The database is the truth. A job row is claimed with a conditional UPDATE (so two workers never
run it twice), its result is stored on the row, then the study is re-decided under a per-study
lock: the case is upserted and, if the decision changed since the last alert, exactly one alert
(``new`` the first time, ``update`` after) is written in the same transaction.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import CursorResult, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from strokealert.config import Settings
from strokealert.contracts.analysis import (
    SCHEMA,
    AlertBlock,
    AnalysisResult,
    Level,
    LvoBlock,
    NcctBlock,
    PerfusionBlock,
    SeriesEntry,
    not_run,
)
from strokealert.db.models.ingest import CompletionEvent, Instance, Series, Study
from strokealert.db.models.pipeline import Job, StageEvent, StudyDecision
from strokealert.db.wakeup import CASES, wakeup_for
from strokealert.errors import InputError
from strokealert.pipeline import analysis, monitor
from strokealert.pipeline.perfusion_settings import perfusion_config
from strokealert.pipeline.publish import publish
from strokealert.pipeline.rules import Decision, RuleSettings, decide

log = logging.getLogger(__name__)

JOB_KIND_BY_SERIES_KIND = {"ctp": "perfusion", "cta": "lvo", "ncct": "ncct"}
SERIES_LABEL_BY_JOB_KIND = {"perfusion": "CTP", "lvo": "CTA", "ncct": "NCCT"}


def utcnow() -> datetime:
    return datetime.now(UTC)


def record_stage(session: Session, study_uid: str, stage: str, *, series_uid: str | None = None,
                 at: datetime | None = None, detail: dict[str, Any] | None = None) -> None:
    """Add a timestamp to the study's timeline (received, complete, analysed, alerted, …)."""
    session.add(StageEvent(study_instance_uid=study_uid, series_instance_uid=series_uid,
                           stage=stage, at=at or utcnow(), detail=detail))


def series_digest(instances: list[Instance]) -> str:
    """SHA-256 over the sorted instance checksums: changes exactly when the content changes."""
    digest = hashlib.sha256()
    for sha in sorted(i.sha256 for i in instances):
        digest.update(sha.encode())
    return digest.hexdigest()


def enqueue_series(session: Session, series: Series, now: datetime) -> Job | None:
    """Queue an analysis of ``series`` as it stands now, unless that exact content was queued."""
    kind = JOB_KIND_BY_SERIES_KIND.get(series.kind)
    if kind is None:
        return None
    instances = list(session.scalars(select(Instance).where(Instance.series_id == series.id)))
    if not instances:
        return None
    key = f"{kind}:{series.series_instance_uid}:{series_digest(instances)[:32]}"
    if session.scalar(select(Job.id).where(Job.idempotency_key == key)) is not None:
        return None
    job = Job(idempotency_key=key, study_instance_uid=series.study.study_instance_uid,
              series_instance_uid=series.series_instance_uid, kind=kind,
              instance_count=len(instances), status="queued", attempts=0, created_at=now)
    try:
        with session.begin_nested():
            session.add(job)
    except IntegrityError:  # another dispatcher queued the same content a moment ago
        return None
    return job


def consume_completion_events(factory: sessionmaker[Session], settings: Settings) -> list[int]:
    """Turn unconsumed completion events into jobs; returns the ids of the jobs queued."""
    queued: list[int] = []
    studies_without_jobs: list[str] = []
    with factory.begin() as session:
        queued += release_due_jobs(session, utcnow())
        query = select(CompletionEvent).where(CompletionEvent.consumed_at.is_(None)) \
            .order_by(CompletionEvent.id).limit(200)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        events = list(session.scalars(query))
        now = utcnow()
        for event in events:
            event.consumed_at = now
            if event.level == "series" and event.series_instance_uid:
                series = session.scalar(select(Series).where(
                    Series.series_instance_uid == event.series_instance_uid))
                record_stage(session, event.study_instance_uid, "series_complete",
                             series_uid=event.series_instance_uid, at=event.created_at,
                             detail={"reason": event.reason, "images": event.instance_count})
                if series is not None:
                    job = enqueue_series(session, series, now)
                    if job is not None:
                        session.flush()
                        queued.append(job.id)
            elif event.level == "study":
                record_stage(session, event.study_instance_uid, "study_complete",
                             at=event.created_at, detail={"images": event.instance_count})
                has_jobs = session.scalar(select(Job.id).where(
                    Job.study_instance_uid == event.study_instance_uid).limit(1))
                if has_jobs is None:
                    studies_without_jobs.append(event.study_instance_uid)
    for study_uid in studies_without_jobs:
        finalize_study(factory, settings, study_uid)
    return queued


def release_due_jobs(session: Session, now: datetime) -> list[int]:
    """Jobs whose wait for missing images is over: handed back to the executor once."""
    due = list(session.scalars(select(Job.id).where(Job.status == "queued")
                               .where(Job.not_before <= now)))
    if due:
        session.execute(update(Job).where(Job.id.in_(due)).values(not_before=None))
    return due


def claim(factory: sessionmaker[Session], job_id: int, lease_s: float) -> bool:
    """Atomically take a queued job (or one whose lease expired) for this worker."""
    now = utcnow()
    with factory.begin() as session:
        result = cast(CursorResult[Any], session.execute(  # an UPDATE: its rows matched
            update(Job)
            .where(Job.id == job_id)
            .where((Job.status == "queued") | ((Job.status == "running")
                                               & (Job.lease_until < now)))
            .values(status="running", attempts=Job.attempts + 1, started_at=now,
                    lease_until=now + timedelta(seconds=lease_s),
                    worker=f"{socket.gethostname()}:{os.getpid()}")
        ))
        return result.rowcount == 1


def job_output_dir(settings: Settings, job: Job) -> Path:
    return settings.output_dir / job.study_instance_uid / f"{job.kind}-{job.id}"


def execute_job(factory: sessionmaker[Session], settings: Settings, job_id: int) -> str:
    """Run one job end to end (claim, analyse, store, decide, alert); returns its final status.

    Safe to call twice or concurrently for the same job: only the claimant runs it.
    """
    if not claim(factory, job_id, settings.job_lease_s):
        return "skipped"
    with factory() as session:
        job = session.get(Job, job_id)
        assert job is not None
        paths = [Path(p) for p in session.scalars(
            select(Instance.path).join(Series).where(
                Series.series_instance_uid == job.series_instance_uid))]
        kind, study_uid, series_uid, attempts = (job.kind, job.study_instance_uid,
                                                 job.series_instance_uid, job.attempts)
        out_dir = job_output_dir(settings, job)
        wait_until = job.created_at + timedelta(seconds=settings.incomplete_wait_s)
        newer = session.scalar(select(Job.id).where(Job.series_instance_uid == series_uid)
                               .where(Job.kind == kind).where(Job.id > job_id).limit(1))
    if newer is not None:  # images arrived since: the newer job analyses the series as it is
        with factory.begin() as session:
            session.execute(update(Job).where(Job.id == job_id).values(
                status="superseded", finished_at=utcnow(), lease_until=None))
        return "superseded"
    started = time.perf_counter()
    masks = blood = None
    try:
        series = usable_series(paths, series_uid)
        missing = series.completeness.describe(SERIES_LABEL_BY_JOB_KIND[kind]) \
            if series.completeness is not None else ""
        if missing and utcnow() < _aware(wait_until):
            wait_for_images(factory, job_id, study_uid, series_uid, _aware(wait_until), missing)
            return "waiting"
        out_dir.mkdir(parents=True, exist_ok=True)
        if kind == "perfusion":
            block, masks = analysis.run_perfusion_with_masks(series.paths, out_dir,
                                                             perfusion_config(settings))
        elif kind == "ncct":
            block, blood = analysis.run_ncct_with_labels(series.paths, out_dir)
        else:
            block = analysis.run_lvo(series.paths, out_dir)
        analysis.note_incomplete(block, series, SERIES_LABEL_BY_JOB_KIND[kind])
        status, error = "done", None
    except InputError as exc:  # nothing usable in the stored images: no retry helps
        block = {"status": "failed", "error": f"{kind} analysis failed: {exc}"}
        status, error = "failed", str(exc)
    except Exception as exc:
        log.exception("job %s (%s) raised on attempt %d", job_id, kind, attempts)
        if attempts < settings.job_max_attempts:
            with factory.begin() as session:
                session.execute(update(Job).where(Job.id == job_id)
                                .values(status="queued", error=str(exc), lease_until=None))
            return "retry"
        block = {"status": "failed", "error": f"{kind} analysis failed: {exc}"}
        status, error = "failed", str(exc)
    elapsed = time.perf_counter() - started
    with factory.begin() as session:
        session.execute(update(Job).where(Job.id == job_id).values(
            status=status, error=error, result=block, output_dir=str(out_dir),
            finished_at=utcnow(), lease_until=None, timings={kind: round(elapsed, 3)}))
        record_stage(session, study_uid, "analysed", series_uid=series_uid,
                     detail={"kind": kind, "status": block.get("status"),
                             "seconds": round(elapsed, 3)})
    finalize_study(factory, settings, study_uid)
    report = publish(settings, kind, paths, out_dir, block, masks, blood)
    if report is not None:
        with factory.begin() as session:
            record_stage(session, study_uid, "sent_to_pacs", series_uid=series_uid,
                         detail={"kind": kind, "ok": report.ok, "summary": report.summary()})
    monitor.after_alert(factory, settings, analysis=kind, study_uid=study_uid,
                        series_uid=series_uid, paths=paths, block=block)
    return status


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were written in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def usable_series(paths: list[Path], series_uid: str) -> analysis.SeriesFiles:
    """The job's series as stored: images screened for geometry, completeness assessed."""
    found = [entry for entry in analysis.discover(paths)
             if entry.series_instance_uid == series_uid]
    if not found:
        raise InputError(f"none of the {len(paths)} stored images belongs to the series")
    return found[0]


def wait_for_images(factory: sessionmaker[Session], job_id: int, study_uid: str,
                    series_uid: str, until: datetime, missing: str) -> None:
    """Put the job back until ``until``: the missing images may still come (no attempt used)."""
    with factory.begin() as session:
        session.execute(update(Job).where(Job.id == job_id).values(
            status="queued", not_before=until, lease_until=None, attempts=Job.attempts - 1))
        record_stage(session, study_uid, "waiting_for_images", series_uid=series_uid,
                     detail={"missing": missing, "until": until.isoformat()})
    log.info("job %s waits until %s for missing images: %s", job_id, until.isoformat(), missing)


def lock_study(session: Session, study_uid: str) -> None:
    """Serialise decisions per study: an advisory lock on PostgreSQL, the write lock on SQLite."""
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(study_uid.encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    else:
        session.execute(update(StudyDecision)
                        .where(StudyDecision.study_instance_uid == study_uid)
                        .values(updated_at=StudyDecision.updated_at))


def latest_blocks(session: Session, study_uid: str) -> dict[str, Job]:
    """The most recent finished job of each kind for the study."""
    jobs = session.scalars(select(Job).where(Job.study_instance_uid == study_uid)
                           .where(Job.status.in_(("done", "failed")))
                           .order_by(Job.finished_at, Job.id))
    return {job.kind: job for job in jobs}


def study_result(study: Study | None, study_uid: str, jobs: dict[str, Job],
                 perfusion: dict[str, Any] | None, lvo: dict[str, Any] | None,
                 decision: Decision, ncct: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``strokealert.analysis/1`` result of the study as analysed so far."""
    series = list(study.series) if study is not None else []
    return AnalysisResult(
        schema=SCHEMA,
        study_instance_uid=study_uid,
        series=[SeriesEntry.model_validate({
            "series_instance_uid": s.series_instance_uid, "kind": s.kind,
            "images": s.instance_count, "description": s.series_description or ""})
            for s in series],
        perfusion=PerfusionBlock.model_validate(perfusion or not_run()),
        lvo=LvoBlock.model_validate(lvo or not_run()),
        ncct=NcctBlock.model_validate(ncct or not_run()),
        alert=AlertBlock.model_validate(decision.to_json()),
        timings_s={kind: (job.timings or {}).get(kind) for kind, job in jobs.items()},
    ).to_json()


def rule_settings(settings: Settings) -> RuleSettings:
    return RuleSettings(lvo_critical=settings.rule_lvo_critical,
                        defuse3_critical=settings.rule_defuse3_critical,
                        large_core_ml=settings.rule_large_core_ml,
                        aspects_min=settings.rule_aspects_min)


def no_analysable_series(study: Study | None) -> dict[str, Any]:
    kinds = sorted({s.kind for s in study.series}) if study is not None else []
    return {"status": "failed",
            "error": "no NCCT, CTA or CT perfusion series in the study (received: "
                     + (", ".join(kinds) or "nothing readable") + ")"}


def finalize_study(factory: sessionmaker[Session], settings: Settings, study_uid: str) -> None:
    """Re-decide the study from its finished jobs; upsert the case; alert if it changed."""
    from strokealert import alerting
    from strokealert.cases import upsert_case_from_analysis

    with factory.begin() as session:
        lock_study(session, study_uid)
        study = session.scalar(select(Study).where(Study.study_instance_uid == study_uid))
        jobs = latest_blocks(session, study_uid)
        perfusion_block = jobs["perfusion"].result if "perfusion" in jobs else None
        lvo_block = jobs["lvo"].result if "lvo" in jobs else None
        ncct_block = jobs["ncct"].result if "ncct" in jobs else None
        if not jobs:
            perfusion_block = no_analysable_series(study)
        decision = decide(perfusion_block, lvo_block, rule_settings(settings), ncct_block)
        result = study_result(study, study_uid, jobs, perfusion_block, lvo_block, decision,
                              ncct_block)
        output_dirs = [job.output_dir for job in jobs.values() if job.output_dir]
        case = upsert_case_from_analysis(
            session, study=study, result=result, output_dirs=output_dirs,
            rule_fired=decision.rule_names, title=decision.title, summary=decision.body,
            site=settings.site_name, zone=ZoneInfo(settings.timezone))
        wakeup_for(factory.kw["bind"]).notify(session, CASES)  # live worklists look
        now = utcnow()
        signature = hashlib.sha256(
            f"{decision.level}|{decision.title}|{decision.body}".encode()).hexdigest()
        state = session.get(StudyDecision, study_uid)
        if state is None:
            state = StudyDecision(study_instance_uid=study_uid, case_id=case.id,
                                  alerted_signature=None, alerted_level=None)
            session.add(state)
        level = decision.level.value
        state.level, state.title, state.body = level, decision.title, decision.body
        state.rules, state.signature, state.updated_at = decision.rule_names, signature, now
        if decision.level is Level.NONE or state.alerted_signature == signature:
            return
        if state.alerted_signature is None:
            kind = "new"
        elif decision.level.rank < Level(state.alerted_level or Level.NONE).rank:
            kind = "escalation"  # more urgent than what was paged: page along the policy again
        else:
            kind = "update"  # same urgency, new details: only the people already paged
        state.alerted_signature, state.alerted_level = signature, level
        alert_id = alerting.raise_alert(
            session, settings, case_id=case.id, level=level, kind=kind,
            title=decision.title, body=decision.body, site=settings.site_name,
            url=f"{settings.public_url.rstrip('/')}/cases/{case.id}",
            key_images=list(case.key_images or []),
            policy=settings.resolved_ich_policy if decision.haemorrhage else None)
        record_stage(session, study_uid, "alerted", at=now,
                     detail={"alert_id": alert_id, "kind": kind, "level": level})
        log.info("study case %s: %s alert %s (%s)", case.id, kind, alert_id, level)


def recoverable_jobs(factory: sessionmaker[Session], queued_for_s: float = 0.0) -> list[int]:
    """Jobs to (re)submit: queued at least ``queued_for_s`` ago, or running past their lease."""
    now = utcnow()
    queued_before = now - timedelta(seconds=queued_for_s)
    with factory() as session:
        return list(session.scalars(
            select(Job.id).where(((Job.status == "queued") & (Job.created_at <= queued_before)
                                  & (Job.not_before.is_(None) | (Job.not_before <= now)))
                                 | ((Job.status == "running") & (Job.lease_until < now)))
            .order_by(Job.id)))

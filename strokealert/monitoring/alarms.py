"""Telling someone: a model whose PPV fell below the configured floor, or whose input drifted
past the threshold, opens an *episode*; opening one raises exactly one operational alert to the
admin escalation policy (never the stroke team's, never the stroke webhook). The episode closes
when the figure is back (PPV at or above the floor; drift below 80 % of the threshold, so a
score hovering at the threshold does not page again and again); the next crossing opens a new
episode and a new alert.

The database is the truth: an open episode holds the unique ``open_key`` of its kind and model,
so two processes evaluating at once cannot both open (and announce) it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from notifications.engine import AlertSpec, Notifier
from strokealert.db.models.monitoring import Episode, Fingerprint
from strokealert.monitoring import drift
from strokealert.monitoring.performance import outcomes, summary
from strokealert.monitoring.settings import MonitoringConfig

log = logging.getLogger(__name__)

ALERT_CASE_PREFIX = "monitoring-"  # the operational alert's case id: one per episode
CLOSE_FRACTION = 0.8  # drift below this share of the threshold closes its episode


@dataclass(frozen=True)
class Check:
    """One figure of one model against its limit: ``alarm`` when it is past the limit, ``clear``
    when it is back; neither when there are too few cases to judge."""

    kind: str
    model: str
    value: float | None
    threshold: float
    alarm: bool
    clear: bool
    detail: dict[str, Any]


def drift_window(session: Session, model: str, limit: int) -> list[Fingerprint]:
    """The ``limit`` most recent fingerprints of ``model``, newest first."""
    return list(session.scalars(select(Fingerprint).where(Fingerprint.model == model)
                                .order_by(Fingerprint.analysed_at.desc(), Fingerprint.id.desc())
                                .limit(limit)))


def rows_of(prints: list[Fingerprint]) -> list[dict[str, Any]]:
    return [{name: getattr(fp, name) for name in drift.FEATURES} for fp in prints]


def drift_check(session: Session, config: MonitoringConfig, analysis: str,
                model: str) -> Check:
    """The model's latest :attr:`MonitoringConfig.drift_window` analyses against the training
    summary and against the site's analyses of the ``baseline_days`` before the window; the
    score is the larger of the two comparisons."""
    window = drift_window(session, model, config.drift_window)
    detail: dict[str, Any] = {"window": len(window)}
    if len(window) < config.drift_min_cases:
        return Check("drift", model, None, config.drift_threshold, False, False, detail)
    rows = rows_of(window)
    scores: list[drift.Comparison] = []
    training = drift.reference_for(analysis)
    if training is not None:
        versus = drift.compare(rows, training)
        scores.append(versus)
        detail["training"] = {"score": versus.score, "feature": versus.feature,
                              "by_feature": versus.by_feature}
    oldest = window[-1].analysed_at
    baseline = list(session.scalars(
        select(Fingerprint).where(Fingerprint.model == model,
                                  Fingerprint.analysed_at < oldest,
                                  Fingerprint.analysed_at >= oldest
                                  - timedelta(days=config.baseline_days))))
    if len(baseline) >= config.drift_min_cases:
        versus = drift.compare(rows, drift.summarize(rows_of(baseline)))
        scores.append(versus)
        detail["baseline"] = {"score": versus.score, "feature": versus.feature,
                              "by_feature": versus.by_feature, "n": len(baseline)}
    if not scores:
        return Check("drift", model, None, config.drift_threshold, False, False, detail)
    worst = max(scores, key=lambda c: c.score)
    detail["feature"] = worst.feature
    return Check("drift", model, worst.score, config.drift_threshold,
                 worst.score >= config.drift_threshold,
                 worst.score < CLOSE_FRACTION * config.drift_threshold, detail)


def ppv_check(session: Session, config: MonitoringConfig, analysis: str, model: str,
              now: datetime) -> Check:
    """The model's PPV over the performance window, judged once enough positive calls are
    confirmed."""
    since = now - timedelta(days=config.performance_window_days)
    stats = summary(outcomes(session, analysis, since, None, model))
    ppv = stats["ppv"]
    detail = {"confirmed_positives": ppv.n, "low": ppv.low, "high": ppv.high,
              "window_days": config.performance_window_days}
    if ppv.n < config.ppv_min_confirmed or ppv.value is None:
        return Check("ppv_floor", model, ppv.value, config.ppv_floor, False, False, detail)
    return Check("ppv_floor", model, ppv.value, config.ppv_floor, ppv.value < config.ppv_floor,
                 ppv.value >= config.ppv_floor, detail)


def open_episode(session: Session, check: Check, now: datetime) -> Episode | None:
    """The new episode of ``check``, or None when one is open already (in the database)."""
    key = f"{check.kind}:{check.model}"
    if session.scalar(select(Episode.id).where(Episode.open_key == key)) is not None:
        return None
    episode = Episode(kind=check.kind, model=check.model, open_key=key, opened_at=now,
                      value=float(check.value or 0.0), threshold=check.threshold,
                      detail=check.detail)
    try:
        with session.begin_nested():
            session.add(episode)
    except IntegrityError:  # another process opened it a moment ago: it announces it
        return None
    return episode


def close_episode(session: Session, check: Check, now: datetime) -> Episode | None:
    episode = session.scalar(select(Episode).where(
        Episode.open_key == f"{check.kind}:{check.model}"))
    if episode is not None:
        episode.open_key, episode.closed_at = None, now
        session.flush()
    return episode


def alert_text(episode: Episode) -> tuple[str, str]:
    """Title and body of the operational alert (figures only: no case, no PHI)."""
    detail = episode.detail or {}
    if episode.kind == "ppv_floor":
        return (f"Model monitoring: PPV of {episode.model} below its floor",
                f"PPV {episode.value:.2f} (95 % CI {detail.get('low') or 0:.2f}-"
                f"{detail.get('high') or 0:.2f}, {detail.get('confirmed_positives')} confirmed "
                f"positive calls) is below the configured floor {episode.threshold:.2f}.")
    return (f"Model monitoring: input drift for {episode.model}",
            f"Drift score {episode.value:.2f} ({detail.get('feature')}) over the last "
            f"{detail.get('window')} analyses is above the threshold {episode.threshold:.2f}.")


def announce(session: Session, notifier: Notifier, episode: Episode, *, site: str,
             public_url: str) -> str:
    """Raise the episode's operational alert along ``notifier``'s (the admin) policy."""
    title, body = alert_text(episode)
    alert_id = notifier.raise_alert(session, AlertSpec(
        case_id=f"{ALERT_CASE_PREFIX}{episode.id}", level="warning", kind="new", title=title,
        body=body, site=site, url=f"{public_url.rstrip('/')}/monitoring"))
    episode.alert_id = alert_id
    session.flush()
    log.warning("monitoring: %s episode %d opened for %s (%.3f vs %.3f); alert %s",
                episode.kind, episode.id, episode.model, episode.value, episode.threshold,
                alert_id)
    return alert_id


def evaluate(session: Session, config: MonitoringConfig, notifier: Notifier, *, now: datetime,
             site: str, public_url: str, analysis: str = "lvo") -> list[Episode]:
    """Check every model of ``analysis`` seen in the performance window; open (and announce)
    or close episodes. Returns the episodes opened. Flushes, no commit."""
    since = now - timedelta(days=max(config.performance_window_days, config.baseline_days))
    models = list(session.scalars(select(Fingerprint.model).distinct().where(
        Fingerprint.analysis == analysis, Fingerprint.analysed_at >= since)))
    opened = []
    for model in sorted(models):
        for check in (ppv_check(session, config, analysis, model, now),
                      drift_check(session, config, analysis, model)):
            if check.alarm:
                episode = open_episode(session, check, now)
                if episode is not None:
                    announce(session, notifier, episode, site=site, public_url=public_url)
                    opened.append(episode)
            elif check.clear:
                close_episode(session, check, now)
    return opened


def open_episodes(session: Session) -> list[Episode]:
    """The episodes open now (the dashboard banner), oldest first."""
    return list(session.scalars(select(Episode).where(Episode.open_key.is_not(None))
                                .order_by(Episode.opened_at)))

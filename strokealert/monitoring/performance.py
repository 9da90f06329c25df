"""Performance per model version where readers confirmed: PPV, sensitivity and specificity with
Wilson 95 % intervals and the cases behind them, the share of manual-review abstentions, alert
rate per week, time from alert to confirmation; overall and per subgroup (scanner model,
reconstruction kernel, slice thickness, age band, sex).

An unconfirmed case and a manual-review abstention are never counted as right or wrong: they
are counted apart. Only aggregates leave this module (no identifiers, age only as a band).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from strokealert.db.models.cases import Case
from strokealert.db.models.monitoring import Confirmation, Fingerprint
from strokealert.monitoring.fingerprint import slice_band

Z95 = 1.959964
TRUTH_FIELD = {"lvo": "lvo", "ncct": "haemorrhage"}  # analysis -> confirmation field
SUBGROUPS: dict[str, str] = {"scanner_model": "Scanner model",
                             "kernel": "Reconstruction kernel",
                             "slice_band": "Slice thickness", "age_band": "Age band",
                             "sex": "Sex"}


@dataclass(frozen=True)
class Outcome:
    """One analysed case: the model's call, the confirmed truth (None: unconfirmed), times and
    the subgroup attributes."""

    model: str
    analysed_at: datetime
    positive: bool | None
    manual_review: bool
    truth: bool | None
    alert_sent_at: datetime | None
    confirmed_at: datetime | None
    core_plausible: bool | None
    attrs: dict[str, str]


@dataclass(frozen=True)
class Rate:
    """``k`` of ``n`` with the Wilson score interval (95 %); ``value`` None when ``n`` is 0."""

    k: int
    n: int
    value: float | None
    low: float | None
    high: float | None

    def as_json(self) -> dict[str, Any]:
        return {"k": self.k, "n": self.n, "value": self.value, "low": self.low,
                "high": self.high}


def wilson(k: int, n: int, z: float = Z95) -> Rate:
    """The Wilson score interval of ``k`` successes in ``n`` trials."""
    if n == 0:
        return Rate(k, n, None, None, None)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return Rate(k, n, p, max(0.0, centre - half), min(1.0, centre + half))


def outcomes(session: Session, analysis: str, since: datetime | None = None,
             until: datetime | None = None, model: str | None = None) -> list[Outcome]:
    """The latest fingerprint of each case analysed in [since, until) with its confirmation."""
    stmt = (select(Fingerprint, Confirmation, Case.alert_sent_at)
            .join(Case, Case.id == Fingerprint.case_id)
            .outerjoin(Confirmation, Confirmation.case_id == Fingerprint.case_id)
            .where(Fingerprint.analysis == analysis)
            .order_by(Fingerprint.analysed_at, Fingerprint.id))
    if since is not None:
        stmt = stmt.where(Fingerprint.analysed_at >= since)
    if until is not None:
        stmt = stmt.where(Fingerprint.analysed_at < until)
    if model is not None:
        stmt = stmt.where(Fingerprint.model == model)
    latest: dict[str, Outcome] = {}
    field = TRUTH_FIELD.get(analysis)
    for fp, conf, alert_sent_at in session.execute(stmt):
        truth = getattr(conf, field) if conf is not None and field else None
        latest[fp.case_id] = Outcome(
            model=fp.model, analysed_at=fp.analysed_at, positive=fp.positive,
            manual_review=fp.manual_review, truth=truth, alert_sent_at=alert_sent_at,
            confirmed_at=conf.confirmed_at if conf is not None else None,
            core_plausible=conf.core_plausible if conf is not None else None,
            attrs={"scanner_model": fp.scanner_model or "unknown",
                   "kernel": fp.kernel or "unknown",
                   "slice_band": slice_band(fp.slice_thickness_mm),
                   "age_band": fp.age_band or "unknown", "sex": fp.sex or "unknown"})
    return list(latest.values())


def summary(rows: Sequence[Outcome]) -> dict[str, Any]:
    """Counts and rates of ``rows``: the confusion matrix of the confirmed, non-abstaining
    calls, PPV / sensitivity / specificity (Wilson), abstentions and unconfirmed apart."""
    judged = [r for r in rows if not r.manual_review and r.positive is not None
              and r.truth is not None]
    tp = sum(1 for r in judged if r.positive and r.truth)
    fp = sum(1 for r in judged if r.positive and not r.truth)
    fn = sum(1 for r in judged if not r.positive and r.truth)
    tn = len(judged) - tp - fp - fn
    manual = sum(1 for r in rows if r.manual_review)
    plausible = [r.core_plausible for r in rows if r.core_plausible is not None]
    return {"n": len(rows), "confirmed": sum(1 for r in rows if r.truth is not None),
            "unconfirmed": sum(1 for r in rows if r.truth is None),
            "manual_review": wilson(manual, len(rows)),
            "tp": tp, "fp": fp, "fn": fn, "tn": tn,
            "ppv": wilson(tp, tp + fp), "sensitivity": wilson(tp, tp + fn),
            "specificity": wilson(tn, tn + fp),
            "core_plausible": wilson(sum(plausible), len(plausible)),
            "positives": sum(1 for r in rows if r.positive and not r.manual_review)}


def by(rows: Sequence[Outcome], key: Callable[[Outcome], str]) -> dict[str, dict[str, Any]]:
    """:func:`summary` of ``rows`` grouped by ``key``, keys sorted."""
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    return {name: summary(groups[name]) for name in sorted(groups)}


def subgroups(rows: Sequence[Outcome]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per :data:`SUBGROUPS` attribute, the summary of each of its values."""
    def attribute(name: str) -> Callable[[Outcome], str]:
        return lambda row: row.attrs[name]

    return {name: by(rows, attribute(name)) for name in SUBGROUPS}


def iso_week(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def weekly(rows: Sequence[Outcome]) -> list[dict[str, Any]]:
    """Per ISO week: analyses, positive calls (alerts), alert rate, manual-review share, PPV."""
    return [{"week": week, "analyses": s["n"], "alerts": s["positives"],
             "alert_rate": s["positives"] / s["n"] if s["n"] else None,
             "manual_review": s["manual_review"].value, "ppv": s["ppv"]}
            for week, s in by(rows, lambda r: iso_week(r.analysed_at)).items()]


def hours_to_confirmation(rows: Sequence[Outcome]) -> dict[str, float | int | None]:
    """Median and 90th percentile hours from the alert to the confirmation (alerted and
    confirmed cases only; a confirmation before the alert counts as 0)."""
    hours = sorted(max(0.0, (r.confirmed_at - r.alert_sent_at).total_seconds() / 3600)
                   for r in rows if r.confirmed_at is not None and r.alert_sent_at is not None)
    if not hours:
        return {"n": 0, "median": None, "p90": None}
    return {"n": len(hours), "median": round(statistics.median(hours), 1),
            "p90": round(hours[min(len(hours) - 1, math.ceil(0.9 * len(hours)) - 1)], 1)}


def report(session: Session, analysis: str, since: datetime, until: datetime) -> dict[str, Any]:
    """Everything the page and the monthly report show for one analysis, per model version."""
    rows = outcomes(session, analysis, since, until)
    models: dict[str, list[Outcome]] = defaultdict(list)
    for row in rows:
        models[row.model].append(row)
    return {"analysis": analysis, "since": since, "until": until,
            "models": {name: {"summary": summary(group), "subgroups": subgroups(group),
                              "weekly": weekly(group),
                              "to_confirmation_h": hours_to_confirmation(group)}
                       for name, group in sorted(models.items())}}

"""What the monitoring page, the monthly model performance report and ``/metrics`` show: the
performance figures of each model version over a period, its drift check now, and the
episodes. Aggregates only: no case identifiers, age as bands, sex as counts."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from strokealert import NOT_A_MEDICAL_DEVICE
from strokealert.db.models.monitoring import Episode
from strokealert.errors import InputError
from strokealert.monitoring import alarms, performance
from strokealert.monitoring.settings import MonitoringConfig

TEMPLATES = Path(__file__).parent / "templates"
ANALYSES = {"lvo": "Large vessel occlusion (CTA)", "ncct": "Haemorrhage (NCCT)"}
EPISODE_LABELS = {"ppv_floor": "PPV below its floor", "drift": "input drift"}


def overview(session: Session, config: MonitoringConfig, analysis: str, since: datetime,
             until: datetime) -> dict[str, Any]:
    """Performance per model in [since, until), each model's drift check as it stands, the
    open episodes and the last ones."""
    if analysis not in ANALYSES:
        raise InputError(f"analysis must be one of {', '.join(ANALYSES)}")
    figures = performance.report(session, analysis, since, until)
    for name, model in figures["models"].items():
        model["drift"] = alarms.drift_check(session, config, analysis, name)
    recent = list(session.scalars(select(Episode).order_by(Episode.opened_at.desc())
                                  .limit(20)))
    return {**figures, "label": ANALYSES[analysis], "config": config,
            "open": alarms.open_episodes(session), "episodes": recent,
            "subgroup_labels": performance.SUBGROUPS, "episode_labels": EPISODE_LABELS}


def month_bounds(month: str, zone: tzinfo) -> tuple[datetime, datetime]:
    """``YYYY-MM`` → its first instant and the next month's, in the hospital's zone."""
    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError:
        raise InputError(f"month must be YYYY-MM, not {month!r}") from None
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return (datetime.combine(first, time(), zone), datetime.combine(following, time(), zone))


def _env() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape())


def monthly_report(session: Session, config: MonitoringConfig, month: str, zone: tzinfo, *,
                   generated_by: str | None = None, now: datetime) -> str:
    """The model performance report of ``month`` (``YYYY-MM``, the hospital's zone) as a
    self-contained HTML page, one section per analysis and model version, to be filed by the
    quality committee (print to PDF from the browser)."""
    since, until = month_bounds(month, zone)
    sections = [overview(session, config, analysis, since, until) for analysis in ANALYSES]
    return _env().get_template("model_report.html").render(
        month=month, sections=sections, zone=zone, disclaimer=NOT_A_MEDICAL_DEVICE,
        generated_by=generated_by, generated_at=now.astimezone(zone).strftime(
            "%Y-%m-%d %H:%M %Z"), subgroup_labels=performance.SUBGROUPS,
        episode_labels=EPISODE_LABELS, config=config)


def gauges(session: Session, config: MonitoringConfig, now: datetime
           ) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Figures for Prometheus: per analysis and model, PPV / sensitivity / specificity over
    the performance window, confirmed cases, drift score; open episodes per kind and model."""
    out: dict[str, list[tuple[dict[str, str], float]]] = {
        "ppv": [], "sensitivity": [], "specificity": [], "confirmed": [], "drift": [],
        "episode_open": []}
    since = now - timedelta(days=config.performance_window_days)
    for analysis in ANALYSES:
        for name, model in performance.report(session, analysis, since, now)["models"].items():
            labels = {"analysis": analysis, "model": name}
            summary = model["summary"]
            for key in ("ppv", "sensitivity", "specificity"):
                if summary[key].value is not None:
                    out[key].append((labels, summary[key].value))
            out["confirmed"].append((labels, float(summary["confirmed"])))
            check = alarms.drift_check(session, config, analysis, name)
            if check.value is not None:
                out["drift"].append((labels, check.value))
    for episode in alarms.open_episodes(session):
        out["episode_open"].append(({"kind": episode.kind, "model": episode.model}, 1.0))
    return out


def sections_html(sections: list[dict[str, Any]], config: MonitoringConfig) -> str:
    """The per-analysis, per-model tables (the page embeds the report's own fragment)."""
    return _env().get_template("_sections.html").render(
        sections=sections, config=config, subgroup_labels=performance.SUBGROUPS)

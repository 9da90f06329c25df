"""The audit report: cases in a date range → measures → CSV (one row per case, registry field
order), JSON, or a self-contained HTML page with the charts."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from strokealert import NOT_A_MEDICAL_DEVICE
from strokealert.csvexport import csv_text
from strokealert.db.models.cases import Case
from strokealert.errors import InputError
from strokealert.quality import charts
from strokealert.quality.measures import MEASURES, TARGETS, UTD, arrival, summarize
from strokealert.quality.registry import to_registry_csv

TEMPLATES = Path(__file__).parent / "templates"
FORMATS = ("csv", "html", "json", "registry")

# Registry abstraction order: identification, arrival, imaging, treatment, then the measures.
TIME_COLUMNS = (
    ("last_known_well", "last_known_well_at"), ("arrival", "arrival_at"),
    ("arrival_this_hospital", "transfer_in_at"), ("ncct", "ncct_at"), ("cta", "cta_at"),
    ("ctp", "ctp_at"), ("alert_sent", "alert_sent_at"), ("first_ack", "first_ack_at"),
    ("decision", "decision_at"), ("needle", "needle_at"), ("skin_puncture", "groin_puncture_at"),
    ("first_pass", "first_pass_at"), ("reperfusion", "reperfusion_at"),
    ("transfer_out", "transfer_out_at"),
)
CSV_FIELDS = (
    "case_id", "site", "transfer_in",
    *[f"{name}_{part}" for name, _ in TIME_COLUMNS for part in ("date", "time")],
    "tici_post", *[f"{m.key}_min" for m in MEASURES], "exclusions", "data_quality_flags",
)


# Every date a request or a command may name (a report, a timeline entry) lies in here.
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(2999, 12, 31)


def check_day(day: date, what: str) -> date:
    """``day`` if it lies within ``EARLIEST_DAY``…``LATEST_DAY``, else InputError."""
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise InputError(f"{what}: {day.isoformat()} is outside {EARLIEST_DAY.isoformat()}"
                         f" to {LATEST_DAY.isoformat()}")
    return day


def parse_date(text: str, what: str) -> date:
    """``YYYY-MM-DD`` within the accepted range, else InputError naming ``what``."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{what}: expected a date YYYY-MM-DD, got {text!r}") from None
    return check_day(day, what)


def load_cases(session: Session, start: date, end: date, zone: tzinfo) -> list[Case]:
    """Cases whose arrival (or, without one, creation) falls on ``start``…``end`` (local days,
    inclusive)."""
    if end < start:
        raise InputError(f"--to {end} is before --from {start}")
    lower = datetime.combine(start, time(0), zone)
    upper = datetime.combine(end + timedelta(days=1), time(0), zone)
    when = func.coalesce(Case.transfer_in_at, Case.arrival_at, Case.created_at)
    return list(session.scalars(select(Case).where(when >= lower, when < upper)
                                .order_by(when, Case.id)))


def build(session: Session, start: date, end: date, zone_name: str) -> dict[str, Any]:
    zone = ZoneInfo(zone_name)
    cases = load_cases(session, start, end, zone)
    summary = summarize(cases, zone)
    summary.update({"from": start.isoformat(), "to": end.isoformat(), "timezone": zone_name})
    return summary


def _local(value: datetime | None, zone: tzinfo) -> tuple[str, str]:
    if value is None:
        return "", ""
    local = value.astimezone(zone)
    return local.strftime("%m/%d/%Y"), local.strftime("%H:%M")


def csv_rows(summary: dict[str, Any], zone: tzinfo) -> list[list[str]]:
    exclusions: dict[str, list[str]] = {}
    for key, m in summary["measures"].items():
        for item in m["excluded"]:
            exclusions.setdefault(item["case_id"], []).append(f"{key}: {item['reason']}")
    rows = []
    for item in summary["per_case"]:
        case, values = item["case"], item["values"]
        row = [case.id, case.site, "Y" if case.transfer else "N"]
        for _name, column in TIME_COLUMNS:
            row.extend(_local(getattr(case, column), zone))
        row.append(case.tici or "")
        row.extend("" if values[m.key] is None else str(values[m.key]) for m in MEASURES)
        row.append("; ".join(exclusions.get(case.id, [])))
        row.append("; ".join(item["flags"]))
        rows.append(row)
    return rows


def to_csv(summary: dict[str, Any]) -> str:
    return csv_text(CSV_FIELDS, csv_rows(summary, ZoneInfo(summary["timezone"])))


def to_json(summary: dict[str, Any]) -> str:
    data = {k: v for k, v in summary.items() if k != "per_case"}
    data["schema"] = "strokealert.audit/1"
    data["cases_detail"] = [{"case_id": item["case"].id, "transfer": item["case"].transfer,
                             "values": item["values"], "flags": item["flags"]}
                            for item in summary["per_case"]]
    return json.dumps(data, indent=2, default=str)


def chart_set(summary: dict[str, Any]) -> dict[str, str]:
    m = summary["measures"]
    return {
        "dtn": charts.histogram(m["dtn"]["values"], title="Door-to-needle distribution"),
        "targets": charts.target_bars(summary["targets"]),
        "trend": charts.trend(summary["trend"]),
        "device": charts.histogram(m["door_to_device_direct"]["values"]
                                   + m["door_to_device_transfer"]["values"], bin_min=15,
                                   max_min=180, marks=(60, 90), title="Door-to-device"),
    }


def _env() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape())


def to_html(summary: dict[str, Any], generated_by: str | None = None) -> str:
    zone = ZoneInfo(summary["timezone"])
    rows = [{"case": item["case"], "values": item["values"],
             "arrival": _local(arrival(item["case"]), zone)} for item in summary["per_case"]]
    return _env().get_template("report.html").render(
        s=summary, charts=chart_set(summary), measures=MEASURES, targets=TARGETS, rows=rows,
        utd=UTD, disclaimer=NOT_A_MEDICAL_DEVICE, generated_by=generated_by,
        generated_at=datetime.now(zone).strftime("%Y-%m-%d %H:%M %Z"))


def render(summary: dict[str, Any], fmt: str, generated_by: str | None = None) -> str:
    """The report in ``fmt`` (:data:`FORMATS`): the per-case summary CSV, the JSON, the HTML
    page, or the patient-level registry CSV (:mod:`strokealert.quality.registry`)."""
    if fmt == "csv":
        return to_csv(summary)
    if fmt == "json":
        return to_json(summary)
    if fmt == "html":
        return to_html(summary, generated_by)
    if fmt == "registry":
        return to_registry_csv(summary, ZoneInfo(summary["timezone"]))
    raise InputError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")

"""Server-rendered pages: worklist, case viewer + timeline editor, dashboard, drill-down,
report export, audit log (admin), API docs."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from strokealert.accesslog import log as audit_log
from strokealert.api.dependencies import DB, Acker, Admin, Exporter, TimelineEditor, Viewer, audit
from strokealert.api.routers.cases import (
    acknowledge,
    edit_timeline,
    get_case,
    parse_timeline,
)
from strokealert.api.services import cases as case_service
from strokealert.api.services import images, views
from strokealert.db.models.cases import TICI_GRADES, TIMELINE_FIELDS
from strokealert.db.models.ingest import Study
from strokealert.db.models.pipeline import StageEvent
from strokealert.errors import InputError
from strokealert.quality import report
from strokealert.quality.measures import DIAGNOSIS_LABELS, MEASURE_BY_KEY, MEASURES, UTD
from strokealert.timeline import provenance

router = APIRouter(include_in_schema=False)
WORKLIST_PAGE = 50


def page(request: Request, template: str, principal: Any, **context: Any) -> HTMLResponse:
    state = request.app.state
    response: HTMLResponse = state.templates.TemplateResponse(request, template, {
        "user": principal.user, "csrf": principal.csrf, "zone": state.zone,
        "local": views.local, "site_name": state.settings.site_name, **context})
    return response


def date_range(request: Request, start: str | None, end: str | None) -> tuple[date, date]:
    from datetime import datetime

    today = datetime.now(request.app.state.zone).date()
    try:
        upper = report.parse_date(end, "to") if end else today
        lower = report.parse_date(start, "from") if start else upper - timedelta(days=364)
    except InputError as exc:
        raise HTTPException(422, str(exc)) from None
    if upper < lower:
        raise HTTPException(422, "the end date is before the start date")
    return lower, upper


@router.get("/", response_class=HTMLResponse)
def worklist(request: Request, session: DB, principal: Viewer,
             limit: int = WORKLIST_PAGE) -> HTMLResponse:
    """The live worklist: the ``limit`` most urgent, newest cases (a phone-sized page)."""
    limit = max(1, min(limit, 1000))
    rows = case_service.worklist(session, limit=limit)
    more = limit * 4 if len(rows) == limit else None
    return page(request, "worklist.html", principal, cases=rows, more=more)


STAGE_LABELS = {"series_complete": "series complete", "study_complete": "study complete",
                "waiting_for_images": "waiting for missing images", "analysed": "analysed",
                "alerted": "alert raised", "sent_to_pacs": "sent to PACS"}


def processing_stages(session: Session, study_uid: str) -> list[dict[str, Any]]:
    """The pipeline's timeline of a study: received, complete, analysed, alerted, to PACS."""
    rows: list[dict[str, Any]] = []
    study = session.scalar(select(Study).where(Study.study_instance_uid == study_uid))
    if study is not None:
        rows.append({"stage": "first image received", "at": study.first_received_at,
                     "detail": ""})
    for event in session.scalars(select(StageEvent).where(
            StageEvent.study_instance_uid == study_uid).order_by(StageEvent.at, StageEvent.id)):
        detail = event.detail or {}
        text = " · ".join(str(v) for k, v in detail.items()
                          if k in ("kind", "level", "status", "reason", "images", "summary"))
        if "seconds" in detail:
            text += f" · {detail['seconds']:.1f} s"
        rows.append({"stage": STAGE_LABELS.get(event.stage, event.stage), "at": event.at,
                     "detail": text})
    return rows


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, session: DB, principal: Viewer, case_id: str) -> HTMLResponse:
    """The case viewer with PHI: every view is audited."""
    case = get_case(session, case_id)
    zone = request.app.state.zone
    maps = {}
    for name in images.SCROLL_MAPS:
        path = images.map_path(case, name)
        if path is not None:
            maps[name] = images.slice_count(path)
    alerts = views.alert_history(session, case.id)
    shown = provenance(session, case)
    data = views.case_json(case, zone, alerts, shown)
    curves = ((case.result_json or {}).get("perfusion") or {}).get("curves") or {}
    curve_svg = ""
    if curves.get("t_s"):
        from strokealert.quality.charts import curve

        curve_svg = curve(curves["t_s"], {k: v for k, v in curves.items() if k != "t_s"})
    stages = processing_stages(session, case.study_instance_uid)
    audit(request, session, principal, "phi_view", object_type="case", object_id=case.id,
          detail={"via": "web"})
    session.commit()
    return page(request, "case.html", principal, c=case, data=data, maps=maps, alerts=alerts,
                stages=stages,
                vol=views.volumes(case.result_json),
                timeline=views.timeline_rows(case, zone, shown),
                measures=MEASURES, values=data["measures"], utd=UTD, tici_grades=TICI_GRADES,
                coded=case_service.CODED_FIELDS, diagnoses=DIAGNOSIS_LABELS,
                curve_svg=curve_svg)


@router.post("/cases/{case_id}/ack")
def case_ack(request: Request, session: DB, principal: Acker, case_id: str) -> Response:
    acknowledge(request, session, principal, get_case(session, case_id), "web")
    return RedirectResponse(f"/cases/{case_id}", status_code=303)


@router.post("/cases/{case_id}/timeline")
async def case_timeline(request: Request, session: DB, principal: TimelineEditor,
                        case_id: str) -> Response:
    case = get_case(session, case_id)
    form = await request.form()
    zone = request.app.state.zone
    # A field shown at minute precision and sent back unchanged keeps its seconds.
    body: dict[str, Any] = {
        name: form.get(name) for name, _ in TIMELINE_FIELDS
        if name in form and form.get(name) != views.local(getattr(case, name), zone,
                                                          "%Y-%m-%dT%H:%M")}
    for name in case_service.CODED_FIELDS:
        body[name] = form.get(name) or None
    body["transfer"] = form.get("transfer") == "on"
    body["in_hospital_stroke"] = form.get("in_hospital_stroke") == "on"
    body["ivt_not_given_reason"] = form.get("ivt_not_given_reason") or None
    age = str(form.get("age_years") or "").strip()
    try:
        body["age_years"] = int(age) if age else None
    except ValueError:
        raise HTTPException(422, "age_years: a whole number of years") from None
    edit_timeline(request, session, principal, case, parse_timeline(body, zone))
    return RedirectResponse(f"/cases/{case_id}#timeline", status_code=303)


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, session: DB, principal: Viewer, start: str | None = None,
              end: str | None = None) -> HTMLResponse:
    lower, upper = date_range(request, start, end)
    summary = report.build(session, lower, upper, request.app.state.settings.timezone)
    return page(request, "dashboard.html", principal, s=summary,
                charts=report.chart_set(summary), measures=MEASURES,
                start=lower.isoformat(), end=upper.isoformat())


@router.get("/dashboard/measures/{key}", response_class=HTMLResponse)
def drill_down(request: Request, session: DB, principal: Viewer, key: str,
               start: str | None = None, end: str | None = None) -> HTMLResponse:
    """The cases behind one measure, with their minutes or the UTD reason."""
    measure = MEASURE_BY_KEY.get(key)
    if measure is None:
        raise HTTPException(404, "no such measure")
    lower, upper = date_range(request, start, end)
    summary = report.build(session, lower, upper, request.app.state.settings.timezone)
    reasons = {e["case_id"]: e["reason"] for e in summary["measures"][key]["excluded"]}
    rows = [{"case": item["case"], "value": item["values"][key],
             "reason": reasons.get(item["case"].id)}
            for item in summary["per_case"] if item["values"][key] is not None]
    return page(request, "drilldown.html", principal, m=measure, rows=rows,
                d=summary["measures"][key], start=lower.isoformat(), end=upper.isoformat())


@router.get("/report")
def export_report(request: Request, session: DB, principal: Exporter, start: str | None = None,
                  end: str | None = None, format: str = "csv") -> Response:
    """The audit report as CSV (per-case summary), HTML, JSON or the patient-level registry
    CSV (``format=registry``); every export audited."""
    lower, upper = date_range(request, start, end)
    summary = report.build(session, lower, upper, request.app.state.settings.timezone)
    try:
        body = report.render(summary, format, generated_by=principal.user.username)
    except InputError as exc:
        raise HTTPException(422, str(exc)) from None
    audit(request, session, principal, "export", object_type="report",
          detail={"from": lower.isoformat(), "to": upper.isoformat(), "format": format,
                  "cases": summary["cases"]})
    session.commit()
    media = {"csv": "text/csv", "json": "application/json", "html": "text/html",
             "registry": "text/csv"}[format]
    name = (f"stroke-registry-{lower}-{upper}.csv" if format == "registry"
            else f"stroke-audit-{lower}-{upper}.{format}")
    return Response(body, media_type=f"{media}; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/admin/audit")
def audit_page(request: Request, session: DB, principal: Admin, action: str | None = None,
               username: str | None = None, format: str = "html") -> Response:
    """The audit log (admins); ``format=csv`` exports it. Viewing and exporting are audited."""
    rows = audit_log.query(session, action=action or None, username=username or None,
                           limit=5000 if format == "csv" else 500)
    audit(request, session, principal, "export" if format == "csv" else "audit_view",
          object_type="audit_log", detail={"action": action, "username": username,
                                           "rows": len(rows)})
    session.commit()
    if format == "csv":
        return PlainTextResponse(audit_log.to_csv(rows), media_type="text/csv",
                                 headers={"Content-Disposition":
                                          'attachment; filename="audit-log.csv"'})
    return page(request, "audit.html", principal, rows=rows, action=action or "",
                username=username or "", actions=audit_log.ACTIONS)


@router.get("/docs", response_class=HTMLResponse)
def api_docs(request: Request, principal: Viewer) -> HTMLResponse:
    """The OpenAPI operations, rendered here (no external assets)."""
    spec = request.app.openapi()
    ops = [{"method": method.upper(), "path": path, "summary": op.get("summary", ""),
            "doc": op.get("description", "")}
           for path, item in spec["paths"].items() for method, op in item.items()]
    return page(request, "docs.html", principal, ops=ops, version=spec["info"]["version"])


@router.get("/api/openapi.json")
def openapi_json(request: Request, _principal: Viewer) -> dict[str, Any]:
    spec: dict[str, Any] = request.app.openapi()
    return spec


@router.get("/api/measures", include_in_schema=True, tags=["audit"])
def measures_json(request: Request, session: DB, _principal: Viewer, start: str | None = None,
                  end: str | None = None) -> Response:
    """Every audit measure over the date range (``strokealert.audit/1``; no PHI)."""
    lower, upper = date_range(request, start, end)
    summary = report.build(session, lower, upper, request.app.state.settings.timezone)
    return Response(report.to_json(summary), media_type="application/json")

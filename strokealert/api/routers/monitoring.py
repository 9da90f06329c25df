"""Monitoring pages: readers' confirmations on the case view, the monitoring page (performance
per model version and subgroup, drift, episodes) and the monthly model performance report.

Viewing the page and exporting the report are audited (they show age bands and sex counts);
every confirmation is audited with its reader and time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session, sessionmaker

from strokealert.api.dependencies import DB, Acker, Exporter, Viewer, audit, client_ip
from strokealert.api.routers.cases import get_case
from strokealert.api.routers.pages import page
from strokealert.db.models.monitoring import Confirmation, Episode
from strokealert.errors import InputError
from strokealert.monitoring import alarms, confirmations, overview
from strokealert.monitoring.settings import MonitoringConfig
from strokealert.pipeline.monitor import check_alarms

router = APIRouter(include_in_schema=False)
# The report is one self-contained page: its own <style>, no script, nothing fetched.
REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
              "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


def template_globals(factory: sessionmaker[Session]) -> dict[str, object]:
    """Template helpers with their own short session: the case view's confirmation and the
    open episodes (the banner on the dashboard and the monitoring page)."""

    def confirmation_of(case_id: str) -> Confirmation | None:
        with factory() as session:
            return confirmations.confirmation_of(session, case_id)

    def open_episodes() -> list[Episode]:
        with factory() as session:
            return alarms.open_episodes(session)

    return {"confirmation_of": confirmation_of, "open_episodes": open_episodes,
            "lvo_sites": confirmations.LVO_SITES,
            "haemorrhage_kinds": confirmations.HAEMORRHAGE_KINDS,
            "episode_labels": overview.EPISODE_LABELS}


def config_of(request: Request) -> MonitoringConfig:
    return MonitoringConfig.from_settings(request.app.state.settings)


def parse_finding(form: dict[str, str]) -> confirmations.Finding:
    """The tapped answers: ``lvo`` no / yes / a site, ``haemorrhage`` no / yes / a kind,
    ``core`` plausible / implausible; InputError on anything else."""
    lvo, bleed, core = form.get("lvo"), form.get("haemorrhage"), form.get("core")
    finding = confirmations.Finding(
        lvo=None if not lvo else lvo != "no",
        lvo_site=lvo if lvo in confirmations.LVO_SITES else None,
        haemorrhage=None if not bleed else bleed != "no",
        haemorrhage_kind=bleed if bleed in confirmations.HAEMORRHAGE_KINDS else None,
        core_plausible=None if not core else core == "plausible")
    for name, value, allowed in (("lvo", lvo, ("no", "yes", *confirmations.LVO_SITES)),
                                 ("haemorrhage", bleed,
                                  ("no", "yes", *confirmations.HAEMORRHAGE_KINDS)),
                                 ("core", core, ("plausible", "implausible"))):
        if value and value not in allowed:
            raise InputError(f"{name}: one of {', '.join(allowed)}")
    return finding.checked()


@router.post("/cases/{case_id}/confirmation")
async def confirm_case(request: Request, session: DB, principal: Acker,
                       case_id: str) -> Response:
    """Record a reader's confirmed finding (one tap per question); audited with the reader and
    the time; the PPV alarm is re-checked with the new truth."""
    case = get_case(session, case_id)
    form = {k: str(v) for k, v in (await request.form()).items() if k != "csrf_token"}
    try:
        finding = parse_finding(form)
    except InputError as exc:
        raise HTTPException(422, str(exc)) from None
    now = datetime.now(UTC)
    confirmations.record(session, case.id, finding, reader=principal.user.username,
                         role=principal.user.role, source="manual", at=now,
                         ip=client_ip(request), user_agent=request.headers.get("user-agent"))
    state = request.app.state
    for analysis in overview.ANALYSES:
        check_alarms(session, state.settings, state.factory, analysis, now)
    session.commit()
    return RedirectResponse(f"/cases/{case_id}#confirmation", status_code=303)


@router.get("/monitoring", response_class=HTMLResponse)
def monitoring_page(request: Request, session: DB, principal: Viewer, analysis: str = "lvo",
                    days: int = 0) -> HTMLResponse:
    """Performance per model version over the last ``days`` (default: the configured
    window), drift, episodes; audited."""
    config = config_of(request)
    until = datetime.now(UTC)
    window = days if 0 < days <= 3660 else int(config.performance_window_days)
    try:
        view = overview.overview(session, config, analysis, until - timedelta(days=window),
                                 until)
    except InputError as exc:
        raise HTTPException(422, str(exc)) from None
    audit(request, session, principal, "monitoring_view", object_type="monitoring",
          detail={"analysis": analysis, "days": window})
    session.commit()
    return page(request, "monitoring.html", principal, v=view, days=window,
                analyses=overview.ANALYSES, analysis=analysis,
                sections=overview.sections_html([view], config),
                month=until.astimezone(request.app.state.zone).strftime("%Y-%m"))


@router.get("/monitoring/report")
def monitoring_report(request: Request, session: DB, principal: Exporter,
                      month: str | None = None) -> Response:
    """The monthly model performance report (HTML, printable to PDF); audited as an export."""
    zone = request.app.state.zone
    now = datetime.now(UTC)
    month = month or now.astimezone(zone).strftime("%Y-%m")
    try:
        body = overview.monthly_report(session, config_of(request), month, zone,
                                       generated_by=principal.user.username, now=now)
    except InputError as exc:
        raise HTTPException(422, str(exc)) from None
    audit(request, session, principal, "export", object_type="model_report",
          detail={"month": month})
    session.commit()
    return Response(body, media_type="text/html; charset=utf-8", headers={
        "Content-Disposition": f'inline; filename="model-performance-{month}.html"',
        "Content-Security-Policy": REPORT_CSP})

"""The phone case view: what tapping an alert opens in the PWA. Key images first, then the
series as a scrollable stack (key images and perfusion maps, window/level on the phone), the
findings and the acknowledge / not-a-candidate buttons; no patient identifiers on it (the full
case page has them, behind its audited view)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from notifications.payload import NOT_CANDIDATE
from strokealert.api.dependencies import ACK_ROLES, DB, Acker, Viewer
from strokealert.api.routers.cases import acknowledge, get_case
from strokealert.api.routers.pages import page
from strokealert.api.services import images, views
from strokealert.db.models.cases import Case

router = APIRouter(include_in_schema=False)


def stack_series(case: Case) -> list[dict[str, Any]]:
    """What the stack viewer scrolls: each key image (one frame) and each perfusion map
    (``slices`` axial PNGs, ``url`` with ``{z}`` for the slice index)."""
    series: list[dict[str, Any]] = [
        {"name": f"Key {index + 1}", "url": f"/cases/{case.id}/images/{index}", "slices": 1}
        for index in range(len(case.key_images or []))]
    for name in images.SCROLL_MAPS:
        path = images.map_path(case, name)
        if path is not None:
            series.append({"name": name.upper(), "url": f"/cases/{case.id}/maps/{name}/{{z}}",
                           "slices": images.slice_count(path)})
    return series


@router.post("/api/cases/{case_id}/not-candidate")
def not_candidate(request: Request, session: DB, principal: Acker,
                  case_id: str) -> dict[str, Any]:
    """The responder judges the patient not a candidate: paging stops, the team is told
    "<name>: not a candidate", the response is stamped and audited like an acknowledgement."""
    case = get_case(session, case_id)
    first = acknowledge(request, session, principal, case, NOT_CANDIDATE)
    return {"acknowledged": True, "first": first, "first_ack_by": case.first_ack_by}


@router.get("/cases/{case_id}/phone", response_class=HTMLResponse)
def phone_case(request: Request, session: DB, principal: Viewer, case_id: str) -> HTMLResponse:
    case = get_case(session, case_id)
    can_ack = principal.user.role == "admin" or principal.user.role in ACK_ROLES
    return page(request, "case_phone.html", principal, c=case, series=stack_series(case),
                vol=views.volumes(case.result_json), can_ack=can_ack)

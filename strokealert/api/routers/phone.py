"""The phone case view: what tapping an alert opens in the PWA. Key images first, then the
series as a scrollable stack (key images, the CTA slab rendered here in the window/level the
phone asks for in HU, perfusion maps), the findings and the acknowledge / not-a-candidate
buttons; no patient identifiers on it (the full case page has them, behind its audited view)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from notifications.payload import NOT_CANDIDATE
from strokealert.api.dependencies import ACK_ROLES, DB, Acker, Viewer, audit
from strokealert.api.routers.cases import acknowledge, get_case
from strokealert.api.routers.pages import page
from strokealert.api.services import images, views
from strokealert.db.models.cases import Case

router = APIRouter(include_in_schema=False)
CentreHU = Annotated[float, Query(ge=-1024, le=3071, allow_inf_nan=False,
                                  description="window centre (HU)")]
WidthHU = Annotated[float, Query(ge=1, le=4096, allow_inf_nan=False,
                                 description="window width (HU)")]


def stack_series(case: Case) -> list[dict[str, Any]]:
    """What the stack viewer scrolls: each key image (one frame), the CTA slab (``hu``: the
    server applies the window ``c``/``w`` in HU) and each perfusion map (``slices`` axial PNGs,
    ``url`` with ``{z}`` for the slice index)."""
    series: list[dict[str, Any]] = [
        {"name": f"Key {index + 1}", "url": f"/cases/{case.id}/images/{index}", "slices": 1}
        for index in range(len(case.key_images or []))]
    slab = images.cta_slab_path(case)
    slices = images.cta_slab_slices(slab) if slab is not None else 0
    if slices:
        centre, width = images.CTA_WINDOW_HU
        series.append({"name": "CTA slab", "url": f"/cases/{case.id}/cta/{{z}}",
                       "slices": slices, "hu": {"c": centre, "w": width}})
    for name in images.SCROLL_MAPS:
        path = images.map_path(case, name)
        if path is not None:
            series.append({"name": name.upper(), "url": f"/cases/{case.id}/maps/{name}/{{z}}",
                           "slices": images.slice_count(path)})
    return series


@router.get("/cases/{case_id}/cta/{z}")
def cta_slice(request: Request, session: DB, principal: Viewer, case_id: str, z: int,
              c: CentreHU = images.CTA_WINDOW_HU[0],
              w: WidthHU = images.CTA_WINDOW_HU[1]) -> Response:
    """Slice ``z`` of the case's CTA slab as a grey PNG in the window ``c``/``w`` (HU); every
    slice shown is audited as a view of the patient's images."""
    case = get_case(session, case_id)
    path = images.cta_slab_path(case)
    png = images.cta_png(path, z, c, w) if path is not None else None
    if png is None:
        raise HTTPException(404, "no such CTA slice")
    audit(request, session, principal, "phi_view", object_type="case", object_id=case.id,
          detail={"via": "cta_slab", "slice": z, "c": c, "w": w})
    session.commit()
    return Response(png, media_type="image/png",
                    headers={"Cache-Control": "private, max-age=300"})


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
                vol=views.volumes(case.result_json), can_ack=can_ack,
                cta_presets=images.CTA_PRESETS_HU)

"""The cases JSON API, key images and map slices, and the live worklist event stream (SSE)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, Response, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from strokealert.api.dependencies import (
    DB,
    VIEW_ROLES,
    Acker,
    Principal,
    TimelineEditor,
    Viewer,
    audit,
    optional_principal,
    require,
)
from strokealert.api.schemas import AckIn, CaseDetail, CaseSummary, TimelineIn
from strokealert.api.services import cases as case_service
from strokealert.api.services import images, views
from strokealert.api.services.live import CaseFeed, Subscription, TooManyStreams
from strokealert.db.models.cases import Case
from strokealert.db.wakeup import CASES, wakeup_for
from strokealert.errors import InputError
from strokealert.timeline import provenance

router = APIRouter(tags=["cases"])
STREAM_CHECK_S = 1.0  # how often an idle stream checks for a closed browser (seconds)
KEEPALIVE_S = 15.0  # comment line sent on an idle stream (seconds)
CHANGES_PER_READ = 1000  # bound of one read of the changed cases
require_viewer = require(*VIEW_ROLES)


def get_case(session: Session, case_id: str) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise HTTPException(404, "no such case")
    return case


def ack_name(session: Session, principal: Principal) -> str:
    """The name the team sees ("<name> is on the way"): the linked on-call person's, if any."""
    from notifications.models import Person

    if principal.user.person_id is not None:
        person = session.get(Person, principal.user.person_id)
        if person is not None:
            return person.name
    return principal.name


def acknowledge(request: Request, session: Session, principal: Principal, case: Case,
                via: str) -> bool:
    first = case_service.acknowledge_case(session, case, by=ack_name(session, principal),
                                          via=via, settings=request.app.state.settings)
    audit(request, session, principal, "ack", object_type="case", object_id=case.id,
          detail={"via": via, "first": first})
    announce_case_change(request, session)
    session.commit()
    return first


def edit_timeline(request: Request, session: Session, principal: Principal, case: Case,
                  changes: dict[str, Any]) -> dict[str, Any]:
    try:
        diff = case_service.set_timeline(case, changes)
    except InputError as exc:
        raise HTTPException(422, str(exc)) from None
    if diff:
        audit(request, session, principal, "timeline_edit", object_type="case",
              object_id=case.id, detail={"changes": diff})
        announce_case_change(request, session)
    session.commit()
    return diff


def parse_timeline(body: dict[str, Any], zone: Any) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name, value in body.items():
        if name.endswith("_at"):
            try:
                changes[name] = views.parse_time(value, zone)
            except InputError as exc:
                raise HTTPException(422, f"{name}: {exc}") from None
        elif name in case_service.CODED_FIELDS:
            changes[name] = value or None
        else:
            changes[name] = value
    return changes


@router.get("/api/cases", response_model=list[CaseSummary])
def list_cases(session: DB, _principal: Viewer, limit: int = 100) -> list[Case]:
    """The worklist: most urgent, newest first (no PHI)."""
    return case_service.worklist(session, limit=max(1, min(limit, 500)))


@router.get("/api/cases/{case_id}", response_model=CaseDetail)
def case_detail(request: Request, session: DB, principal: Viewer,
                case_id: str) -> dict[str, Any]:
    """One case with PHI, result, timeline, measures and alert history (audited)."""
    case = get_case(session, case_id)
    data = views.case_json(case, request.app.state.zone,
                           views.alert_history(session, case.id), provenance(session, case))
    audit(request, session, principal, "phi_view", object_type="case", object_id=case.id,
          detail={"via": "api"})
    session.commit()
    return data


@router.get("/api/cases/{case_id}/alerts")
def case_alerts(session: DB, _principal: Viewer, case_id: str) -> list[dict[str, Any]]:
    """Alerts, deliveries and acknowledgements of a case (no PHI)."""
    return views.alert_history(session, get_case(session, case_id).id)


@router.post("/api/cases/{case_id}/ack")
def api_ack(request: Request, session: DB, principal: Acker, case_id: str,
            body: AckIn | None = None) -> dict[str, Any]:
    case = get_case(session, case_id)
    first = acknowledge(request, session, principal, case, (body or AckIn()).via)
    return {"acknowledged": True, "first": first, "first_ack_at": case.first_ack_at,
            "first_ack_by": case.first_ack_by}


@router.patch("/api/cases/{case_id}/timeline")
def api_timeline(request: Request, session: DB, principal: TimelineEditor, case_id: str,
                 body: TimelineIn) -> dict[str, Any]:
    """Change timeline fields; date-times without offset are in the hospital's zone."""
    case = get_case(session, case_id)
    zone = request.app.state.zone
    diff = edit_timeline(request, session, principal, case,
                         parse_timeline(body.model_dump(exclude_unset=True), zone))
    shown = views.case_json(case, zone, [])
    return {"changed": sorted(diff), **shown["timeline"], "measures": shown["measures"],
            "flags": shown["flags"], "registry": shown["registry"]}


@router.get("/cases/{case_id}/images/{index}", include_in_schema=False)
def key_image(request: Request, session: DB, principal: Viewer, case_id: str,
              index: int) -> Response:
    """Key image ``index`` of the case; audited as a view of the patient's images."""
    case = get_case(session, case_id)
    path = images.key_image_path(case, index)
    if path is None:
        raise HTTPException(404, "no such image")
    audit(request, session, principal, "phi_view", object_type="case", object_id=case.id,
          detail={"via": "key_image", "index": index})
    session.commit()
    return FileResponse(path, headers={"Cache-Control": "private, max-age=300"})


@router.get("/cases/{case_id}/maps/{name}/{z}", include_in_schema=False)
def map_slice(request: Request, session: DB, principal: Viewer, case_id: str, name: str,
              z: int) -> Response:
    """Slice ``z`` of a perfusion map as PNG; audited as a view of the patient's images."""
    case = get_case(session, case_id)
    path = images.map_path(case, name)
    png = images.slice_png(path, name, z) if path is not None else None
    if png is None:
        raise HTTPException(404, "no such map slice")
    audit(request, session, principal, "phi_view", object_type="case", object_id=case.id,
          detail={"via": "map", "map": name, "slice": z})
    session.commit()
    return Response(png, media_type="image/png",
                    headers={"Cache-Control": "private, max-age=300"})


def read_changes(state: Any, after: datetime,
                 sent: Mapping[str, datetime]) -> list[dict[str, Any]]:
    """The worklist rows of the cases changed after ``after`` and not yet ``sent`` (one short
    session; the :class:`~strokealert.api.services.live.CaseFeed` reader)."""
    with state.factory() as session:
        rows = session.scalars(select(Case).where(Case.updated_at > after)
                               .order_by(Case.updated_at).limit(CHANGES_PER_READ))
        row_template = state.templates.get_template("_case_row.html")
        return [{"id": c.id, "urgency": c.urgency, "created": c.created_at.isoformat(),
                 "updated": c.updated_at,
                 "html": row_template.render(c=c, zone=state.zone, local=views.local)}
                for c in rows if sent.get(c.id) != c.updated_at]


def announce_case_change(request: Request, session: Session) -> None:
    """Wake every live worklist, this process's and others', once ``session`` commits."""
    wakeup_for(request.app.state.factory.kw["bind"]).notify(session, CASES)


def case_feed(state: Any) -> CaseFeed:
    """The app's live worklist feed (one per app), woken by the database's ``CASES``
    wake-ups and re-reading every ``web_stream_poll_s`` seconds without one."""
    settings = state.settings

    @contextmanager
    def case_wakeups(wake: Callable[[], None]) -> Iterator[None]:
        subscription = wakeup_for(state.factory.kw["bind"]).subscribe(CASES,
                                                                       lambda _payload: wake())
        try:
            yield
        finally:
            subscription.close()

    return CaseFeed(partial(read_changes, state), partial(datetime.now, state.zone),
                    max_streams_per_user=settings.web_max_streams_per_user,
                    poll_s=settings.web_stream_poll_s, listen=case_wakeups)


async def stream_viewer(request: Request) -> Principal:
    """The viewer behind an event stream, looked up with a session closed before the stream
    starts (a stream holds no database connection)."""

    def lookup() -> Principal | None:
        with request.app.state.factory() as session:
            return optional_principal(request, session)

    return await require_viewer(request, await asyncio.to_thread(lookup))


class FeedStream(StreamingResponse):
    """An event stream that leaves the feed however it ends (closed, cut or cancelled)."""

    def __init__(self, feed: CaseFeed, subscription: Subscription, content: Any) -> None:
        super().__init__(content, media_type="text/event-stream",
                         headers={"X-Accel-Buffering": "no", "Cache-Control": "no-store"})
        self.feed, self.subscription = feed, subscription

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.feed.unsubscribe(self.subscription)


@router.get("/events", include_in_schema=False)
async def events(request: Request,
                 principal: Annotated[Principal, Depends(stream_viewer)]) -> StreamingResponse:
    """Server-sent events: ``case`` with the worklist row of each new or changed case; 429 past
    the per-user cap of open streams. A stream ends after ``web_stream_max_s``: the browser
    reconnects 3 s later and logs in again, so a logout or a revocation reaches open tabs."""
    state = request.app.state
    feed: CaseFeed = state.case_feed
    try:
        subscription = feed.subscribe(principal.user.id)
    except TooManyStreams as exc:
        raise HTTPException(429, str(exc), headers={"Retry-After": "30"}) from None

    async def stream() -> AsyncIterator[str]:
        idle = 0.0
        ends_at = asyncio.get_running_loop().time() + state.settings.web_stream_max_s
        yield "retry: 3000\n\n"
        while not (subscription.overflowed or state.stopping.is_set()
                   or asyncio.get_running_loop().time() >= ends_at
                   or await request.is_disconnected()):
            try:
                change = await asyncio.wait_for(subscription.queue.get(), STREAM_CHECK_S)
            except TimeoutError:
                idle += STREAM_CHECK_S
                if idle >= KEEPALIVE_S:
                    idle = 0.0
                    yield ": keepalive\n\n"
                continue
            idle = 0.0
            yield f"event: case\ndata: {json.dumps(change)}\n\n"

    return FeedStream(feed, subscription, stream())

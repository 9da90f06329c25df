"""Public notification endpoints, authorised by provider signatures or signed links (no login):
Twilio inbound SMS, call keypresses and status callbacks, the one-tap acknowledgement link, key
images.

Every acknowledgement made here goes through ``acknowledge_case`` (first-ack stamp on the
case timeline) and is written to the audit log like the web Acknowledge button.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from notifications.models import Acknowledgement, Alert, OutboxMessage, Person
from notifications.signing import verify_signed
from strokealert import alerting
from strokealert.api.dependencies import DB, Acker, Principal, audit
from strokealert.api.services import images
from strokealert.api.services.cases import acknowledge_case
from strokealert.config import Settings
from strokealert.db.models.cases import Case
from strokealert.db.models.users import User

router = APIRouter(include_in_schema=False)
TWIML = "application/xml"
BAD_LINK = "This link is invalid or has expired."


def public_url(request: Request) -> str:
    """The URL the provider called: ``settings.public_url`` + path (+ query), never the Host."""
    base = request.app.state.settings.public_url.rstrip("/")
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{base}{request.url.path}{query}"


async def form_params(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: str(value) for key, value in form.items()}


@contextmanager
def acks_written(session: Session) -> Iterator[list[Acknowledgement]]:
    """Collect the acknowledgements the notifications library inserts in ``session``."""
    written: list[Acknowledgement] = []

    def collect(_session: Session, instance: Any) -> None:
        if isinstance(instance, Acknowledgement):
            written.append(instance)

    event.listen(session, "pending_to_persistent", collect)
    try:
        yield written
    finally:
        event.remove(session, "pending_to_persistent", collect)


def person_principal(session: Session, name: str, via: str) -> Principal | None:
    """The login linked to the on-call person ``name``, for the audit row (None if unlinked)."""
    user = session.scalar(select(User).join(Person, Person.id == User.person_id)
                          .where(Person.name == name))
    return Principal(user, via) if user is not None else None


def record_acks(request: Request, session: Session, acks: list[Acknowledgement]) -> None:
    """Stamp each case's first acknowledgement and audit it (the caller commits)."""
    for ack in acks:
        case = session.get(Case, ack.case_id)
        first = case is not None and acknowledge_case(
            session, case, by=ack.by, via=ack.via, settings=request.app.state.settings)
        principal = person_principal(session, ack.by, ack.via)
        audit(request, session, principal, "ack", username=None if principal else ack.by,
              object_type="case", object_id=ack.case_id,
              detail={"via": ack.via, "first": first, "alert_id": ack.alert_id})


def link_signed(request: Request, path: str, query: dict[str, str]) -> bool:
    return verify_signed(path, query, request.app.state.secret, int(alerting.now().timestamp()))


# ------------------------------------------------------------------ Twilio webhooks
TwimlHandler = Callable[[Session, str, dict[str, str], str | None, Settings], str]


async def twiml_answer(request: Request, session: Session, handler: TwimlHandler) -> Response:
    """Run a signed Twilio request through ``handler``; audit what it acknowledged; TwiML."""
    params = await form_params(request)
    try:
        with acks_written(session) as acks:
            reply = handler(session, public_url(request), params,
                            request.headers.get("x-twilio-signature"),
                            request.app.state.settings)
    except alerting.SignatureError as exc:
        raise HTTPException(403, str(exc)) from None
    record_acks(request, session, acks)
    session.commit()
    return Response(reply, media_type=TWIML)


@router.post("/api/notifications/twilio/sms")
async def twilio_sms(request: Request, session: DB) -> Response:
    """An SMS reply to a page (``1``/``ACK`` acknowledges, ``2`` passes on); TwiML."""
    return await twiml_answer(request, session, alerting.twilio_incoming)


@router.post("/api/notifications/twilio/voice")
async def twilio_voice(request: Request, session: DB) -> Response:
    """A keypress in a page call (``1`` acknowledges, ``2`` passes on); TwiML to speak."""
    return await twiml_answer(request, session, alerting.twilio_voice)


@router.post("/api/notifications/twilio/status", status_code=204)
async def twilio_status(request: Request, session: DB) -> Response:
    """A delivery receipt for a message we sent."""
    params = await form_params(request)
    try:
        alerting.twilio_status(session, public_url(request), params,
                               request.headers.get("x-twilio-signature"),
                               request.app.state.settings)
    except alerting.SignatureError as exc:
        raise HTTPException(403, str(exc)) from None
    session.commit()
    return Response(status_code=204)


# ------------------------------------------------------------------ signed links
def ack_page(request: Request, alert: Alert, **context: Any) -> HTMLResponse:
    state = request.app.state
    response: HTMLResponse = state.templates.TemplateResponse(request, "alert_ack.html", {
        "user": None, "csrf": None, "zone": state.zone, "alert": alert, **context})
    response.headers["Cache-Control"] = "no-store"
    return response


def signed_alert(request: Request, session: Session, alert_id: str
                 ) -> tuple[Alert, Person, dict[str, str]]:
    query = dict(request.query_params)
    if not link_signed(request, f"/alerts/{alert_id}/ack", query):
        raise HTTPException(403, BAD_LINK)
    alert = session.get(Alert, alert_id)
    person = session.get(Person, int(query["person"])) if query.get("person", "").isdigit() \
        else None
    if alert is None or person is None:
        raise HTTPException(403, BAD_LINK)
    return alert, person, query


@router.get("/alerts/{alert_id}/ack")
def ack_confirm(request: Request, session: DB, alert_id: str) -> HTMLResponse:
    """The push/e-mail action link: a confirm button (link scanners must not acknowledge)."""
    alert, person, _query = signed_alert(request, session, alert_id)
    return ack_page(request, alert, person=person.name, state="confirm")


@router.post("/alerts/{alert_id}/ack")
def ack_submit(request: Request, session: DB, alert_id: str) -> HTMLResponse:
    """Acknowledge as the person the signed link was sent to."""
    alert, person, query = signed_alert(request, session, alert_id)
    with acks_written(session) as acks:
        alerting.acknowledge_link(session, alert_id, query, request.app.state.settings)
    record_acks(request, session, acks)
    session.commit()
    if acks:
        return ack_page(request, alert, person=person.name, state="done")
    earlier = session.scalar(select(Acknowledgement).where(
        Acknowledgement.case_id == alert.case_id).order_by(Acknowledgement.at.desc()).limit(1))
    return ack_page(request, alert, person=person.name, state="already",
                    earlier_by=earlier.by if earlier else None)


def audit_image_fetch(request: Request, session: Session, alert_id: str, index: int,
                      query: dict[str, str], outcome: str) -> None:
    """Audit one key-image fetch (committed now): the channel the link went out on, the
    person it was sent to (per-person links), the device's user agent and address."""
    to = query.get("to", "")
    row = session.get(OutboxMessage, int(to)) if to.isdigit() else None
    audit(request, session, None, "key_image_fetch", object_type="alert", object_id=alert_id,
          outcome=outcome, detail={"index": index, "via": query.get("via"),
                                   "recipient": row.recipient if row is not None else None})
    session.commit()


@router.get("/alerts/{alert_id}/images/{index}")
def alert_key_image(request: Request, session: DB, alert_id: str, index: int) -> Response:
    """A key image behind a short-lived, revocable signed link (push image, MMS, SMS link);
    every fetch, refused or not, is audited."""
    query = dict(request.query_params)
    alert = session.get(Alert, alert_id)
    signed = link_signed(request, f"/alerts/{alert_id}/images/{index}", query)
    if not signed or (alert is not None and alert.images_revoked_at is not None):
        audit_image_fetch(request, session, alert_id, index, query,
                          "revoked" if signed else "refused")
        raise HTTPException(403, BAD_LINK)
    reference = alerting.key_image_for(session, alert_id, index, query,
                                       request.app.state.settings)
    case = session.get(Case, alert.case_id) if alert is not None else None
    path = images.key_image_file(case, reference) if case is not None and reference else None
    if path is None:
        audit_image_fetch(request, session, alert_id, index, query, "not_found")
        raise HTTPException(404, "no such image")
    audit_image_fetch(request, session, alert_id, index, query, "ok")
    return FileResponse(path, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.post("/api/cases/{case_id}/key-image-links/revoke")
def revoke_key_image_links(request: Request, session: DB, principal: Acker,
                           case_id: str) -> dict[str, int]:
    """Refuse every key-image link sent for the case from now on (a lost phone, a wrong
    recipient); audited."""
    if session.get(Case, case_id) is None:
        raise HTTPException(404, "no such case")
    revoked = alerting.revoke_key_image_links(session, case_id)
    audit(request, session, principal, "key_image_links_revoked", object_type="case",
          object_id=case_id, detail={"alerts": revoked})
    session.commit()
    return {"alerts_revoked": revoked}

"""Request dependencies: database session, the authenticated principal, role and CSRF checks,
and the audit helper that records who/what/when/from where."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from strokealert.accesslog import log as audit_log
from strokealert.api.security import CSRF_HEADER, SESSION_COOKIE, client_address
from strokealert.api.services import sessions
from strokealert.config import Settings
from strokealert.db.models.users import User

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Who may do what (admins may do everything).
VIEW_ROLES = ("stroke_team", "radiologist", "coordinator")
ACK_ROLES = ("stroke_team", "radiologist")
TIMELINE_ROLES = ("stroke_team", "coordinator")
EXPORT_ROLES = ("coordinator",)


@dataclass(frozen=True)
class Principal:
    """The user behind a request and how they authenticated (``session`` or ``token``)."""

    user: User
    via: str
    csrf: str | None = None
    session_id: str | None = None  # the cookie's opaque id (session logins)

    @property
    def name(self) -> str:
        return self.user.display_name or self.user.username


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_db(request: Request) -> Iterator[Session]:
    """A session per request; handlers that write commit themselves."""
    session = request.app.state.factory()
    try:
        yield session
    finally:
        session.close()


DB = Annotated[Session, Depends(get_db)]


def client_ip(request: Request) -> str:
    """The client's address; ``X-Forwarded-For`` counts only from ``trusted_proxies``."""
    peer = request.client.host if request.client else "unknown"
    return client_address(peer, request.headers.get("x-forwarded-for"),
                          request.app.state.trusted_proxies)


def optional_principal(request: Request, session: DB) -> Principal | None:
    """The active user behind an unexpired, unrevoked bearer token or a live server-side
    session (the cookie's id), else None."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        token = sessions.live_token(session, auth[7:].strip())
        return Principal(token.user, "token") if token is not None else None
    session_id = request.app.state.signer.load(request.cookies.get(SESSION_COOKIE))
    if session_id is None:
        return None
    row = sessions.live_session(session, session_id, request.app.state.settings.session_idle_s)
    if row is None:
        return None
    return Principal(row.user, "session", row.csrf, session_id)


def require(*roles: str
            ) -> Callable[[Request, Principal | None], Coroutine[Any, Any, Principal]]:
    """A dependency: 401 without a login, 403 for another role or (cookie logins) a missing
    CSRF token on a state-changing request."""

    async def dependency(request: Request,
                         principal: Annotated[Principal | None, Depends(optional_principal)]
                         ) -> Principal:
        if principal is None:
            raise HTTPException(401, "login required", headers={"WWW-Authenticate": "Bearer"})
        if roles and principal.user.role != "admin" and principal.user.role not in roles:
            raise HTTPException(403, "your role may not do this")
        if principal.via == "session" and request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER)
            if sent is None and request.headers.get("content-type", "").startswith(
                    ("application/x-www-form-urlencoded", "multipart/form-data")):
                sent = str((await request.form()).get("csrf_token") or "")
            if not sent or not hmac.compare_digest(sent, principal.csrf or ""):
                raise HTTPException(403, "missing or wrong CSRF token")
        return principal

    return dependency


Viewer = Annotated[Principal, Depends(require(*VIEW_ROLES))]
Acker = Annotated[Principal, Depends(require(*ACK_ROLES))]
TimelineEditor = Annotated[Principal, Depends(require(*TIMELINE_ROLES))]
Exporter = Annotated[Principal, Depends(require(*EXPORT_ROLES))]
Admin = Annotated[Principal, Depends(require("admin"))]


def audit(request: Request, session: Session, principal: Principal | None, action: str, *,
          username: str | None = None, object_type: str | None = None,
          object_id: str | None = None, outcome: str = "ok",
          detail: dict[str, Any] | None = None) -> None:
    """Append an audit event for this request (flushed; the caller commits)."""
    audit_log.record(session, action,
                     username=username or (principal.user.username if principal else None),
                     role=principal.user.role if principal else None, object_type=object_type,
                     object_id=object_id, outcome=outcome, ip=client_ip(request),
                     user_agent=request.headers.get("user-agent"), detail=detail)


def utcnow() -> datetime:
    return datetime.now(UTC)

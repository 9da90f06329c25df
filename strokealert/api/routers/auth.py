"""Login (password or hospital SSO via OIDC), logout, server-side sessions, API tokens and
their revocation, phone registration."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from httpx import HTTPError
from sqlalchemy import select
from sqlalchemy.orm import Session

from strokealert.api.dependencies import (
    DB,
    Admin,
    Principal,
    audit,
    client_ip,
    require,
    utcnow,
)
from strokealert.api.schemas import DeviceIn, RevokedOut, TokenIn, TokenInfo, TokenOut, UserOut
from strokealert.api.security import LOGIN_CSRF_COOKIE, SESSION_COOKIE, verify_password
from strokealert.api.services import sessions, users
from strokealert.db.models.users import ApiToken, User

router = APIRouter(tags=["auth"])
AnyUser = Annotated[Principal, Depends(require())]


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/") and not target.startswith("//") else "/"


def login_page(request: Request, *, error: str | None = None, status_code: int = 200,
               next_url: str = "/") -> HTMLResponse:
    token, cookie = request.app.state.signer.login_csrf()
    response: HTMLResponse = request.app.state.templates.TemplateResponse(
        request, "login.html", {"error": error, "csrf": token, "next": _safe_next(next_url),
                                "oidc": request.app.state.oidc is not None},
        status_code=status_code)
    response.set_cookie(LOGIN_CSRF_COOKIE, cookie, httponly=True, samesite="strict",
                        secure=request.app.state.https, max_age=3600)
    return response


def start_session(request: Request, session: Session, user: User, method: str,
                  redirect: str) -> Response:
    """Store a server-side session (committed) and set its signed opaque id as the cookie."""
    state = request.app.state
    session_id = sessions.open_session(session, user, method, state.settings)
    session.commit()
    cookie = state.signer.dump(session_id)
    response = RedirectResponse(_safe_next(redirect), status_code=303)
    response.set_cookie(SESSION_COOKIE, cookie, httponly=True, samesite="lax",
                        secure=request.app.state.https,
                        max_age=request.app.state.settings.session_max_age_s)
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return login_page(request, next_url=next)


@router.post("/login", include_in_schema=False)
def login(request: Request, session: DB, username: Annotated[str, Form()],
          password: Annotated[str, Form()], csrf_token: Annotated[str, Form()] = "",
          next: Annotated[str, Form()] = "/") -> Response:
    """Password login; rate limited per user and per address (a wrong password's attempt stays
    counted); every attempt audited."""
    state = request.app.state
    ip = client_ip(request)
    if not state.signer.check_login_csrf(request.cookies.get(LOGIN_CSRF_COOKIE), csrf_token):
        return login_page(request, error="The form expired; please try again.", status_code=403,
                          next_url=next)
    attempt = state.limiter.attempt(username, ip)
    wait = attempt.wait_s
    if wait > 0:
        audit(request, session, None, "login_failed", username=username, outcome="rate_limited")
        session.commit()
        response = login_page(request, error=f"Too many attempts. Try again in {wait:.0f} s.",
                              status_code=429, next_url=next)
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active or not verify_password(user.password_hash, password):
        audit(request, session, None, "login_failed", username=username, outcome="denied")
        session.commit()
        return login_page(request, error="Wrong username or password.", status_code=401,
                          next_url=next)
    state.limiter.succeeded(username, ip, attempt)
    user.last_login_at = utcnow()
    audit(request, session, Principal(user, "session"), "login", detail={"method": "password"})
    return start_session(request, session, user, "password", next)


@router.post("/logout", include_in_schema=False)
def logout(request: Request, session: DB, principal: AnyUser) -> Response:
    """Ends the server-side session: the cookie is worthless afterwards, even if replayed."""
    if principal.session_id is not None:
        sessions.close_session(session, principal.session_id)
    audit(request, session, principal, "logout")
    session.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


OIDC_CALLBACK = "/auth/oidc/callback"


@router.get("/login/oidc", include_in_schema=False)
async def oidc_start(request: Request, next: str = "/") -> Response:
    """Redirect to the hospital's identity provider (when OIDC is configured). The callback URL
    is built from ``STROKEALERT_PUBLIC_URL`` (what the provider has registered), not from the
    request, so it is the same behind a TLS-terminating proxy."""
    client = request.app.state.oidc
    if client is None:
        raise HTTPException(404, "single sign-on is not configured")
    request.session["next"] = _safe_next(next)
    redirect_uri = request.app.state.settings.public_url.rstrip("/") + OIDC_CALLBACK
    redirect: Response = await client.authorize_redirect(request, redirect_uri)
    return redirect


def _sso_refused(request: Request, session: Session, username: str | None, outcome: str,
                 status: int, message: str, detail: dict[str, str] | None = None) -> HTTPException:
    """Audit a refused single sign-on and return the error to raise."""
    audit(request, session, None, "login_failed", username=username, outcome=outcome,
          detail={"method": "oidc", **(detail or {})})
    session.commit()
    return HTTPException(status, message)


@router.get(OIDC_CALLBACK, include_in_schema=False, name="oidc_callback")
async def oidc_callback(request: Request, session: DB) -> Response:
    """Check state, code, PKCE and the signed ID token (issuer, audience, expiry, nonce), then
    find the local user by issuer + subject (see :func:`users.find_sso_user`), else create one
    whose role comes from the role claim. A name or an email never reaches a password account;
    an admin links one explicitly (``strokealert user link-sso``) and it keeps its own role.
    Users created by SSO take their role from the claim at every login."""
    from authlib.integrations.base_client import OAuthError
    from joserfc.errors import JoseError

    client = request.app.state.oidc
    if client is None:
        raise HTTPException(404, "single sign-on is not configured")
    settings = request.app.state.settings
    try:
        token = await client.authorize_access_token(
            request, claims_options={"iss": {"essential": True,
                                             "values": [settings.oidc_issuer]}})
    except (OAuthError, JoseError, HTTPError, ValueError, KeyError) as exc:
        raise _sso_refused(request, session, None, "sso_failed", 401, "single sign-on failed",
                           {"reason": type(exc).__name__}) from None
    claims = token.get("userinfo") or {}
    subject = str(claims.get("sub") or "")
    if not subject:
        raise _sso_refused(request, session, None, "sso_failed", 401, "single sign-on failed",
                           {"reason": "no ID token"})
    issuer = str(claims.get("iss") or settings.oidc_issuer)
    role = users.role_from_claims(claims, settings.oidc_role_claim, settings.oidc_default_role)
    user = users.find_sso_user(session, issuer, subject, claims,
                               link_email=settings.oidc_link_verified_email)
    if user is None or user.password_hash is None:
        if role is None:
            name = user.username if user else users.claimed_name(claims, subject)
            raise _sso_refused(request, session, name, "no_sso_role", 403,
                               "this account is not enabled for strokealert")
        if user is None:
            user = users.add_sso_user(session, issuer, subject, claims, role)
        user.role = role
    if not user.active:
        raise _sso_refused(request, session, user.username, "disabled", 403,
                           "this account is disabled")
    user.oidc_issuer, user.oidc_subject = issuer, subject
    user.last_login_at = utcnow()
    session.flush()
    audit(request, session, Principal(user, "session"), "login", detail={"method": "oidc"})
    return start_session(request, session, user, "oidc", request.session.pop("next", "/"))


@router.get("/api/me", response_model=UserOut)
def me(principal: AnyUser) -> UserOut:
    u = principal.user
    return UserOut(username=u.username, display_name=u.display_name, role=u.role)


def _token_info(row: ApiToken) -> TokenInfo:
    return TokenInfo(id=row.id, name=row.name, created_at=row.created_at,
                     expires_at=row.expires_at, last_used_at=row.last_used_at,
                     revoked_at=row.revoked_at)


@router.post("/api/tokens", response_model=TokenOut, status_code=201)
def create_token(request: Request, session: DB, principal: AnyUser, body: TokenIn) -> TokenOut:
    """A bearer token for a device or script of the calling user (shown once), living
    ``days`` (default ``token_default_days``, at most ``token_max_days``)."""
    try:
        token, row = sessions.issue_token(session, principal.user, body.name, body.days,
                                          request.app.state.settings)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    audit(request, session, principal, "token_created", object_type="token",
          object_id=str(row.id),
          detail={"name": body.name, "expires_at": row.expires_at.isoformat()})
    session.commit()
    return TokenOut(token=token, **_token_info(row).model_dump())


def _user_named(session: Session, principal: Principal, username: str | None) -> User:
    """The calling user, or (admins only) the user named ``username``."""
    if username is None or username == principal.user.username:
        return principal.user
    if principal.user.role != "admin":
        raise HTTPException(403, "your role may not do this")
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise HTTPException(404, "no such user")
    return user


@router.get("/api/tokens", response_model=list[TokenInfo])
def list_tokens(session: DB, principal: AnyUser, user: str | None = None) -> list[TokenInfo]:
    """The calling user's tokens (admins: ``?user=NAME``), revoked and expired ones too."""
    return [_token_info(row) for row in sessions.tokens_of(
        session, _user_named(session, principal, user))]


@router.delete("/api/tokens/{token_id}", status_code=204)
def revoke_token(request: Request, session: DB, principal: AnyUser, token_id: int) -> None:
    """Revoke one token: one's own, or anyone's for an admin."""
    row = session.get(ApiToken, token_id)
    if row is None or (row.user_id != principal.user.id and principal.user.role != "admin"):
        raise HTTPException(404, "no such token")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    audit(request, session, principal, "token_revoked", object_type="token",
          object_id=str(row.id), detail={"user": row.user.username})
    session.commit()


@router.post("/api/users/{username}/revoke", response_model=RevokedOut)
def revoke_user(request: Request, session: DB, principal: Admin, username: str) -> RevokedOut:
    """End every web session and revoke every token of a user (lost phone, staff leaving)."""
    user = _user_named(session, principal, username)
    ended, revoked = sessions.revoke_user(session, user)
    audit(request, session, principal, "sessions_revoked", object_type="user",
          object_id=str(user.id), detail={"user": user.username, "sessions": ended,
                                          "tokens": revoked})
    session.commit()
    return RevokedOut(username=user.username, sessions=ended, tokens=revoked)


@router.post("/api/devices", status_code=204)
def register_device(request: Request, session: DB, principal: AnyUser, body: DeviceIn) -> None:
    """The PWA / phone app registers its FCM token for the logged-in user's person."""
    from notifications.models import Person
    from strokealert import alerting

    person = session.get(Person, principal.user.person_id) if principal.user.person_id else None
    if person is None:
        raise HTTPException(409, "your account is not linked to an on-call person")
    alerting.register_device(session, person.name, body.token, body.platform)
    audit(request, session, principal, "device_registered", detail={"platform": body.platform})
    session.commit()

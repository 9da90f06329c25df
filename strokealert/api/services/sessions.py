"""Server-side web sessions and bearer tokens: creation, lookup with idle and absolute expiry,
logout, listing and revocation (one user's or everyone's)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, or_, select, update
from sqlalchemy.orm import Session

from strokealert.api.security import TOKEN_PREFIX, new_secret, token_digest
from strokealert.config import Settings
from strokealert.db.models.users import ApiToken, User, WebSession

# last_seen_at / last_used_at are written at most this often per session or token (seconds).
TOUCH_EVERY_S = 60.0


def utcnow() -> datetime:
    return datetime.now(UTC)


def open_session(session: Session, user: User, method: str, settings: Settings) -> str:
    """Store a new web session for ``user`` (``method``: password or oidc); returns its opaque
    id for the cookie. Sessions already expired (any user's) are pruned on the way."""
    now = utcnow()
    session.execute(delete(WebSession).where(or_(
        WebSession.expires_at <= now,
        WebSession.last_seen_at <= now - timedelta(seconds=settings.session_idle_s))))
    session_id, digest = new_secret()
    session.add(WebSession(id_sha256=digest, user_id=user.id, csrf=secrets.token_urlsafe(24),
                           method=method, created_at=now, last_seen_at=now,
                           expires_at=now + timedelta(seconds=settings.session_max_age_s)))
    return session_id


def live_session(session: Session, session_id: str, idle_s: float) -> WebSession | None:
    """The stored session behind a cookie's id if it has not expired and its user is active;
    its ``last_seen_at`` is moved on (committed) when older than :data:`TOUCH_EVERY_S`."""
    row = session.get(WebSession, token_digest(session_id))
    now = utcnow()
    if (row is None or row.expires_at <= now or not row.user.active
            or row.last_seen_at <= now - timedelta(seconds=idle_s)):
        return None
    if (now - row.last_seen_at).total_seconds() >= TOUCH_EVERY_S:
        row.last_seen_at = now
        session.commit()
    return row


def close_session(session: Session, session_id: str) -> None:
    """Logout: the stored session is deleted, so its cookie is worthless from now on."""
    session.execute(delete(WebSession).where(WebSession.id_sha256 == token_digest(session_id)))


def issue_token(session: Session, user: User, name: str, days: int | None,
                settings: Settings) -> tuple[str, ApiToken]:
    """A new bearer token for ``user`` living ``days`` (default ``token_default_days``, at most
    ``token_max_days``); returns the token (shown once) and its row."""
    lifetime = settings.token_default_days if days is None else days
    if not 1 <= lifetime <= settings.token_max_days:
        raise ValueError(f"a token lives 1 to {settings.token_max_days} days")
    token, digest = new_secret(TOKEN_PREFIX)
    now = utcnow()
    row = ApiToken(user_id=user.id, name=name, token_sha256=digest, created_at=now,
                   expires_at=now + timedelta(days=lifetime))
    session.add(row)
    session.flush()
    return token, row


def live_token(session: Session, token: str) -> ApiToken | None:
    """The unrevoked, unexpired token row of an active user, else None; ``last_used_at`` is
    moved on (committed) when older than :data:`TOUCH_EVERY_S`."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == token_digest(token)))
    now = utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= now or not row.user.active:
        return None
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() >= TOUCH_EVERY_S:
        row.last_used_at = now
        session.commit()
    return row


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    """The user's tokens, newest first (revoked and expired ones included)."""
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                                .order_by(ApiToken.id.desc())))


def revoke_user(session: Session, user: User) -> tuple[int, int]:
    """End every web session and revoke every live token of ``user``; returns how many
    sessions and tokens (the caller commits and audits)."""
    sessions = session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    tokens = session.execute(update(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow()))
    return (cast(CursorResult[Any], sessions).rowcount,
            cast(CursorResult[Any], tokens).rowcount)

"""Passwords (argon2id), API tokens (SHA-256 stored), signed session cookies with a CSRF token,
login rate limiting (shared through the database) and security headers."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from strokealert.db.models.users import LoginFailure

SESSION_COOKIE = "sa_session"
LOGIN_CSRF_COOKIE = "sa_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
TOKEN_PREFIX = "sat_"

_hasher = PasswordHasher()
# A hash to verify against when the user does not exist, so timing does not reveal usernames.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(8))


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise ValueError("a password needs at least 8 characters")
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def new_api_token() -> tuple[str, str]:
    """A fresh bearer token and the SHA-256 hex that is stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, token_digest(token)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SessionData:
    user_id: int
    csrf: str
    issued: float


class SessionSigner:
    """Signs the session cookie (user id, CSRF token) with the service secret."""

    def __init__(self, secret: str, max_age_s: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="strokealert.session")
        self._login = URLSafeTimedSerializer(secret, salt="strokealert.login-csrf")
        self.max_age_s = max_age_s

    def dump(self, user_id: int) -> tuple[str, str]:
        csrf = secrets.token_urlsafe(24)
        return self._serializer.dumps({"u": user_id, "c": csrf, "t": time.time()}), csrf

    def load(self, cookie: str | None) -> SessionData | None:
        if not cookie:
            return None
        try:
            data: dict[str, Any] = self._serializer.loads(cookie, max_age=self.max_age_s)
        except BadSignature:
            return None
        return SessionData(int(data["u"]), str(data["c"]), float(data["t"]))

    def login_csrf(self) -> tuple[str, str]:
        """A login-form CSRF token and its signed cookie value (double submit)."""
        token = secrets.token_urlsafe(24)
        return token, self._login.dumps(token)

    def check_login_csrf(self, cookie: str | None, token: str | None) -> bool:
        if not cookie or not token:
            return False
        try:
            expected = self._login.loads(cookie, max_age=3600)
        except BadSignature:
            return False
        return hmac.compare_digest(str(expected), token)


@dataclass(frozen=True)
class LoginAttempt:
    """The limiter's rows for one password attempt and the seconds to wait (0 = go ahead)."""

    ids: tuple[int, ...]
    wait_s: float


class LoginLimiter:
    """At most ``max_failures`` failed logins per username and per client address within
    ``window_s`` seconds, counted in the database so that every web process and replica shares
    them. An attempt is written (committed) before the password is checked, so guesses sent in
    parallel to several replicas count too; its rows stay when the password is wrong and are
    removed when the attempt is refused by the limit or succeeds. A success also clears the
    username's failures (not the address's)."""

    def __init__(self, factory: sessionmaker[Session], max_failures: int,
                 window_s: float) -> None:
        self.factory, self.max_failures, self.window_s = factory, max_failures, window_s

    @staticmethod
    def keys(username: str, ip: str) -> tuple[str, str]:
        return f"u:{username.strip().lower()}"[:200], f"ip:{ip}"[:200]

    def attempt(self, username: str, ip: str) -> LoginAttempt:
        """Record an attempt; ``wait_s`` > 0 means it is refused (and not counted)."""
        now = datetime.now(UTC)
        cutoff = now - timedelta(seconds=self.window_s)
        keys = self.keys(username, ip)
        with self.factory.begin() as session:
            session.execute(delete(LoginFailure).where(LoginFailure.at <= cutoff))
            rows = [LoginFailure(key=key, at=now) for key in keys]
            session.add_all(rows)
            session.flush()
            ids = tuple(row.id for row in rows)
        wait = 0.0
        with self.factory() as session:
            for key in keys:
                # Every other attempt in the window, including ones still being checked.
                prior = session.scalars(
                    select(LoginFailure.at)
                    .where(LoginFailure.key == key, LoginFailure.at > cutoff,
                           LoginFailure.id.not_in(ids))
                    .order_by(LoginFailure.at)).all()
                if len(prior) >= self.max_failures:
                    # Allowed again once enough of them have left the window.
                    oldest_needed = prior[len(prior) - self.max_failures]
                    wait = max(wait, (oldest_needed - cutoff).total_seconds())
        if wait > 0:
            self._forget(ids)
        return LoginAttempt(ids, wait)

    def succeeded(self, username: str, attempt: LoginAttempt) -> None:
        """The password was right: drop this attempt and the username's failures."""
        self._forget(attempt.ids, self.keys(username, "")[0])

    def _forget(self, ids: tuple[int, ...], key: str | None = None) -> None:
        with self.factory.begin() as session:
            condition = LoginFailure.id.in_(ids)
            session.execute(delete(LoginFailure).where(
                or_(condition, LoginFailure.key == key) if key else condition))


# Where the Firebase web SDK's getToken() talks to (installations, then FCM registration).
FIREBASE_CONNECT = ("https://firebaseinstallations.googleapis.com",
                    "https://fcmregistrations.googleapis.com")


def content_security_policy(connect_extra: tuple[str, ...] = ()) -> str:
    """Our own origin only; ``connect_extra`` adds origins that scripts may fetch from."""
    connect = " ".join(("'self'", *connect_extra))
    return ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
            f"script-src 'self'; connect-src {connect}; frame-ancestors 'none'; "
            "base-uri 'none'; form-action 'self'; object-src 'none'; manifest-src 'self'; "
            "worker-src 'self'")


class SecurityHeaders:
    """ASGI middleware: CSP, no framing, no sniffing, no referrer; HSTS behind HTTPS; PHI pages
    are never cached."""

    def __init__(self, app: ASGIApp, *, https: bool, connect_extra: tuple[str, ...] = ()) -> None:
        self.app, self.https = app, https
        self.csp = content_security_policy(connect_extra)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", self.csp)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                headers["Referrer-Policy"] = "no-referrer"
                headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
                headers["Cross-Origin-Opener-Policy"] = "same-origin"
                if self.https:
                    headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
                if not static:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)

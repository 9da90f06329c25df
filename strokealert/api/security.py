"""Passwords (argon2id), API tokens and session ids (SHA-256 stored), signed session cookies,
the client address behind trusted proxies, login rate limiting (shared through the database)
and security headers."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
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


def new_secret(prefix: str = "") -> tuple[str, str]:
    """A fresh opaque secret (bearer token with ``TOKEN_PREFIX``, or session id) and the
    SHA-256 hex that is stored."""
    secret = prefix + secrets.token_urlsafe(32)
    return secret, token_digest(secret)


def token_digest(token: str) -> str:
    """SHA-256 hex of a bearer token or session id (what the database holds)."""
    return hashlib.sha256(token.encode()).hexdigest()


class SessionSigner:
    """Signs the session cookie (an opaque server-side session id) and the login form's CSRF
    cookie with the service secret."""

    def __init__(self, secret: str, max_age_s: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="strokealert.session")
        self._login = URLSafeTimedSerializer(secret, salt="strokealert.login-csrf")
        self.max_age_s = max_age_s

    def dump(self, session_id: str) -> str:
        return self._serializer.dumps(session_id)

    def load(self, cookie: str | None) -> str | None:
        """The session id the cookie carries, or None (absent, forged or older than the
        absolute lifetime)."""
        if not cookie:
            return None
        try:
            session_id: Any = self._serializer.loads(cookie, max_age=self.max_age_s)
        except BadSignature:
            return None
        return session_id if isinstance(session_id, str) else None

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


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_proxies(text: str) -> tuple[Network, ...]:
    """``STROKEALERT_TRUSTED_PROXIES``: comma-separated addresses or networks (CIDR)."""
    try:
        return tuple(ipaddress.ip_network(part.strip(), strict=False)
                     for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise ValueError(f"STROKEALERT_TRUSTED_PROXIES: {exc}") from None


def _trusted(address: str, proxies: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def client_address(peer: str, forwarded_for: str | None, proxies: tuple[Network, ...]) -> str:
    """The client's address: the TCP peer, unless the peer is a trusted proxy; then the
    right-most ``X-Forwarded-For`` entry that is not itself a trusted proxy (entries further
    left are written by the client and prove nothing)."""
    if not forwarded_for or not _trusted(peer, proxies):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            return hop[:64]
    return hops[0][:64] if hops else peer


@dataclass(frozen=True)
class LoginAttempt:
    """The limiter's rows for one password attempt and the seconds to wait (0 = go ahead)."""

    ids: tuple[int, ...]
    wait_s: float


class LoginLimiter:
    """Slows password guessing without letting anyone lock a user out. Failures count per
    (username, client address), at most ``max_failures`` within ``window_s`` seconds, and per
    client address whatever the username, at most ``max_per_address``; past a limit that key's
    attempts are refused until enough failures leave the window. The user's right password from
    another address is never refused because of someone else's guesses. Counted in the database
    so every web process and replica shares them; an attempt is written (committed) before the
    password is checked, so guesses sent in parallel count too. Its rows stay when the password
    is wrong and are removed when the attempt is refused or succeeds; a success also clears the
    (username, address) failures (not the address's)."""

    def __init__(self, factory: sessionmaker[Session], max_failures: int,
                 max_per_address: int, window_s: float) -> None:
        self.factory, self.window_s = factory, window_s
        self.max_failures, self.max_per_address = max_failures, max_per_address

    @staticmethod
    def keys(username: str, ip: str) -> tuple[str, str]:
        return f"ua:{username.strip().lower()}|{ip}"[:200], f"ip:{ip}"[:200]

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
            for key, limit in zip(keys, (self.max_failures, self.max_per_address), strict=True):
                # Every other attempt in the window, including ones still being checked.
                prior = session.scalars(
                    select(LoginFailure.at)
                    .where(LoginFailure.key == key, LoginFailure.at > cutoff,
                           LoginFailure.id.not_in(ids))
                    .order_by(LoginFailure.at)).all()
                if len(prior) >= limit:
                    # Allowed again once enough of them have left the window.
                    oldest_needed = prior[len(prior) - limit]
                    wait = max(wait, (oldest_needed - cutoff).total_seconds())
        if wait > 0:
            self._forget(ids)
        return LoginAttempt(ids, wait)

    def succeeded(self, username: str, ip: str, attempt: LoginAttempt) -> None:
        """The password was right: drop this attempt and the (username, address) failures."""
        self._forget(attempt.ids, self.keys(username, ip)[0])

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

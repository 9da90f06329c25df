"""Issue 14, authentication rows, against a real ``strokealert serve`` on PostgreSQL: an SSO
identity calling itself ``admin`` is not the admin; a session cookie replayed after logout and
a revoked or expired bearer token are refused; eight wrong passwords (with a rotating
X-Forwarded-For from a loopback peer) slow that address and never lock the real user out."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import create_engine, select, update

from strokealert.db.models.audit import AuditEvent
from strokealert.db.models.users import ApiToken
from strokealert.demo import CLI
from tests.api.fake_oidc import FakeOIDCProvider
from tests.chaos.web_service import PASSWORD, Served, web_service
from tests.conftest import _PG, _postgres_database

pytestmark = pytest.mark.skipif(not _PG, reason="PostgreSQL not reachable")


@pytest.fixture(scope="module")
def idp() -> Iterator[FakeOIDCProvider]:
    with FakeOIDCProvider(user={}) as provider:
        yield provider


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, idp: FakeOIDCProvider) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("auth")
    for url in _postgres_database():
        with web_service(root, url, {"admin": "admin", "nurse": "stroke_team"},
                         oidc_issuer=idp.issuer, oidc_client_id=idp.client_id,
                         oidc_client_secret=idp.client_secret, oidc_role_claim="groups",
                         login_max_failures="5") as service:
            yield service


def form_login(client: httpx.Client, username: str, password: str,
               headers: dict[str, str] | None = None) -> int:
    """One form login (its CSRF token first); the status code."""
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None, page.text[:300]
    return client.post("/login", headers=headers, data={
        "username": username, "password": password, "csrf_token": token.group(1)}).status_code


def csrf_of(client: httpx.Client) -> dict[str, str]:
    token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/").text)
    assert token is not None
    return {"X-CSRF-Token": token.group(1)}


def bearer(served: Served, token: str) -> int:
    return httpx.get(served.base_url + "/api/me", headers={"Authorization": f"Bearer {token}"},
                     timeout=30).status_code


def test_sso_identity_named_admin_is_not_the_admin(served: Served,
                                                   idp: FakeOIDCProvider) -> None:
    idp.user = {"sub": "idp-evil", "preferred_username": "admin", "email": "admin",
                "email_verified": False, "groups": ["stroke_team"]}
    with served.client() as client:
        start = client.get("/login/oidc")
        assert start.status_code == 302
        at_provider = httpx.get(start.headers["location"], timeout=10)
        callback = at_provider.headers["location"]
        assert callback.startswith(served.base_url + "/auth/oidc/callback?")
        assert client.get(callback).status_code == 303
        me = client.get("/api/me").json()
    assert me == {"username": "admin (idp-evil)", "display_name": "admin (idp-evil)",
                  "role": "stroke_team"}
    with served.client("admin") as real_admin:
        assert real_admin.get("/api/me").json()["role"] == "admin"


def test_logout_and_revocation_end_cookies_and_tokens(served: Served) -> None:
    with served.client("nurse") as browser:
        cookie = browser.cookies["sa_session"]
        assert browser.post("/logout", headers=csrf_of(browser)).status_code == 303
    with httpx.Client(base_url=served.base_url, cookies={"sa_session": cookie},
                      timeout=30) as replay:
        assert replay.get("/api/me").status_code == 401

    with served.client("nurse") as phone, served.client("nurse") as browser:
        h = csrf_of(phone)
        token = phone.post("/api/tokens", json={"name": "phone"}, headers=h).json()
        short = phone.post("/api/tokens", json={"name": "script", "days": 1}, headers=h).json()
        assert bearer(served, token["token"]) == bearer(served, short["token"]) == 200
        engine = create_engine(served.env["STROKEALERT_DATABASE_URL"])
        with engine.begin() as conn:  # a day later
            conn.execute(update(ApiToken).where(ApiToken.id == short["id"]).values(
                expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        assert bearer(served, short["token"]) == 401
        done = subprocess.run([*CLI, "user", "revoke", "nurse"], env=served.env, text=True,
                              capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "user nurse: 2 sessions ended, 2 tokens revoked"
        assert bearer(served, token["token"]) == 401
        assert phone.get("/api/me").status_code == browser.get("/api/me").status_code == 401
    with engine.connect() as conn:
        (event,) = conn.execute(select(AuditEvent.username, AuditEvent.detail).where(
            AuditEvent.action == "sessions_revoked")).all()
    engine.dispose()
    assert event == ("cli", {"user": "nurse", "sessions": 2, "tokens": 2})


def test_guesses_with_forged_forwarded_for_never_lock_the_user_out(served: Served) -> None:
    # The guesser's own loopback address: the module's other tests log in from 127.0.0.1.
    guessing = httpx.HTTPTransport(local_address="127.0.0.3")
    with httpx.Client(base_url=served.base_url, transport=guessing, timeout=30) as guesser:
        codes = [form_login(guesser, "admin", "not the password",
                            {"X-Forwarded-For": f"198.51.100.{i}"}) for i in range(8)]
        assert codes == [401] * 5 + [429] * 3
        assert form_login(guesser, "admin", PASSWORD, {"X-Forwarded-For": "10.1.1.1"}) == 429
    # The real admin, from another address: straight in.
    elsewhere = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=served.base_url, transport=elsewhere, timeout=30) as admin:
        assert form_login(admin, "admin", PASSWORD) == 303
        assert admin.get("/api/me").json()["role"] == "admin"
    engine = create_engine(served.env["STROKEALERT_DATABASE_URL"])
    with engine.connect() as conn:
        rows = conn.execute(select(AuditEvent.outcome, AuditEvent.ip).where(
            AuditEvent.username == "admin", AuditEvent.action.in_(("login", "login_failed")))
            .order_by(AuditEvent.id)).all()
    engine.dispose()
    assert rows[-10:] == [("denied", "127.0.0.3")] * 5 + [("rate_limited", "127.0.0.3")] * 4 + [
        ("ok", "127.0.0.2")]

"""Hospital single sign-on against a loopback OpenID Provider: the redirect flow driven by hand
(app client and provider client, no redirects followed automatically), role mapping, the audit
log, and refusal of spoiled ID tokens, wrong state and replayed callbacks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from strokealert.db.models.audit import AuditEvent
from strokealert.db.models.users import User
from tests.api.fake_oidc import FAULTS, FakeOIDCProvider
from tests.api.helpers import Env, make_env

APP = "http://testserver"  # the TestClient's origin, registered as the public URL
NURSE = {"sub": "idp-7f3a", "preferred_username": "n.okafor", "email": "n.okafor@hosp.example",
         "name": "Nurse Okafor", "groups": ["hospital-staff", "stroke_team"]}


@pytest.fixture
def provider() -> Iterator[FakeOIDCProvider]:
    with FakeOIDCProvider(user=dict(NURSE)) as idp:
        yield idp


def sso_env(tmp_path: Path, idp: FakeOIDCProvider, **overrides: Any) -> Env:
    return make_env(tmp_path, public_url=APP, oidc_issuer=idp.issuer,
                    oidc_client_id=idp.client_id, oidc_client_secret=idp.client_secret,
                    oidc_role_claim="groups", **overrides)


def to_provider(client: TestClient, next_url: str = "/") -> str:
    """Start SSO at the app; returns the provider's authorization URL."""
    start = client.get("/login/oidc", params={"next": next_url}, follow_redirects=False)
    assert start.status_code == 302, start.text
    return start.headers["location"]


def provider_redirect(authorize_url: str) -> str:
    """"Sign in" at the provider; returns the app callback URL it redirects back to."""
    answer = httpx.get(authorize_url, follow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(APP + "/auth/oidc/callback?")
    return location


def sso_login(client: TestClient, next_url: str = "/") -> httpx.Response:
    """The whole round trip; returns the app's answer to the callback."""
    callback = provider_redirect(to_provider(client, next_url))
    return client.get(callback, follow_redirects=False)


def audit_rows(env: Env, action: str) -> list[AuditEvent]:
    with env.factory() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                    .order_by(AuditEvent.id)))


def test_sso_login_creates_the_mapped_user_and_session(tmp_path: Path,
                                                       provider: FakeOIDCProvider) -> None:
    env = sso_env(tmp_path, provider)
    client = TestClient(env.app, base_url=APP)
    assert "/login/oidc?next=" in client.get("/login").text
    authorize = to_provider(client, "/dashboard")
    query = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
    assert authorize.startswith(provider.issuer + "/authorize?")
    assert query["response_type"] == "code" and "openid" in query["scope"].split()
    assert query["redirect_uri"] == APP + "/auth/oidc/callback"
    assert query["code_challenge_method"] == "S256" and query["nonce"] and query["state"]

    done = client.get(provider_redirect(authorize), follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/dashboard"
    assert "sa_session=" in done.headers["set-cookie"]
    # The code was redeemed with the secret, the same redirect URI and the PKCE verifier.
    (redeemed,) = provider.token_requests
    assert redeemed["redirect_uri"] == query["redirect_uri"] and redeemed["code_verifier"]
    me = client.get("/api/me").json()
    assert me == {"username": "n.okafor", "display_name": "Nurse Okafor", "role": "stroke_team"}
    assert client.get("/api/cases").status_code == 200

    with env.factory() as session:
        user = session.scalar(select(User).where(User.oidc_subject == NURSE["sub"]))
        assert user is not None and user.password_hash is None and user.last_login_at
    (event,) = audit_rows(env, "login")
    assert (event.username, event.role, event.outcome) == ("n.okafor", "stroke_team", "ok")
    assert event.detail == {"method": "oidc"} and event.ip and event.user_agent

    # Next login: same subject, same user; the directory's groups decide the role again.
    provider.user["groups"] = ["radiologist"]
    provider.user["preferred_username"] = "okafor.n"  # renamed in the directory
    other = TestClient(env.app, base_url=APP)
    assert sso_login(other).status_code == 303
    assert other.get("/api/me").json()["role"] == "radiologist"
    with env.factory() as session:
        assert session.scalar(select(User).where(User.oidc_subject == NURSE["sub"])).role == (
            "radiologist")
        assert len(session.scalars(select(User)).all()) == 5  # 4 local users + the nurse

    # Taken out of every strokealert group: refused, and audited.
    provider.user["groups"] = ["hospital-staff"]
    third = TestClient(env.app, base_url=APP)
    assert sso_login(third).status_code == 403
    assert third.get("/api/me").status_code == 401
    assert [e.outcome for e in audit_rows(env, "login_failed")] == ["no_sso_role"]


def me_and_user(env: Env, client: TestClient, username: str) -> tuple[dict, User]:
    """What /api/me says and the stored user named ``username``."""
    with env.factory() as session:
        user = session.scalar(select(User).where(User.username == username))
    return client.get("/api/me").json(), user


def test_sso_never_takes_over_a_local_account(tmp_path: Path,
                                              provider: FakeOIDCProvider) -> None:
    """The issue's attack: an SSO identity calling itself ``admin`` (name and unverified email)
    got the local admin account and its role. Now it is a stranger of its own."""
    env = sso_env(tmp_path, provider)
    provider.user = {"sub": "idp-evil", "preferred_username": "admin", "email": "admin",
                     "email_verified": False, "groups": ["stroke_team"]}
    client = TestClient(env.app, base_url=APP)
    assert sso_login(client).status_code == 303
    me, admin = me_and_user(env, client, "admin")
    assert me == {"username": "admin (idp-evil)", "display_name": "admin (idp-evil)",
                  "role": "stroke_team"}
    assert admin.role == "admin" and admin.oidc_subject is None
    # Without a strokealert group it is refused outright, whatever name it claims.
    provider.user = {"sub": "idp-evil2", "preferred_username": "admin", "groups": ["it"]}
    assert sso_login(TestClient(env.app, base_url=APP)).status_code == 403
    provider.user = {"sub": "idp-visitor", "email": "visitor@hosp.example", "groups": ["it"]}
    assert sso_login(TestClient(env.app, base_url=APP)).status_code == 403
    assert [(e.username, e.outcome) for e in audit_rows(env, "login_failed")] == [
        ("admin", "no_sso_role"), ("visitor@hosp.example", "no_sso_role")]


def test_an_admin_links_a_local_account_explicitly(tmp_path: Path,
                                                   provider: FakeOIDCProvider) -> None:
    from strokealert.api.services.users import link_sso

    env = sso_env(tmp_path, provider)
    with env.factory.begin() as session:
        link_sso(session, "coordinator", provider.issuer, "idp-c00rd")
        # A link stored before issuers were (migration api_0003) counts for the pinned issuer.
        session.scalar(select(User).where(User.username == "radiologist")).oidc_subject = "idp-r"
    provider.user = {"sub": "idp-c00rd", "preferred_username": "c.jones", "groups": ["admin"]}
    client = TestClient(env.app, base_url=APP)
    assert sso_login(client).status_code == 303
    me, linked = me_and_user(env, client, "coordinator")
    assert me["username"] == "coordinator" and me["role"] == "coordinator"  # its own role
    assert (linked.oidc_issuer, linked.oidc_subject) == (provider.issuer, "idp-c00rd")
    provider.user = {"sub": "idp-r", "preferred_username": "r", "groups": []}
    other = TestClient(env.app, base_url=APP)
    assert sso_login(other).status_code == 303
    me, legacy = me_and_user(env, other, "radiologist")
    assert me["role"] == "radiologist" and legacy.oidc_issuer == provider.issuer
    # Another identity naming the linked account gets an account of its own.
    provider.user = {"sub": "idp-intruder", "preferred_username": "coordinator",
                     "groups": ["stroke_team"]}
    intruder = TestClient(env.app, base_url=APP)
    assert sso_login(intruder).status_code == 303
    assert intruder.get("/api/me").json()["username"] == "coordinator (idp-intruder)"


@pytest.mark.parametrize("configured", [True, False])
def test_verified_email_links_only_when_configured(tmp_path: Path, provider: FakeOIDCProvider,
                                                   configured: bool) -> None:
    from strokealert.api.services.users import add_user

    env = sso_env(tmp_path, provider, oidc_link_verified_email=configured)
    with env.factory.begin() as session:  # `strokealert user add ada@hosp.example --sso-only`
        add_user(session, "ada@hosp.example", "stroke_team", None)
    provider.user = {"sub": "idp-fake-ada", "email": "ada@hosp.example",
                     "email_verified": False, "groups": ["stroke_team"]}
    unverified = TestClient(env.app, base_url=APP)
    assert sso_login(unverified).status_code == 303
    assert unverified.get("/api/me").json()["username"] == "ada@hosp.example (idp-fake-ada)"
    provider.user = {"sub": "idp-ada", "email": "ada@hosp.example", "email_verified": True,
                     "groups": ["radiologist"]}
    verified = TestClient(env.app, base_url=APP)
    assert sso_login(verified).status_code == 303
    me, account = me_and_user(env, verified, "ada@hosp.example")
    assert (me["username"] == "ada@hosp.example") is configured
    assert (account.oidc_subject == "idp-ada") is configured
    # A password account is never linked by email, verified or not.
    provider.user = {"sub": "idp-admin", "email": "admin", "email_verified": True,
                     "groups": ["stroke_team"]}
    third = TestClient(env.app, base_url=APP)
    assert sso_login(third).status_code == 303
    assert third.get("/api/me").json() == {"username": "admin (idp-admin)",
                                           "display_name": "admin (idp-admin)",
                                           "role": "stroke_team"}


def test_default_role_for_new_sso_users(tmp_path: Path, provider: FakeOIDCProvider) -> None:
    env = sso_env(tmp_path, provider, oidc_default_role="coordinator")
    provider.user = {"sub": "idp-abc", "email": "abstractor@hosp.example"}
    client = TestClient(env.app, base_url=APP)
    assert sso_login(client).status_code == 303
    assert client.get("/api/me").json() == {"username": "abstractor@hosp.example",
                                            "display_name": "abstractor@hosp.example",
                                            "role": "coordinator"}


@pytest.mark.parametrize("fault", FAULTS)
def test_spoiled_id_token_is_refused(tmp_path: Path, provider: FakeOIDCProvider,
                                     fault: str) -> None:
    env = sso_env(tmp_path, provider)
    provider.id_token_fault = fault
    client = TestClient(env.app, base_url=APP)
    answer = sso_login(client)
    assert answer.status_code == 401, (fault, answer.text)
    assert "sa_session=" not in answer.headers.get("set-cookie", "")
    assert client.get("/api/me").status_code == 401
    with env.factory() as session:
        assert session.scalar(select(User).where(User.oidc_subject.is_not(None))) is None
    (event,) = audit_rows(env, "login_failed")
    assert event.outcome == "sso_failed" and event.detail["method"] == "oidc"
    assert audit_rows(env, "login") == []


def test_wrong_state_and_replayed_callback_are_refused(tmp_path: Path,
                                                       provider: FakeOIDCProvider) -> None:
    env = sso_env(tmp_path, provider)
    client = TestClient(env.app, base_url=APP)
    callback = provider_redirect(to_provider(client))
    forged = callback.replace("state=", "state=x")
    assert client.get(forged, follow_redirects=False).status_code == 401
    assert client.get("/api/me").status_code == 401
    # A callback carried to another browser (no flow cookie) is refused too.
    assert TestClient(env.app, base_url=APP).get(callback,
                                                 follow_redirects=False).status_code == 401
    # The genuine callback still works once (its state was not consumed by the forgery) ...
    assert client.get(callback, follow_redirects=False).status_code == 303
    assert client.get("/api/me").json()["username"] == "n.okafor"
    # ... and never twice: the state is spent and the provider's code is single-use.
    assert client.get(callback, follow_redirects=False).status_code == 401
    outcomes = [e.outcome for e in audit_rows(env, "login_failed")]
    assert outcomes == ["sso_failed"] * 3 and len(audit_rows(env, "login")) == 1


def test_sso_routes_absent_without_configuration(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    client = TestClient(env.app)
    assert "/login/oidc" not in client.get("/login").text
    assert client.get("/login/oidc", follow_redirects=False).status_code == 404
    assert client.get("/auth/oidc/callback?code=x&state=y").status_code == 404

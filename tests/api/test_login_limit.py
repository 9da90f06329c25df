"""The login rate limit lives in the database: two app instances (as two replicas would, each
with its own engine) share it, on SQLite and on PostgreSQL. It slows a guessing address and
never locks the real user out; X-Forwarded-For counts only from trusted proxies."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from strokealert import db
from strokealert.api.app import create_app
from strokealert.db.models.audit import AuditEvent
from strokealert.db.models.users import LoginFailure
from tests.api.helpers import PASSWORD, Env, make_env

WRONG = "not the password"


def replicas(tmp_path: Path, url: str, **overrides: float | str) -> tuple[Env, FastAPI]:
    """Replica A (the helper's app) and replica B: another create_app on another engine."""
    env = make_env(tmp_path, url, **overrides)
    other = create_app(env.settings, db.make_session_factory(db.make_engine(url)))
    return env, other


def try_login(app: FastAPI, username: str, password: str, address: str,
              headers: dict[str, str] | None = None) -> int:
    """One form login from ``address`` (the ASGI client address); returns the status code."""
    client = TestClient(app, client=(address, 40000), headers=headers)
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    answer = client.post("/login", data={"username": username, "password": password,
                                         "csrf_token": token}, follow_redirects=False)
    if answer.status_code == 429:
        assert int(answer.headers["retry-after"]) >= 1
    return answer.status_code


def test_guesses_never_lock_the_user_out(tmp_path: Path, migrated_url: str) -> None:
    """The issue's row: 8 wrong passwords for a user refused the right one for 5 minutes.
    Now the guessing address is slowed (on every replica) and the user logs in from theirs."""
    env, b = replicas(tmp_path, migrated_url, login_max_failures=3)
    a = env.app
    codes = [try_login((a, b)[i % 2], "admin", WRONG, "127.0.0.11") for i in range(8)]
    assert codes == [401] * 3 + [429] * 5
    assert try_login(b, "Admin", PASSWORD, "127.0.0.11") == 429  # the guesser's address waits
    assert try_login(a, "admin", PASSWORD, "127.0.0.12") == 303  # the real user does not
    # Refused attempts are not counted; they are audited, with the guesser's address.
    with env.factory() as session:
        keys = session.scalars(select(LoginFailure.key)).all()
        assert sorted(keys) == ["ip:127.0.0.11"] * 3 + ["ua:admin|127.0.0.11"] * 3
        limited = session.scalars(select(AuditEvent).where(
            AuditEvent.outcome == "rate_limited")).all()
        assert len(limited) == 6 and {e.ip for e in limited} == {"127.0.0.11"}


def test_one_address_guessing_many_usernames_is_slowed(tmp_path: Path,
                                                       migrated_url: str) -> None:
    env, b = replicas(tmp_path, migrated_url, login_max_failures=3,
                      login_max_failures_per_address=4)
    a = env.app
    codes = [try_login((a, b)[i % 2], f"nobody{i}", WRONG, "127.0.0.20") for i in range(4)]
    assert codes == [401] * 4
    assert try_login(a, "coordinator", PASSWORD, "127.0.0.20") == 429
    assert try_login(b, "coordinator", PASSWORD, "127.0.0.21") == 303  # another address


def test_success_resets_the_username_and_address_on_every_replica(
        tmp_path: Path, migrated_url: str) -> None:
    env, b = replicas(tmp_path, migrated_url, login_max_failures=3)
    a = env.app
    assert [try_login(a, "radiologist", WRONG, "127.0.0.31") for _ in range(2)] == [401, 401]
    assert try_login(b, "radiologist", PASSWORD, "127.0.0.31") == 303
    # Starts from zero again (without the reset the 2nd try here would be 429).
    codes = [try_login(a, "radiologist", WRONG, "127.0.0.31") for _ in range(4)]
    assert codes == [401, 401, 401, 429]


def test_parallel_guesses_across_replicas_stay_within_the_limit(tmp_path: Path,
                                                               migrated_url: str) -> None:
    env, b = replicas(tmp_path, migrated_url, login_max_failures=3)
    apps = [env.app, b] * 5
    with ThreadPoolExecutor(max_workers=5) as pool:
        codes = list(pool.map(lambda app: try_login(app, "admin", WRONG, "127.0.1.1"), apps))
    # Racing attempts may be refused conservatively, never let through beyond the limit.
    assert set(codes) <= {401, 429} and codes.count(401) <= 3, codes
    later = [try_login(b, "admin", WRONG, "127.0.1.1") for _ in range(4 - codes.count(401))]
    assert later[-1] == 429 and codes.count(401) + later.count(401) == 3, (codes, later)
    assert try_login(env.app, "admin", PASSWORD, "127.0.1.1") == 429
    assert try_login(env.app, "admin", PASSWORD, "127.0.2.2") == 303


def test_failures_leave_the_window(tmp_path: Path, migrated_url: str) -> None:
    # A window long enough for three logins on a loaded machine (argon2 takes its time).
    env, b = replicas(tmp_path, migrated_url, login_max_failures=2, login_window_s=8.0)
    assert [try_login(env.app, "coordinator", WRONG, "127.0.0.41") for _ in range(3)] == [
        401, 401, 429]
    time.sleep(8.1)
    assert try_login(b, "coordinator", PASSWORD, "127.0.0.41") == 303
    with env.factory() as session:  # expired rows were pruned by that attempt
        assert session.scalar(select(func.count()).select_from(LoginFailure)) == 0


def test_forwarded_for_counts_only_from_trusted_proxies(tmp_path: Path,
                                                        migrated_url: str) -> None:
    """A loopback peer's X-Forwarded-For was believed, so a guesser rotated it to escape the
    limit. Now it counts only when the peer is in ``trusted_proxies``."""
    env, b = replicas(tmp_path, migrated_url, login_max_failures=2,
                      trusted_proxies="127.0.0.60, 10.9.0.0/16")
    rotating = [try_login(env.app, "admin", WRONG, "127.0.0.50",
                          {"X-Forwarded-For": f"192.0.2.{i}"}) for i in range(3)]
    assert rotating == [401, 401, 429]
    # Through the trusted proxy (and a trusted inner hop) the client's own address counts;
    # entries the client wrote itself further left do not.
    proxied = [try_login(b, "admin", WRONG, "127.0.0.60",
                         {"X-Forwarded-For": f"198.51.100.{i}, 203.0.113.7, 10.9.1.1"})
               for i in range(3)]
    assert proxied == [401, 401, 429]
    assert try_login(env.app, "admin", PASSWORD, "127.0.0.60",
                     {"X-Forwarded-For": "203.0.113.8"}) == 303
    with env.factory() as session:
        ips = session.scalars(select(AuditEvent.ip).where(
            AuditEvent.action.in_(("login", "login_failed"))).order_by(AuditEvent.id)).all()
    assert ips == ["127.0.0.50"] * 3 + ["203.0.113.7"] * 3 + ["203.0.113.8"]

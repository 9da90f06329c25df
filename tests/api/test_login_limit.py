"""The login rate limit lives in the database: two app instances (as two replicas would, each
with its own engine) share it, on SQLite and on PostgreSQL."""

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


def replicas(tmp_path: Path, url: str, **overrides: float) -> tuple[Env, FastAPI]:
    """Replica A (the helper's app) and replica B: another create_app on another engine."""
    env = make_env(tmp_path, url, **overrides)
    other = create_app(env.settings, db.make_session_factory(db.make_engine(url)))
    return env, other


def try_login(app: FastAPI, username: str, password: str, address: str) -> int:
    """One form login from ``address`` (the ASGI client address); returns the status code."""
    client = TestClient(app, client=(address, 40000))
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    answer = client.post("/login", data={"username": username, "password": password,
                                         "csrf_token": token}, follow_redirects=False)
    if answer.status_code == 429:
        assert int(answer.headers["retry-after"]) >= 1
    return answer.status_code


def test_replicas_share_the_limit_per_username_and_address(tmp_path: Path,
                                                           migrated_url: str) -> None:
    env, b = replicas(tmp_path, migrated_url, login_max_failures=3)
    a = env.app
    # Per username: failures from different addresses on different replicas add up.
    codes = [try_login(a, "admin", WRONG, "127.0.0.11"), try_login(b, "admin", WRONG, "127.0.0.12"),
             try_login(a, "Admin", WRONG, "127.0.0.13"),
             try_login(b, "admin", PASSWORD, "127.0.0.14"),  # right password, still refused
             try_login(a, "admin", PASSWORD, "127.0.0.15")]
    assert codes == [401, 401, 401, 429, 429]
    # Per address: one address guessing several usernames across replicas.
    codes = [try_login(b, "nobody1", WRONG, "127.0.0.20"),
             try_login(a, "nobody2", WRONG, "127.0.0.20"),
             try_login(b, "radiologist", WRONG, "127.0.0.20"),
             try_login(a, "coordinator", PASSWORD, "127.0.0.20")]
    assert codes == [401, 401, 401, 429]
    assert try_login(b, "coordinator", PASSWORD, "127.0.0.21") == 303  # another address is fine
    # Refused attempts are not counted; they are audited.
    with env.factory() as session:
        keys = session.scalars(select(LoginFailure.key)).all()
        assert sorted(k for k in keys if k.startswith("u:")) == [
            "u:admin"] * 3 + ["u:nobody1", "u:nobody2", "u:radiologist"]
        assert session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.outcome == "rate_limited")) == 3


def test_success_resets_the_username_on_every_replica(tmp_path: Path,
                                                      migrated_url: str) -> None:
    env, b = replicas(tmp_path, migrated_url, login_max_failures=3)
    a = env.app
    assert [try_login(a, "radiologist", WRONG, "127.0.0.31") for _ in range(2)] == [401, 401]
    assert try_login(b, "radiologist", PASSWORD, "127.0.0.32") == 303
    # The username starts from zero again (without the reset the 2nd try here would be 429);
    # the failing address's count is not reset by someone else's success.
    codes = [try_login(a, "radiologist", WRONG, "127.0.0.33") for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    assert try_login(b, "stroke_team", PASSWORD, "127.0.0.31") == 303  # 2 failures < 3
    assert try_login(a, "stroke_team", WRONG, "127.0.0.31") == 401  # 3rd failure of .31
    assert try_login(b, "coordinator", PASSWORD, "127.0.0.31") == 429


def test_parallel_guesses_across_replicas_stay_within_the_limit(tmp_path: Path,
                                                               migrated_url: str) -> None:
    env, b = replicas(tmp_path, migrated_url, login_max_failures=3)
    apps = [env.app, b] * 5
    with ThreadPoolExecutor(max_workers=5) as pool:
        codes = list(pool.map(lambda i: try_login(apps[i], "admin", WRONG, f"127.0.1.{i}"),
                              range(len(apps))))
    # Racing attempts may be refused conservatively, never let through beyond the limit.
    assert set(codes) <= {401, 429} and codes.count(401) <= 3, codes
    later = [try_login(b, "admin", WRONG, "127.0.2.1") for _ in range(4 - codes.count(401))]
    assert later[-1] == 429 and codes.count(401) + later.count(401) == 3, (codes, later)
    assert try_login(env.app, "admin", PASSWORD, "127.0.2.2") == 429


def test_failures_leave_the_window(tmp_path: Path, migrated_url: str) -> None:
    env, b = replicas(tmp_path, migrated_url, login_max_failures=2, login_window_s=1.5)
    assert [try_login(env.app, "coordinator", WRONG, "127.0.0.41") for _ in range(3)] == [
        401, 401, 429]
    time.sleep(1.6)
    assert try_login(b, "coordinator", PASSWORD, "127.0.0.42") == 303
    with env.factory() as session:  # expired rows were pruned by that attempt
        assert session.scalar(select(func.count()).select_from(LoginFailure)) == 0

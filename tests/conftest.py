"""Shared fixtures: a throw-away database on SQLite and on PostgreSQL, free ports, outputs."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

POSTGRES_ADMIN_URL = os.environ.get(
    "STROKEALERT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def postgres_available() -> bool:
    try:
        engine = create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return True
    except Exception:
        return False


_PG = postgres_available()
if os.environ.get("CI") and not _PG:
    raise RuntimeError(f"CI must reach PostgreSQL at {POSTGRES_ADMIN_URL}")


@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def output_dir(request: pytest.FixtureRequest) -> Path:
    """A folder under ``test-output/`` kept after the run (screenshots, key images)."""
    path = Path(__file__).resolve().parent.parent / "test-output" / request.node.name
    path.mkdir(parents=True, exist_ok=True)
    return path


def _postgres_database() -> Iterator[str]:
    name = f"sa_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
            ), {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database URL, once on SQLite and once on PostgreSQL (a fresh database each)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}"
        return
    if not _PG:
        pytest.skip("PostgreSQL not reachable")
    yield from _postgres_database()


@pytest.fixture
def migrated_url(database_url: str) -> str:
    """``database_url`` with every migration applied."""
    from strokealert import db

    db.upgrade(database_url)
    return database_url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database (skipped locally if PostgreSQL is down; required in CI)."""
    if not _PG:
        pytest.skip("PostgreSQL not reachable")
    yield from _postgres_database()

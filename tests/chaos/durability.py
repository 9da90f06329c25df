"""Helpers of the durability chaos tests: a private PostgreSQL cluster that a test may stop
and start (never the shared one), a real ``strokealert serve`` and index/store counts."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from strokealert.db.models.ingest import CompletionEvent, Instance, Series


def _pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


class PrivateCluster:
    """A PostgreSQL cluster in a temporary folder on ``port`` (trust auth, loopback only).

    As root the server runs as the ``postgres`` system user (PostgreSQL refuses root)."""

    def __init__(self, port: int) -> None:
        initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        if initdb is None or pg_ctl is None:
            pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not installed")
        self.pg_ctl = pg_ctl
        self.port = port
        self.root = Path(tempfile.mkdtemp(prefix="sa-pg-"))
        self.data = self.root / "data"
        self._user: list[str] = []
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.root, account.pw_uid, account.pw_gid)
            self._user = ["runuser", "-u", "postgres", "--"]
        self._run(initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run([*self._user, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self._run(self.pg_ctl, "-D", str(self.data), "-l", str(self.root / "server.log"), "-w",
                  "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1", "start")

    def stop(self) -> None:
        """Fast shutdown: open connections are cut, as in a crash or failover."""
        self._run(self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def serve_env(data_dir: Path, database_url: str, dicom_port: int, http_port: int,
              **extra: str) -> dict[str, str]:
    """Environment of a loopback ``strokealert serve`` on these ports and this database."""
    return {"STROKEALERT_DATA_DIR": str(data_dir), "STROKEALERT_DATABASE_URL": database_url,
            "STROKEALERT_DICOM_HOST": "127.0.0.1", "STROKEALERT_DICOM_PORT": str(dicom_port),
            "STROKEALERT_HTTP_HOST": "127.0.0.1", "STROKEALERT_HTTP_PORT": str(http_port),
            **extra}


def stored_sops(store_dir: Path) -> set[str]:
    """SOP Instance UIDs of the files in the store (temporary ``.part`` files excluded)."""
    return {p.stem for p in store_dir.rglob("*.dcm") if not p.name.startswith(".")}


class Index:
    """Read-only looks at the index of a database."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url, pool_pre_ping=True)

    def sops(self) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.scalars(select(Instance.sop_instance_uid)))

    def series_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {uid: count for uid, count in conn.execute(
                select(Series.series_instance_uid, Series.instance_count))}

    def completions(self, level: str) -> list[tuple[str | None, str, int]]:
        """(series UID, reason, images) of each completion event of ``level``."""
        with self.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(
                select(CompletionEvent.series_instance_uid, CompletionEvent.reason,
                       CompletionEvent.instance_count)
                .where(CompletionEvent.level == level).order_by(CompletionEvent.id))]

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.count(Instance.id))) or 0)

    def close(self) -> None:
        self.engine.dispose()

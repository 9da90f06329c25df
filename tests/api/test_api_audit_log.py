"""The append-only audit log: login, PHI view, acknowledgement, timeline edit, export, and
refusal of changes (ORM everywhere, database trigger on PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from strokealert.db.models.audit import AppendOnlyError, AuditEvent
from tests.api.helpers import get_case, login, make_env, new_case


def events(env, action: str) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    with env.factory() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                    .order_by(AuditEvent.id)))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_audit_entries(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("postgres_url") if backend == "postgresql" else None
    env = make_env(tmp_path, url)
    case_id = new_case(env.factory, "1.2.826.0.9.1")
    client = TestClient(env.app, headers={"user-agent": "pytest-browser"})
    csrf = login(client, "admin")
    [entry] = events(env, "login")
    assert (entry.username, entry.role, entry.ip, entry.user_agent) == (
        "admin", "admin", "testclient", "pytest-browser")

    page = client.get(f"/cases/{case_id}")
    assert page.status_code == 200
    api = client.get(f"/api/cases/{case_id}")
    assert api.json()["patient_name"] is None
    views = events(env, "phi_view")
    assert [(v.object_id, v.detail["via"]) for v in views] == [(case_id, "web"), (case_id, "api")]

    ack = client.post(f"/cases/{case_id}/ack", data={"csrf_token": csrf}, follow_redirects=False)
    assert ack.status_code == 303
    [acked] = events(env, "ack")
    assert acked.object_id == case_id and acked.detail == {"via": "web", "first": True}
    case = get_case(env.factory, case_id)
    assert case.first_ack_by == "Dr Admin" and case.first_ack_at is not None

    form = {"csrf_token": csrf, "arrival_at": "2026-07-01T10:00", "needle_at": "2026-07-01T10:38",
            "tici": ""}
    saved = client.post(f"/cases/{case_id}/timeline", data=form, follow_redirects=False)
    assert saved.status_code == 303
    [edit] = events(env, "timeline_edit")
    changes = edit.detail["changes"]
    # 10:00 in New York in July is 14:00 UTC (EDT, UTC-4).
    assert changes["arrival_at"] == [None, "2026-07-01T14:00:00+00:00"]
    assert changes["needle_at"][1] == "2026-07-01T14:38:00+00:00"
    assert set(changes) == {"arrival_at", "needle_at"}  # fields not sent stay as they were
    # Sending the form back unchanged (minute precision) changes nothing, seconds included.
    ack_shown = case.first_ack_at.astimezone(env.app.state.zone).strftime("%Y-%m-%dT%H:%M")
    again = client.post(f"/cases/{case_id}/timeline", follow_redirects=False,
                        data={**form, "first_ack_at": ack_shown})
    assert again.status_code == 303 and len(events(env, "timeline_edit")) == 1
    assert get_case(env.factory, case_id).first_ack_at == case.first_ack_at
    export = client.get("/report?start=2026-07-01&end=2026-07-31&format=json")
    assert export.status_code == 200
    [exported] = events(env, "export")
    assert exported.detail["format"] == "json" and exported.detail["cases"] == 1
    log_csv = client.get("/admin/audit?format=csv")
    assert log_csv.status_code == 200 and "phi_view" in log_csv.text
    # No PHI values in the audit details.
    with env.factory() as session:
        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "audit_view")) \
            is None  # the CSV export is recorded as an export
        rows = list(session.scalars(select(AuditEvent)))
        assert len(events(env, "export")) == 2
        row = rows[0]
        row.outcome = "changed"
        with pytest.raises(AppendOnlyError):
            session.flush()
        session.rollback()
        with pytest.raises(AppendOnlyError):
            session.delete(rows[0])
            session.flush()
        session.rollback()
    if backend == "postgresql":
        with env.factory() as session, pytest.raises(Exception, match="append-only"):
            session.execute(text("DELETE FROM audit_log"))

"""The live worklist stream (server-sent events) on a real uvicorn: streams hold no database
connection, one reader fans each change out to all of them, a user's streams are capped, and
the reader is woken by the database's case wake-ups (the fallback poll is set to 10 minutes)."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from strokealert import db
from strokealert.api.server import WebComponent
from strokealert.cases import upsert_case_from_analysis
from strokealert.db.wakeup import CASES, wakeup_for
from tests.api.helpers import analysis, event_stream, login, make_env


@contextmanager
def event_stream_of(base_url: str, username: str) -> Iterator[tuple[int, queue.Queue[dict]]]:
    """A stream of ``/events`` logged in as ``username`` on a client of its own."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        login(client, username)
        with event_stream(client) as opened:
            yield opened


def write_case_elsewhere(url: str, uid: str) -> str:
    """A case written as the pipeline does, on an engine of its own (another process's wake-up
    object): the web app hears of it only through the ``CASES`` wake-up."""
    engine = db.make_engine(url)
    try:
        with db.make_session_factory(engine).begin() as session:
            case = upsert_case_from_analysis(session, study=None, result=analysis(uid))
            wakeup_for(engine).notify(session, CASES)
            return case.id
    finally:
        engine.dispose()


def next_change_of(events: queue.Queue[dict], case_id: str) -> dict:
    while True:
        change = events.get(timeout=20)
        if change["id"] == case_id:
            return change


def test_streams_hold_no_connection_and_are_capped_per_user(tmp_path: Path,
                                                            free_port: int) -> None:
    env = make_env(tmp_path, web_max_streams_per_user=2, web_stream_poll_s=600.0)
    web = WebComponent(env.settings, env.factory, port=free_port)
    web.start()
    base = f"http://127.0.0.1:{free_port}"
    pool = env.factory.kw["bind"].pool
    try:
        with (event_stream_of(base, "stroke_team") as (first, first_events),
              event_stream_of(base, "stroke_team") as (second, second_events),
              event_stream_of(base, "radiologist") as (other, other_events)):
            assert (first, second, other) == (200, 200, 200)
            with event_stream_of(base, "stroke_team") as (third, _):
                assert third == 429
            assert pool.checkedout() == 0
            case_id = write_case_elsewhere(env.settings.resolved_database_url, "2.25.77001")
            for events in (first_events, second_events, other_events):
                change = next_change_of(events, case_id)
                assert 'id="case-' in change["html"]
            assert pool.checkedout() == 0
            with httpx.Client(base_url=base, timeout=30) as acker:
                csrf = login(acker, "radiologist")
                acked = acker.post(f"/cases/{case_id}/ack", data={"csrf_token": csrf},
                                   follow_redirects=False)
                assert acked.status_code == 303
            for events in (first_events, second_events, other_events):
                assert "Dr Radiologist" in next_change_of(events, case_id)["html"]
        # Closed streams free their places (once the server sees them closed: about 1 s).
        deadline = time.monotonic() + 10
        again = 0
        while again != 200 and time.monotonic() < deadline:
            with event_stream_of(base, "stroke_team") as (again, _):
                pass
            time.sleep(0.5)
        assert again == 200
    finally:
        web.stop()


def test_streams_end_after_their_lifetime_so_a_logout_reaches_them(tmp_path: Path,
                                                                   free_port: int) -> None:
    env = make_env(tmp_path, web_stream_max_s=2.0)
    web = WebComponent(env.settings, env.factory, port=free_port)
    web.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{free_port}", timeout=30) as client:
            csrf = login(client, "stroke_team")
            cookies = dict(client.cookies)
            with client.stream("GET", "/events") as response:
                assert response.status_code == 200
                assert client.post("/logout", data={"csrf_token": csrf},
                                   follow_redirects=False).status_code == 303
                started = time.monotonic()
                assert "retry: 3000" in list(response.iter_lines())
                assert time.monotonic() - started < 20  # ended by the server, not the timeout
            with httpx.Client(base_url=client.base_url, cookies=cookies, timeout=30) as replay:
                assert replay.get("/events").status_code == 401
    finally:
        web.stop()

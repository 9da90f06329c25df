"""The live worklist stream (server-sent events) on a real uvicorn: streams hold no database
connection, one reader fans each change out to all of them, and a user's streams are capped."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from strokealert.api.server import WebComponent
from tests.api.helpers import event_stream, login, make_env, new_case


@contextmanager
def event_stream_of(base_url: str, username: str) -> Iterator[tuple[int, queue.Queue[dict]]]:
    """A stream of ``/events`` logged in as ``username`` on a client of its own."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        login(client, username)
        with event_stream(client) as opened:
            yield opened


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
            case_id = new_case(env.factory, "2.25.77001")
            web.app.state.case_feed.wake()
            for events in (first_events, second_events, other_events):
                change = events.get(timeout=20)
                assert change["id"] == case_id and 'id="case-' in change["html"]
            assert pool.checkedout() == 0
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

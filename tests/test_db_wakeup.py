"""strokealert.db.wakeup: commits wake listeners (LISTEN/NOTIFY on PostgreSQL), rollbacks don't."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from strokealert import db
from strokealert.db.wakeup import Wakeup, wakeup_for


@pytest.fixture
def engines(database_url: str) -> Iterator[tuple[Engine, Engine]]:
    """Two engines on one database: a listener's and a writer's (another 'process')."""
    listener, writer = db.make_engine(database_url), db.make_engine(database_url)
    yield listener, writer
    listener.dispose()
    writer.dispose()


def _subscribed(wakeup: Wakeup, channel: str) -> queue.Queue[str]:
    heard: queue.Queue[str] = queue.Queue()
    wakeup.subscribe(channel, heard.put)
    assert heard.get(timeout=10) == "", "no look-once wake-up when listening began"
    assert wakeup.connected.wait(10), "the listener never connected"
    return heard


def test_commit_wakes_and_rollback_does_not(engines: tuple[Engine, Engine]) -> None:
    listener_engine, writer_engine = engines
    listener = wakeup_for(listener_engine)
    assert wakeup_for(listener_engine) is listener
    writer = Wakeup(writer_engine)  # as another process would (SQLite: over its socket)
    heard = _subscribed(listener, "test_outbox")
    factory = db.make_session_factory(writer_engine)

    with pytest.raises(RuntimeError), factory.begin() as session:
        writer.notify(session, "test_outbox", "rolled-back")
        raise RuntimeError("abort the transaction")
    with factory.begin() as session:
        writer.notify(session, "test_other", "elsewhere")
        started = time.monotonic()
        writer.notify(session, "test_outbox", "42")
        assert heard.empty(), "woken before the commit"
    assert heard.get(timeout=2) == "42"
    print(f"\nwake-up after commit ({listener_engine.dialect.name}): "
          f"{(time.monotonic() - started) * 1000:.1f} ms")
    time.sleep(0.3)
    assert heard.empty()
    listener.close()


def test_listener_reconnects_and_wakes_everyone(engines: tuple[Engine, Engine]) -> None:
    listener_engine, writer_engine = engines
    if listener_engine.dialect.name != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    listener = Wakeup(listener_engine, backoff_max_s=0.5)
    heard = _subscribed(listener, "test_completion")
    with writer_engine.connect() as conn:
        killed = conn.scalar(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE query LIKE 'LISTEN%' AND datname = current_database()"))
    assert killed == 1
    # After the reconnect the subscriber is woken once (a notify may have been missed) ...
    assert heard.get(timeout=10) == ""
    assert listener.connected.wait(10)
    # ... and later notifications arrive again.
    with db.make_session_factory(writer_engine).begin() as session:
        Wakeup(writer_engine).notify(session, "test_completion", "after")
    assert heard.get(timeout=2) == "after"
    listener.close()
    assert listener._thread is None


def test_sqlite_forgets_a_dead_listener(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'wake.sqlite3'}")
    writer = Wakeup(engine)
    assert writer.peers_dir is not None
    writer.peers_dir.mkdir()
    dead = writer.peers_dir / "strokealert-wakeup-0000-1-dead"  # bound by no process
    dead.touch()
    with db.make_session_factory(engine).begin() as session:
        writer.notify(session, "test_outbox")
    assert not dead.exists()
    engine.dispose()

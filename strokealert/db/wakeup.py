"""Wake-ups between writers and workers: PostgreSQL LISTEN/NOTIFY, in-process events on SQLite.

The database stays the truth; a wake-up only says "look now" to a worker that would otherwise
wait for its slow fallback poll. One :class:`Wakeup` per engine and process (:func:`wakeup_for`
returns the shared one).

Writer, inside its own transaction (the wake-up goes out only if the transaction commits)::

    with factory.begin() as session:
        session.add(CompletionEvent(...))
        wakeup_for(engine).notify(session, COMPLETION, payload="")

Worker (the callback gets the payload and runs on the listener thread: keep it short, e.g. set
a threading.Event)::

    subscription = wakeup_for(engine).subscribe(COMPLETION, dispatcher.wake)
    ...
    subscription.close()

Channel names are PostgreSQL identifiers (e.g. ``strokealert_cases``); the notifications
library's own (``notifications_outbox``) come from :mod:`notifications.wake`.

On PostgreSQL :meth:`Wakeup.notify` runs ``pg_notify(channel, payload)`` in the writer's
transaction, so every process listening on the channel wakes when it commits; one listener
thread per process holds its own psycopg connection (autocommit, ``LISTEN``) and reconnects with
exponential back-off; whenever it starts listening on a channel (a new subscription, a
reconnect) it wakes that channel's subscribers once, since notifications sent while nobody
listened are lost (the rows are not). On SQLite the subscribers of the writer's own process are
called after its session commits, and every other process of the host that listens on the same
database file gets a datagram on a Linux abstract Unix socket (registered as an empty file in
``<database file>-wakeup/``; a dead process's registration is removed by the next writer).
Wake-ups may be spurious or coalesced; workers always re-read the database and keep a slow poll
as the fallback.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

COMPLETION = "strokealert_completion"
"""A series or study completed (``completion_events`` row): the pipeline dispatcher looks."""
CASES = "strokealert_cases"
"""A case was created or changed (analysis, acknowledgement, timeline): live worklists look."""

Callback = Callable[[str], object]
"""Called with the notification's payload ('' when none, or after a reconnect)."""

_PENDING_KEY = "strokealert.wakeup.pending"
MAX_DATAGRAM = 8000
"""Bytes of one SQLite wake-up datagram (PostgreSQL's payload limit is about the same)."""


@dataclass
class Subscription:
    """One callback on one channel; :meth:`close` stops it."""

    wakeup: Wakeup
    channel: str
    callback: Callback

    def close(self) -> None:
        self.wakeup._unsubscribe(self)


class Wakeup:
    """Notify and listen on named channels of one database (see the module docstring)."""

    def __init__(self, engine: Engine, *, poll_s: float = 0.5, backoff_max_s: float = 10.0,
                 connect_timeout_s: float = 5.0) -> None:
        self.url = engine.url  # not the engine: the shared registry holds it weakly
        self.postgres = engine.dialect.name == "postgresql"
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        self.peers_dir = (Path(f"{Path(database).resolve()}-wakeup")
                          if database and database != ":memory:" else None)
        """Where SQLite listeners of this host register (None: in-process only)."""
        self._peer_name: str | None = None
        self.poll_s = poll_s
        self.backoff_max_s = backoff_max_s
        self.connect_timeout_s = connect_timeout_s
        self._subscriptions: list[Subscription] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = threading.Event()
        """Set while the listener thread listens (PostgreSQL: connected, channels LISTENed;
        SQLite: its socket bound and registered)."""

    # ------------------------------------------------------------------- writers
    def notify(self, session: Session, channel: str, payload: str = "") -> None:
        """Wake ``channel``'s listeners once ``session``'s transaction commits."""
        if self.postgres:
            session.execute(text("SELECT pg_notify(:channel, :payload)"),
                            {"channel": channel, "payload": payload})
            return
        pending = session.info.setdefault(_PENDING_KEY, {})
        if not pending:
            event.listen(session, "after_commit", self._after_commit, once=True)
            event.listen(session, "after_rollback", self._after_rollback, once=True)
        pending[channel] = payload

    def _after_commit(self, session: Session) -> None:
        for channel, payload in session.info.pop(_PENDING_KEY, {}).items():
            self._dispatch(channel, payload)
            self._tell_peers(channel, payload)

    def _tell_peers(self, channel: str, payload: str) -> None:
        """A datagram to every other listener on this SQLite file (never blocks)."""
        if self.peers_dir is None or not self.peers_dir.is_dir():
            return
        message = f"{channel}\n{payload}".encode()[:MAX_DATAGRAM]
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
            for marker in self.peers_dir.iterdir():
                if marker.name == self._peer_name:
                    continue
                try:
                    sender.sendto(message, socket.MSG_DONTWAIT, b"\0" + marker.name.encode())
                except ConnectionRefusedError:  # nobody bound: that process is gone
                    marker.unlink(missing_ok=True)
                except OSError as exc:  # a full queue: that listener has a wake-up pending
                    log.debug("wake-up to %s dropped: %s", marker.name, exc)

    @staticmethod
    def _after_rollback(session: Session) -> None:
        session.info.pop(_PENDING_KEY, None)

    # ------------------------------------------------------------------- workers
    def subscribe(self, channel: str, callback: Callback) -> Subscription:
        """Call ``callback`` on every wake-up of ``channel`` (from the listener thread)."""
        subscription = Subscription(self, channel, callback)
        with self._lock:
            self._subscriptions.append(subscription)
            start = (self.postgres or self.peers_dir is not None) and self._thread is None
            if start:
                self._stop.clear()
                self._thread = threading.Thread(
                    target=self._listen if self.postgres else self._receive, name="db-wakeup",
                    daemon=True)
        if start:
            assert self._thread is not None
            self._thread.start()
        return subscription

    def _unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)
            thread = self._thread if not self._subscriptions else None
            if thread is not None:
                self._thread = None
                self._stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self.connect_timeout_s + 2 * self.poll_s)

    def close(self) -> None:
        """Drop every subscription (the listener thread stops)."""
        with self._lock:
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            subscription.close()

    def _channels(self) -> set[str]:
        with self._lock:
            return {s.channel for s in self._subscriptions}

    def _dispatch(self, channel: str | None, payload: str) -> None:
        """Call the subscribers of ``channel`` (all of them when None)."""
        with self._lock:
            targets = [s for s in self._subscriptions if channel is None or s.channel == channel]
        for subscription in targets:
            try:
                subscription.callback(payload)
            except Exception:
                log.exception("wake-up callback on %s failed", subscription.channel)

    # ------------------------------------------------------------ PostgreSQL side
    def _conninfo(self) -> str:
        return self.url.set(drivername="postgresql").render_as_string(hide_password=False)

    def _listen(self) -> None:
        backoff_s = 0.0
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo(), autocommit=True,
                                     connect_timeout=max(1, int(self.connect_timeout_s))) as conn:
                    listening: set[str] = set()
                    while not self._stop.is_set():
                        for channel in self._channels() - listening:
                            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                            listening.add(channel)
                            # Anything written while no one listened here: look once, now.
                            self._dispatch(channel, "")
                        self.connected.set()
                        backoff_s = 0.0
                        for note in conn.notifies(timeout=self.poll_s):
                            self._dispatch(note.channel, note.payload)
                            if self._channels() - listening or self._stop.is_set():
                                break
            except psycopg.Error as exc:
                self.connected.clear()
                backoff_s = min(self.backoff_max_s, max(0.25, 2 * backoff_s))
                log.warning("wake-up listener lost its connection (%s); again in %.1f s",
                            str(exc).strip().splitlines()[0] if str(exc).strip() else exc,
                            backoff_s)
                self._stop.wait(backoff_s)
        self.connected.clear()


    # ---------------------------------------------------------------- SQLite side
    def _receive(self) -> None:
        """Listen for other processes' datagrams on an abstract socket (Linux)."""
        assert self.peers_dir is not None
        tag = hashlib.sha256(str(self.peers_dir).encode()).hexdigest()[:16]
        name = f"strokealert-wakeup-{tag}-{os.getpid()}-{id(self):x}"
        try:
            receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            receiver.bind(b"\0" + name.encode())
            self.peers_dir.mkdir(parents=True, exist_ok=True)
            (self.peers_dir / name).touch()
        except OSError as exc:
            log.warning("no wake-ups from other processes (%s): they are found by polling", exc)
            return
        self._peer_name = name
        receiver.settimeout(self.poll_s)
        self.connected.set()
        self._dispatch(None, "")  # anything written before this process listened: look once
        try:
            while not self._stop.is_set():
                try:
                    message = receiver.recv(MAX_DATAGRAM)
                except TimeoutError:
                    continue
                channel, _, payload = message.decode(errors="replace").partition("\n")
                self._dispatch(channel, payload)
        finally:
            self.connected.clear()
            self._peer_name = None
            (self.peers_dir / name).unlink(missing_ok=True)
            receiver.close()


_SHARED: weakref.WeakKeyDictionary[Engine, Wakeup] = weakref.WeakKeyDictionary()
_SHARED_LOCK = threading.Lock()


def wakeup_for(engine: Engine) -> Wakeup:
    """This process's :class:`Wakeup` for ``engine`` (one listener thread per engine)."""
    with _SHARED_LOCK:
        wakeup = _SHARED.get(engine)
        if wakeup is None:
            wakeup = _SHARED[engine] = Wakeup(engine)
        return wakeup

"""The ingest component of the service: receiver + indexer (completion, retention) together.

:class:`IngestComponent` runs them in the calling process (tests, embedding).
:class:`IngestProcess` runs the same component in a child process of its own, which is what
``strokealert serve`` uses: the receiver's threads then share a GIL with nothing but the
indexer, not with the web app, the outbox relay and the pipeline's dispatcher. The child
writes every index and completion row itself (the database stays the one truth); the parent
only hears of completions, to wake its callbacks at once, and gets the child's log records.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
from logging.handlers import QueueHandler
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from strokealert.config import Settings
from strokealert.dicom.completion import CompletionFanout, CompletionHooks
from strokealert.dicom.index import Indexer
from strokealert.dicom.receiver import Receiver, default_store
from strokealert.dicom.records import Completion

log = logging.getLogger(__name__)

START_TIMEOUT_S = 120.0  # imports + database + bind, on a slow machine
STOP_TIMEOUT_S = 60.0  # the indexer drains its queue before the child exits
RESTART_BACKOFF_S = (1.0, 30.0)  # first and longest wait before restarting a dead child


class IngestComponent(CompletionHooks):
    """Start/stop unit for :class:`strokealert.service.Service`.

    ``on_series_complete`` / ``on_study_complete`` take callbacks called (on the indexer
    thread, after the completion event is committed) with a :class:`Completion`.
    """

    def __init__(self, settings: Settings, factory: sessionmaker[Session]) -> None:
        self.settings = settings
        self.store = default_store(settings)
        self.indexer = Indexer(settings, factory, self.store)
        self.fanout = self.indexer.fanout
        self.receiver = Receiver(settings, self.indexer, self.store)

    @property
    def port(self) -> int:
        return self.receiver.port

    def start(self) -> None:
        self.indexer.start()
        self.receiver.start()

    def stop(self) -> None:
        self.receiver.stop()
        self.indexer.stop()


class _Sender:
    """The child's end of the pipe, shared by its threads (``Connection`` is not)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    def send(self, kind: str, payload: object) -> None:
        with self._lock:
            try:
                self._conn.send((kind, payload))
            except OSError:  # the parent is gone: nobody to tell
                pass

    def put_nowait(self, record: logging.LogRecord) -> None:
        """What :class:`QueueHandler` calls: forward a prepared log record."""
        self.send("log", record)


def run_child(settings: Settings, conn: Connection, log_level: int) -> None:
    """The child process: an :class:`IngestComponent` until the parent says stop, its pipe
    closes (the parent died) or SIGTERM; the indexer drains its queue before exiting."""
    from strokealert import db

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops us
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    sender = _Sender(conn)
    root = logging.getLogger()
    # typeshed's queue protocol also asks for get(), which QueueHandler never calls.
    root.handlers[:] = [QueueHandler(sender)]  # type: ignore[arg-type]
    root.setLevel(log_level)

    engine = db.make_engine(settings.resolved_database_url)
    ingest = IngestComponent(settings, db.make_session_factory(engine))
    ingest.on_series_complete.append(lambda done: sender.send("completion", done))
    ingest.on_study_complete.append(lambda done: sender.send("completion", done))
    try:
        ingest.start()
    except Exception as exc:
        sender.send("failed", f"{type(exc).__name__}: {exc}")
        ingest.stop()
        return

    def _watch_parent() -> None:
        try:
            conn.recv()  # "stop", or EOFError when the parent is gone
        except (EOFError, OSError):
            pass
        stop.set()

    threading.Thread(target=_watch_parent, name="ingest-parent", daemon=True).start()
    sender.send("ready", ingest.port)
    while not stop.wait(0.5):
        pass
    ingest.stop()
    engine.dispose()
    sender.send("stopped", None)


class IngestProcess(CompletionHooks):
    """The ingest in a child process (see the module docstring); same interface as
    :class:`IngestComponent` minus ``indexer``/``receiver``. Callbacks run on a monitor
    thread of this process. A child that dies is restarted (with back-off)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.fanout = CompletionFanout()
        self._context = multiprocessing.get_context("spawn")  # no fork of a threaded parent
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._port: int | None = None
        self._monitor: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._port is not None
        return self._port

    @property
    def pid(self) -> int | None:
        """The child's process id (None when not running)."""
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start the child and wait until it listens; raises if it cannot start."""
        self._stopping.clear()
        with self._lock:
            self._spawn()
        self._monitor = threading.Thread(target=self._run_monitor, name="ingest-monitor",
                                         daemon=True)
        self._monitor.start()

    def stop(self) -> None:
        """Ask the child to stop (it indexes what it has received first) and wait for it."""
        with self._lock:
            self._stopping.set()
            process, conn = self._process, self._conn
        if process is not None and conn is not None:
            try:
                conn.send(("stop", None))
            except OSError:
                pass
            process.join(STOP_TIMEOUT_S)
            if process.is_alive():
                log.error("ingest process did not stop in %.0f s; killing it", STOP_TIMEOUT_S)
                process.kill()
                process.join()
        if self._monitor is not None:
            self._monitor.join(timeout=10)
            self._monitor = None
        self._process = None

    def _spawn(self) -> None:
        """Start a child and wait for its "ready" (caller holds ``_lock``)."""
        parent_conn, child_conn = self._context.Pipe()
        process = self._context.Process(
            target=run_child, name="strokealert-ingest",
            args=(self.settings, child_conn, logging.getLogger().getEffectiveLevel()))
        process.start()
        child_conn.close()
        try:
            while True:
                if not parent_conn.poll(START_TIMEOUT_S):
                    raise RuntimeError(f"ingest process not ready in {START_TIMEOUT_S:.0f} s")
                kind, payload = parent_conn.recv()
                if kind == "ready":
                    break
                if kind == "failed":
                    raise RuntimeError(f"ingest process could not start: {payload}")
                self._dispatch(kind, payload)
        except BaseException as exc:
            process.kill()
            process.join()
            parent_conn.close()
            if isinstance(exc, EOFError):
                raise RuntimeError(f"ingest process exited with {process.exitcode} "
                                   "before it was ready") from exc
            raise
        self._process, self._conn, self._port = process, parent_conn, int(payload)

    def _dispatch(self, kind: str, payload: Any) -> None:
        if kind == "log":
            record: logging.LogRecord = payload
            logging.getLogger(record.name).handle(record)
        elif kind == "completion":
            completion: Completion = payload
            self.fanout.publish(completion)

    def _run_monitor(self) -> None:
        """Relay the child's messages; restart it if it dies while not stopping."""
        while True:
            conn = self._conn
            assert conn is not None
            try:
                kind, payload = conn.recv()
            except (EOFError, OSError):
                conn.close()
                if self._stopping.is_set() or not self._restart():
                    return
                continue
            self._dispatch(kind, payload)

    def _restart(self) -> bool:
        """Start a new child after one died; False if stopping meanwhile."""
        process = self._process
        if process is not None:
            process.join(5)
            log.error("ingest process exited with %s; restarting it", process.exitcode)
        wait_s = RESTART_BACKOFF_S[0]
        while not self._stopping.wait(wait_s):
            with self._lock:
                if self._stopping.is_set():
                    return False
                try:
                    self._spawn()
                    log.info("ingest process restarted, listening on port %d", self.port)
                    return True
                except Exception:
                    log.exception("restarting the ingest process failed")
            wait_s = min(wait_s * 2, RESTART_BACKOFF_S[1])
        return False

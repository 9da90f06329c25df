"""The MLLP listener: frames (0x0B message 0x1C 0x0D) in, one ACK out per frame, in order.

An asyncio server (``hl7.mllp``) on a thread of its own; each frame is handed to the
:class:`~strokealert.hl7.receive.Receiver` on a worker thread, and its ACK is written only
after the receiver returns (the message is committed by then). Bounded: frames up to
``hl7_max_message_kib``, ``hl7_max_connections`` connections (the newest refused beyond),
``hl7_read_timeout_s`` for a connection to idle or finish a frame. A frame that cannot be read
(too long, no start block) or stored (database down) closes the connection without an ACK:
the sender keeps the message and resends it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from hl7.mllp import HL7StreamReader, HL7StreamWriter, start_hl7_server
from hl7.mllp.exceptions import InvalidBlockError

from strokealert.config import Settings
from strokealert.hl7.receive import Receiver, StorageUnavailable

log = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 10.0


class MllpListener:
    """The listener as a service component (``start``/``stop``); ``port`` is the bound port."""

    def __init__(self, settings: Settings, receiver: Receiver) -> None:
        self.receiver = receiver
        self.host, self.port = settings.hl7_host, settings.hl7_port
        self.max_bytes = settings.hl7_max_message_kib * 1024
        self.read_timeout_s = settings.hl7_read_timeout_s
        self.max_connections = settings.hl7_max_connections
        self._workers = ThreadPoolExecutor(max_workers=min(settings.hl7_max_connections, 8),
                                           thread_name_prefix="hl7-store")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        """Bind and serve on a thread; returns once listening (raises if the bind fails)."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(start_hl7_server(
                    self._connection, self.host, self.port, limit=self.max_bytes))
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="hl7-mllp", daemon=True)
        self._thread.start()
        if not ready.wait(STARTUP_TIMEOUT_S):
            raise RuntimeError("the HL7 listener did not start in time")
        if failure:
            raise failure[0]
        log.info("HL7 MLLP listener on %s:%d", self.host, self.port)

    def stop(self) -> None:
        """Stop accepting, end open connections (a frame being stored finishes first)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        self._workers.shutdown(wait=True)
        self._loop = self._thread = None

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    async def _connection(self, reader: HL7StreamReader, writer: HL7StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        peer = str((writer.get_extra_info("peername") or ("", 0))[0])
        if len(self._connections) >= self.max_connections:
            log.warning("hl7 connection refused: %d connections open", len(self._connections))
            writer.close()
            return
        self._connections.add(task)
        try:
            await self._serve(reader, writer, peer)
        finally:
            self._connections.discard(task)
            writer.close()

    async def _serve(self, reader: HL7StreamReader, writer: HL7StreamWriter, peer: str) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                frame = await asyncio.wait_for(reader.readblock(), self.read_timeout_s)
            except (asyncio.IncompleteReadError, ConnectionError):
                return  # the sender hung up (between frames, or mid-frame: it resends)
            except TimeoutError:
                log.info("hl7 connection idle for %.0f s, closed", self.read_timeout_s)
                return
            except ValueError:
                log.warning("hl7 frame over %d KiB, connection closed without ACK",
                            self.max_bytes // 1024)
                return
            except InvalidBlockError:
                log.warning("hl7 data outside an MLLP frame (no 0x0B start), connection closed")
                return
            try:
                ack = await loop.run_in_executor(
                    self._workers, partial(self.receiver.receive, frame, peer=peer))
            except StorageUnavailable:
                return
            writer.writeblock(ack.encode("utf-8"))
            try:
                await writer.drain()
            except ConnectionError:
                return

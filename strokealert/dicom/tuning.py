"""The only patches to pynetdicom internals. The receiver's: an open association that waits
instead of polling. Kept because ``bench/ingest.py --idle-associations 8`` shows they pay: the
service spent 3.8 % of a core per idle association without them, 1.7 % with the waiting socket
alone, 1.0 % with both (so the 64 associations allowed would otherwise spin ~2.4 cores doing
nothing). Throughput was the same with or without them (images/s, paired with storescp in the
same runs, 11 repeats: median ratio 1.02), and a third patch that sent C-STORE responses as
prebuilt bytes was removed for that reason.

Written for pynetdicom ``PYNETDICOM_VERSION`` (pinned in pyproject.toml; a test fails when the
installed version or the patched code differs). Everything else in the receiver extends
pynetdicom through event handlers and public methods (and ``transport.py``'s guarded socket).

- :class:`WaitingAssociationSocket`: pynetdicom's DUL reactor asks :attr:`ready` (a
  zero-timeout select) in a loop with a nap in between; here :attr:`ready` blocks in select()
  on the connection and on a wake-up socket pair that the DUL's outgoing queue writes to, and
  the reactor's loop delay (``DULServiceProvider._run_loop_delay``) is 0.
- ``DIMSEServiceProvider.get_msg`` that waits up to ``DIMSE_POLL_S`` for a message instead of
  returning at once between the acceptor reactor's naps.

And every association strokealert requests (``strokealert send``, the push to the PACS), through
:func:`requestor_handlers`:

- TCP_NODELAY on its socket: pynetdicom writes a C-STORE's command and data set as separate
  PDUs, and with Nagle's algorithm the second waited for the receiver's delayed ACK of the first
  (about 40 ms an image; ``bench/send.py``).
- ``get_msg`` that only a blocking call takes a message from (:func:`_get_msg_blocking_only`):
  the association's own reactor polls ``get_msg(block=False)`` and ``send_c_store`` pauses it
  first, but that pause waits only for a flag the reactor left set on its previous turn; a
  reactor just woken from its pause could take the C-STORE response off the queue, and
  ``send_c_store`` then waited out its DIMSE timeout (pynetdicom issues 435 and 842). Seen with
  four senders into ``strokealert serve`` on two busy cores: the requestor's reactor logged
  "Received unexpected C-STORE service message", its sender stalled, and the receiver aborted
  the association after its network timeout.
"""

from __future__ import annotations

import queue
import select
import socket
import ssl
import types
from typing import Any

from pynetdicom import evt
from pynetdicom.dimse import DIMSEServiceProvider
from pynetdicom.events import Event

from strokealert.dicom.transport import GuardedAssociationSocket, TransportLimits

PYNETDICOM_VERSION = "3.0"  # the minor release these patches were written for
DIMSE_POLL_S = 0.005
SOCKET_WAIT_S = 0.05  # longest a DUL thread blocks in select() before its timers are checked


class _WakingQueue(queue.Queue[Any]):
    """The DUL's outgoing-primitive queue: each ``put`` also wakes the DUL's select()."""

    def __init__(self, wake: socket.socket) -> None:
        super().__init__()
        self._wake = wake

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        super().put(item, block, timeout)
        try:
            self._wake.send(b"\0")
        except OSError:  # buffer full (a wake-up is already pending) or closed
            pass


class WaitingAssociationSocket(GuardedAssociationSocket):
    """The guarded socket with a DUL thread that blocks instead of polling (an open
    association otherwise costs ~18 % of a core doing nothing, and the nap delays every PDU)."""

    _wake_r: socket.socket
    _wake_w: socket.socket

    def guard(self, limits: TransportLimits, accepted_at: float) -> None:
        super().guard(limits, accepted_at)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        dul = self.assoc.dul
        dul.to_provider_queue = _WakingQueue(self._wake_w)
        dul._run_loop_delay = 0  # noqa: SLF001 - select() in ready() does the waiting

    @property
    def ready(self) -> bool:
        """True if data can be read: waits for it up to ``SOCKET_WAIT_S``, less if woken."""
        if self.socket is None or self._is_connected is False:
            return False
        if isinstance(self.socket, ssl.SSLSocket) and self.socket.pending():
            return True
        try:
            readable, _, _ = select.select([self.socket, self._wake_r], [], [], SOCKET_WAIT_S)
        except (OSError, ValueError):
            self.event_queue.put("Evt17")  # Evt17: transport connection closed
            return False
        if self._wake_r in readable:
            try:
                while self._wake_r.recv(4096):
                    pass
            except OSError:  # drained
                pass
        return self.socket in readable

    def close(self) -> None:
        super().close()
        self._wake_r.close()
        self._wake_w.close()


def _get_msg_waiting(self: DIMSEServiceProvider, block: bool = False) -> Any:
    """``DIMSEServiceProvider.get_msg`` that, asked not to block, still waits up to
    ``DIMSE_POLL_S`` for a message: the acceptor's reactor polls it between 1 ms naps, so a
    message is served the moment it is complete instead of up to a nap later."""
    try:
        return self.msg_queue.get(timeout=self.dimse_timeout if block else DIMSE_POLL_S)
    except queue.Empty:
        return None, None


def tune_connection(event: Event) -> None:
    """EVT_CONN_OPEN: DIMSE waits for a message instead of polling for it."""
    dimse = event.assoc.dimse
    dimse.get_msg = types.MethodType(_get_msg_waiting, dimse)  # type: ignore[method-assign]


def _get_msg_blocking_only(self: DIMSEServiceProvider, block: bool = False) -> Any:
    """A requestor's ``DIMSEServiceProvider.get_msg``: a blocking call (``send_c_store``
    waiting for its response) takes the next message; the reactor's polling call never does.
    A storage SCU is sent nothing but the responses it waits for."""
    if not block:
        return None, None
    return DIMSEServiceProvider.get_msg(self, block=True)


def tune_requestor(event: Event) -> None:
    """EVT_CONN_OPEN of an association strokealert requests: TCP_NODELAY, and responses left
    to the call that waits for them (see the module docstring)."""
    transport = event.assoc.dul.socket
    if transport is not None and transport.socket is not None:
        transport.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    dimse = event.assoc.dimse
    dimse.get_msg = types.MethodType(_get_msg_blocking_only, dimse)  # type: ignore[method-assign]


def requestor_handlers() -> list[evt.EventHandlerType]:
    """``evt_handlers`` for ``AE.associate`` of every association strokealert requests."""
    return [(evt.EVT_CONN_OPEN, tune_requestor)]

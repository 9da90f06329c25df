"""Throughput patches to pynetdicom internals, kept because ``bench/ingest.py`` shows they pay.

Written for pynetdicom ``PYNETDICOM_VERSION`` (pinned in pyproject.toml; a test fails when the
installed version or the patched internals differ). Everything else in the receiver extends
pynetdicom through event handlers and public methods only.

- :class:`WaitingAssociationSocket`: pynetdicom's DUL reactor asks :attr:`ready` (a
  zero-timeout select) in a loop with a nap in between; here :attr:`ready` blocks in select()
  on the connection and on a wake-up socket pair that the DUL's outgoing queue writes to, and
  the reactor's loop delay (``DULServiceProvider._run_loop_delay``) is 0.
- ``DIMSEServiceProvider.get_msg`` that waits up to ``DIMSE_POLL_S`` for a message instead of
  returning at once between the acceptor reactor's naps.
- ``DIMSEServiceProvider.send_msg`` sending plain C-STORE responses as prebuilt bytes
  (:func:`store_response`) instead of encoding a pydicom dataset (~1 ms each).
"""

from __future__ import annotations

import queue
import select
import socket
import ssl
import struct
import types
from typing import Any

from pynetdicom.dimse import DIMSEServiceProvider
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.events import Event
from pynetdicom.pdu_primitives import P_DATA

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


def _command_element(element: int, value: bytes) -> bytes:
    """One implicit VR little endian group 0000 element."""
    return struct.pack("<HHI", 0x0000, element, len(value)) + value


def _uid_value(uid: str) -> bytes:
    data = uid.encode("latin-1")
    return data + b"\0" if len(data) % 2 else data


def store_response(primitive: Any, context_id: int) -> P_DATA | None:
    """A plain C-STORE response (status and UIDs only) as the P-DATA pynetdicom would send:
    one last-fragment command PDV with the C-STORE-RSP command set (PS3.7 §9.3.1.2), built
    without the pydicom dataset pynetdicom encodes it from (~1 ms per response). None for
    anything else (requests, other services, an error comment or offending element)."""
    if not (isinstance(primitive, C_STORE) and primitive.MessageIDBeingRespondedTo is not None
            and primitive.Status is not None and primitive.ErrorComment is None
            and primitive.OffendingElement is None and primitive.AffectedSOPClassUID
            and primitive.AffectedSOPInstanceUID):
        return None
    body = b"".join((
        _command_element(0x0002, _uid_value(primitive.AffectedSOPClassUID)),
        _command_element(0x0100, struct.pack("<H", 0x8001)),  # CommandField: C-STORE-RSP
        _command_element(0x0120, struct.pack("<H", primitive.MessageIDBeingRespondedTo)),
        _command_element(0x0800, struct.pack("<H", 0x0101)),  # no dataset follows
        _command_element(0x0900, struct.pack("<H", primitive.Status)),
        _command_element(0x1000, _uid_value(primitive.AffectedSOPInstanceUID)),
    ))
    command = _command_element(0x0000, struct.pack("<I", len(body))) + body
    pdata = P_DATA()
    pdata.presentation_data_value_list = [[context_id, b"\x03" + command]]  # command, last
    return pdata


def _send_msg_fast(self: DIMSEServiceProvider, primitive: Any, context_id: int) -> None:
    """``DIMSEServiceProvider.send_msg`` sending plain C-STORE responses built by
    :func:`store_response`; everything else goes through pynetdicom's own encoder."""
    pdata = store_response(primitive, context_id)
    if pdata is None:
        DIMSEServiceProvider.send_msg(self, primitive, context_id)
    else:
        self.dul.send_pdu(pdata)


def tune_connection(event: Event) -> None:
    """EVT_CONN_OPEN: shorter DIMSE waits and direct C-STORE responses."""
    dimse = event.assoc.dimse
    dimse.get_msg = types.MethodType(_get_msg_waiting, dimse)  # type: ignore[method-assign]
    dimse.send_msg = types.MethodType(_send_msg_fast, dimse)  # type: ignore[method-assign]

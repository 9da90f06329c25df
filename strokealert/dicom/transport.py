"""The receiver's transport guards: what any peer on the network can make it spend.

Every accepted connection is bounded before it is trusted:

- **Memory.** A PDU is read incrementally, and one whose header declares more than allowed is
  answered with an A-ABORT and the connection closed before its body is read: 64 KiB
  (``ASSOCIATE_RQ_MAX_BYTES``) until an A-ASSOCIATE-RQ has been read, then the maximum PDU
  length we negotiated (``dicom_max_pdu``). A dataset (the P-DATA fragments of one message)
  longer than ``dicom_max_object_mib`` aborts the association too: pynetdicom assembles a
  message in memory.
- **Time.** The TLS handshake and the whole A-ASSOCIATE-RQ must arrive within the ACSE timeout
  (measured from the accept); afterwards each PDU must arrive within the network timeout, and an
  association idle that long is aborted (pynetdicom's idle timer).
- **Slots.** Connections not yet associated live in their own pool, apart from associations:
  per IP address ``dicom_max_pending_per_address`` (beyond it the address's oldest is dropped
  for its newcomer), in all ``dicom_max_pending_connections`` (when full, the oldest of the
  address holding most is dropped, or the newcomer refused), and no connection is dropped
  before it had ``PENDING_GRACE_S`` to send its A-ASSOCIATE-RQ: a host flooding slow or silent
  connections displaces its own and cannot keep a scanner out. At the A-ASSOCIATE-RQ (the
  earliest point where the calling AE title is known) an AE outside the allow-list is rejected,
  and associations are capped in total and per calling AE (A-ASSOCIATE-RJ "local limit
  exceeded", transient).
- **Accept path.** The accept thread only accepts; the TLS handshake runs on the connection's
  own thread, with the ACSE timeout.
"""

from __future__ import annotations

import itertools
import logging
import socket
import socketserver
import ssl
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import Any

from pynetdicom import evt
from pynetdicom.association import Association
from pynetdicom.events import Event
from pynetdicom.pdu import A_ABORT_RQ
from pynetdicom.transport import AssociationSocket, RequestHandler, ThreadedAssociationServer

from strokealert.config import Settings

log = logging.getLogger(__name__)

ASSOCIATE_RQ_MAX_BYTES = 65536  # longest PDU read before an A-ASSOCIATE-RQ has arrived
READ_CHUNK_BYTES = 65536  # one recv() at most: memory follows what arrives, not what is declared
PDU_HEADER_BYTES = 6
PDU_TYPE_ASSOCIATE_RQ = 0x01
PDU_TYPE_P_DATA = 0x04
PDV_HEADER_BYTES = 6  # item length (4), presentation context ID, message control header
ABORT_INVALID_PDU_PARAMETER = 0x06  # A-ABORT source 2 (service provider) reason
LISTEN_BACKLOG = 128
DROP_REPORT_S = 10.0  # pending connections dropped are logged as a count this often
PENDING_GRACE_S = 1.0  # a new connection is never dropped before it had this long for its RQ

# A-ASSOCIATE-RJ (result, source, diagnostic), PS3.8 §9.3.4
REJECT_CALLING_AE = (0x01, 0x01, 0x03)  # permanent, service user: calling AE not recognised
REJECT_LOCAL_LIMIT = (0x02, 0x03, 0x02)  # transient, service provider: local limit exceeded


class PduTooLong(OSError):
    """A peer declared a PDU, or sent a dataset, longer than allowed (the connection is
    aborted)."""


@dataclass(frozen=True)
class TransportLimits:
    """The receiver's limits, from the ``dicom_*`` settings (bytes, seconds, counts)."""

    max_pdu_bytes: int
    max_object_bytes: int
    acse_timeout_s: float
    network_timeout_s: float
    max_associations: int
    max_associations_per_aet: int
    max_pending_connections: int
    max_pending_per_address: int
    allowed_aets: frozenset[str]

    @classmethod
    def from_settings(cls, settings: Settings) -> TransportLimits:
        return cls(
            max_pdu_bytes=settings.dicom_max_pdu,
            max_object_bytes=settings.dicom_max_object_mib * 1024 * 1024,
            acse_timeout_s=settings.dicom_acse_timeout_s,
            network_timeout_s=settings.dicom_network_timeout_s,
            max_associations=settings.dicom_max_associations,
            max_associations_per_aet=settings.dicom_max_associations_per_aet,
            max_pending_connections=settings.dicom_max_pending_connections,
            max_pending_per_address=settings.dicom_max_pending_per_address,
            allowed_aets=frozenset(aet.strip() for aet in settings.dicom_allowed_aets))


class GuardedAssociationSocket(AssociationSocket):
    """pynetdicom's association socket with capped, incremental, deadline-bound reads.

    The DUL reads a PDU as ``recv(6)`` (type, reserved, length) then ``recv(length)``; the
    header read checks the declared length against the cap before anything else is read.
    """

    limits: TransportLimits
    _associate_rq_read: bool
    _declared_body: int | None
    _pdu_type: int
    _object_bytes: int
    _request_deadline: float

    def guard(self, limits: TransportLimits, accepted_at: float) -> None:
        """Start guarding: the A-ASSOCIATE-RQ is due ``acse_timeout_s`` after ``accepted_at``
        (a :func:`time.monotonic` instant)."""
        self.limits = limits
        self._associate_rq_read = False
        self._declared_body = None
        self._pdu_type = 0
        self._object_bytes = 0
        self._request_deadline = accepted_at + limits.acse_timeout_s

    def recv(self, nr_bytes: int) -> bytearray:
        """Read ``nr_bytes`` (fewer if the peer closes); raises :class:`PduTooLong` for a
        header declaring too much and :class:`TimeoutError` when the deadline passes."""
        is_body = self._declared_body is not None and nr_bytes == self._declared_body
        data = self._read(nr_bytes)
        if is_body:
            self._declared_body = None
            if self._pdu_type == PDU_TYPE_ASSOCIATE_RQ and len(data) == nr_bytes:
                self._associate_rq_read = True
            elif self._pdu_type == PDU_TYPE_P_DATA:
                self._count_dataset_bytes(data)
        elif nr_bytes == PDU_HEADER_BYTES and len(data) == PDU_HEADER_BYTES:
            self._pdu_type = data[0]
            declared = int.from_bytes(data[2:6], "big")
            limit = (self.limits.max_pdu_bytes if self._associate_rq_read
                     else ASSOCIATE_RQ_MAX_BYTES)
            if declared > limit:
                self._abort(f"a PDU of {declared} bytes declared, at most {limit}")
                raise PduTooLong(f"PDU of {declared} bytes declared, at most {limit} accepted")
            self._declared_body = declared
        return data

    def _count_dataset_bytes(self, body: bytearray) -> None:
        """Add up a P-DATA's dataset fragments (PS3.8 §9.3.5.1: item length, context ID,
        message control header: bit 0 command, bit 1 last fragment)."""
        offset = 0
        while offset + PDV_HEADER_BYTES <= len(body):
            length = int.from_bytes(body[offset:offset + 4], "big")
            control = body[offset + 5]
            if not control & 0x01:
                self._object_bytes += max(length - 2, 0)
                if self._object_bytes > self.limits.max_object_bytes:
                    self._abort(f"a dataset over {self.limits.max_object_bytes} bytes")
                    raise PduTooLong("dataset longer than allowed")
                if control & 0x02:
                    self._object_bytes = 0
            offset += 4 + length

    def _read(self, nr_bytes: int) -> bytearray:
        assert self.socket is not None
        deadline = (time.monotonic() + self.limits.network_timeout_s if self._associate_rq_read
                    else self._request_deadline)
        data = bytearray()
        try:
            while len(data) < nr_bytes:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("the peer is too slow to send its PDU")
                self.socket.settimeout(remaining)
                chunk = self.socket.recv(min(nr_bytes - len(data), READ_CHUNK_BYTES))
                if not chunk:  # closed: return what arrived, as pynetdicom does
                    break
                data += chunk
        finally:
            if self.socket is not None:
                self.socket.settimeout(self.limits.network_timeout_s)  # for our sends
        return data

    def _abort(self, what: str) -> None:
        """Send an A-ABORT (service provider, invalid PDU parameter value)."""
        pdu = A_ABORT_RQ()
        pdu.source = 0x02
        pdu.reason_diagnostic = ABORT_INVALID_PDU_PARAMETER
        try:
            assert self.socket is not None
            self.socket.sendall(pdu.encode())
        except OSError:
            pass
        log.warning("%s from %s: association aborted", what, self.assoc.requestor.address)


@dataclass(frozen=True)
class _Pending:
    address: str
    sock: socket.socket
    since: float  # time.monotonic() of the accept


class AdmissionGate:
    """Who may hold a connection or an association; thread safe.

    Pending connections (accepted, no A-ASSOCIATE-RQ yet) are kept oldest first with their
    peer's IP address; associations are counted per calling AE title.
    """

    def __init__(self, limits: TransportLimits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._pending: OrderedDict[int, _Pending] = OrderedDict()
        self._associations: dict[int, str] = {}
        self._per_aet: Counter[str] = Counter()
        self._dropped = 0
        self._reported_at = -DROP_REPORT_S

    def enter(self, key: int, sock: socket.socket, address: str) -> bool:
        """A new connection from ``address``: False if it must be closed at once. Makes room
        by dropping a pending connection that has had ``PENDING_GRACE_S`` to send its
        A-ASSOCIATE-RQ: the address's own oldest when it holds its share, else (pool full) the
        oldest of the address holding most. A burst younger than that is let in up to the
        pool's size."""
        now = time.monotonic()
        with self._lock:
            per_address = Counter(entry.address for entry in self._pending.values())
            evicted = None
            if per_address[address] >= self.limits.max_pending_per_address:
                evicted = self._evict_oldest_of(address, now)
            if evicted is None and len(self._pending) >= self.limits.max_pending_connections:
                evicted = self._evict_oldest_of(per_address.most_common(1)[0][0], now)
                if evicted is None:
                    self._count_drop(now)
                    return False
            self._pending[key] = _Pending(address, sock, now)
            if evicted is not None:
                self._count_drop(now)
        if evicted is not None:
            try:
                socket.socket.shutdown(evicted.sock, socket.SHUT_RDWR)  # wakes its reader
            except OSError:
                pass
        return True

    def _evict_oldest_of(self, address: str, now: float) -> _Pending | None:
        key, oldest = next((key, entry) for key, entry in self._pending.items()
                           if entry.address == address)
        if now - oldest.since < PENDING_GRACE_S:
            return None
        return self._pending.pop(key)

    def _count_drop(self, now: float) -> None:
        """Count a dropped or refused connection; log the count now and then (under a flood
        one line per connection would fill the disk)."""
        self._dropped += 1
        if now - self._reported_at >= DROP_REPORT_S:
            log.warning("%d pending DICOM connections dropped or refused (pool of %d full, "
                        "%d per address)", self._dropped, self.limits.max_pending_connections,
                        self.limits.max_pending_per_address)
            self._dropped, self._reported_at = 0, now

    def associate(self, key: int, calling_aet: str) -> tuple[int, int, int] | None:
        """An A-ASSOCIATE-RQ from ``calling_aet``: None if admitted, else the rejection."""
        with self._lock:
            self._pending.pop(key, None)
            if self.limits.allowed_aets and calling_aet not in self.limits.allowed_aets:
                return REJECT_CALLING_AE
            if (len(self._associations) >= self.limits.max_associations
                    or self._per_aet[calling_aet] >= self.limits.max_associations_per_aet):
                return REJECT_LOCAL_LIMIT
            self._associations[key] = calling_aet
            self._per_aet[calling_aet] += 1
            return None

    def leave(self, key: int) -> None:
        """The connection closed."""
        with self._lock:
            self._pending.pop(key, None)
            calling_aet = self._associations.pop(key, None)
            if calling_aet is not None:
                self._per_aet[calling_aet] -= 1
                if not self._per_aet[calling_aet]:
                    del self._per_aet[calling_aet]

    def counts(self) -> tuple[int, int]:
        """(pending connections, associations) now."""
        with self._lock:
            return len(self._pending), len(self._associations)


class GuardedRequestHandler(RequestHandler):
    """One accepted connection, on its own thread: TLS handshake, then the association."""

    server: GuardedAssociationServer

    def handle(self) -> None:
        accepted_at = time.monotonic()
        gate, limits = self.server.gate, self.server.gate.limits
        key = next(self.server.connection_ids)
        if not gate.enter(key, self.request, str(self.client_address[0])):
            self.server.shutdown_request(self.request)
            return
        if isinstance(self.request, ssl.SSLSocket):
            try:
                self.request.settimeout(limits.acse_timeout_s)
                self.request.do_handshake()
            except (OSError, ValueError) as exc:
                log.warning("TLS handshake with %s failed: %s", self.client_address[0], exc)
                gate.leave(key)
                self.server.shutdown_request(self.request)
                return
        assoc = self._create_association()
        sock = assoc.dul.socket
        assert isinstance(sock, AssociationSocket)
        sock.__class__ = self.server.socket_class
        assert isinstance(sock, GuardedAssociationSocket)
        sock.guard(limits, accepted_at)
        assoc.bind(evt.EVT_REQUESTED, _admit, [gate, key])
        assoc.bind(evt.EVT_CONN_CLOSE, _left, [gate, key])
        evt.trigger(assoc, evt.EVT_CONN_OPEN, {"address": self.client_address})
        assoc.start()


def _admit(event: Event, gate: AdmissionGate, key: int) -> None:
    """EVT_REQUESTED: reject the A-ASSOCIATE-RQ here if the gate says so (pynetdicom then skips
    its own negotiation)."""
    assoc: Association = event.assoc
    request = assoc.requestor.primitive
    assert request is not None  # pynetdicom sets it before EVT_REQUESTED
    calling_aet = str(request.calling_ae_title).strip()
    rejection = gate.associate(key, calling_aet)
    if rejection is not None:
        pending, associations = gate.counts()
        log.warning("association from %s rejected (%s; %d associations, %d pending)",
                    calling_aet, "calling AE not allowed" if rejection == REJECT_CALLING_AE
                    else "local limit exceeded", associations, pending)
        assoc.acse.send_reject(*rejection)
        evt.trigger(assoc, evt.EVT_REJECTED, {})
        assoc.kill()


def _left(_event: Event, gate: AdmissionGate, key: int) -> None:
    """EVT_CONN_CLOSE: free the connection's pending slot or association slot."""
    gate.leave(key)


class ReadFailureSummary(logging.Filter):
    """On pynetdicom's DUL logger: its per-connection read failures (a message and a traceback
    for every connection closed mid-PDU, timed out or aborted by us) are counted and logged as
    one line every ``DROP_REPORT_S`` instead; under a flood they would fill the disk."""

    NOISE = ("Connection closed before the entire PDU", "The received PDU is shorter than")

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._count = 0
        self._reported_at = -DROP_REPORT_S

    def filter(self, record: logging.LogRecord) -> bool:
        is_read_failure = ((record.exc_info is not None
                            and isinstance(record.exc_info[1], OSError))
                           or record.getMessage().startswith(self.NOISE))
        if not is_read_failure:
            return True
        now = time.monotonic()
        with self._lock:
            self._count += 1
            if now - self._reported_at < DROP_REPORT_S:
                return False
            count, self._count, self._reported_at = self._count, 0, now
        log.warning("%d DICOM connection read failures (closed mid-PDU, timed out or aborted)",
                    count)
        return False


class GuardedAssociationServer(ThreadedAssociationServer):
    """pynetdicom's threaded server: accept only (Nagle off, TLS wrapped without handshake),
    every connection guarded by :class:`GuardedRequestHandler` and an :class:`AdmissionGate`.

    Extra keyword arguments: ``limits`` and ``socket_class`` (a
    :class:`GuardedAssociationSocket` subclass).
    """

    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True

    def __init__(self, *args: Any, limits: TransportLimits,
                 socket_class: type[GuardedAssociationSocket] = GuardedAssociationSocket,
                 **kwargs: Any) -> None:
        self.gate = AdmissionGate(limits)
        dul_log = logging.getLogger("pynetdicom.dul")
        if not any(isinstance(f, ReadFailureSummary) for f in dul_log.filters):
            dul_log.addFilter(ReadFailureSummary())
        self.connection_ids = itertools.count()
        self.socket_class = socket_class
        kwargs["request_handler"] = GuardedRequestHandler
        super().__init__(*args, **kwargs)

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        assert self.socket is not None
        client, address = self.socket.accept()
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.ssl_context:
            client = self.ssl_context.wrap_socket(client, server_side=True,
                                                  do_handshake_on_connect=False)
        return client, address

    def shutdown(self) -> None:
        """Stop serving and close the listening socket (the AE keeps no record of us)."""
        socketserver.BaseServer.shutdown(self)
        self.server_close()

"""The C-STORE SCP the scanner talks to (pynetdicom), AE ``STROKEALERT`` on port 11112.

The handler stays short: read the header (pixel data is left as the raw bytes received), check it,
write the encoded dataset exactly as it came, hand a record to the :class:`Indexer` and answer.
It never waits on the database, the analysis or the network. Bad objects go to ``quarantine/``
with their reason and a failure status; the association goes on.
"""

from __future__ import annotations

import logging
import queue
import select
import socket
import ssl
import struct
import threading
import types
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    HTJ2KLossless,
    HTJ2KLosslessRPCL,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
)
from pynetdicom import (
    AE,
    PYNETDICOM_IMPLEMENTATION_UID,
    PYNETDICOM_IMPLEMENTATION_VERSION,
    _config,
    evt,
)
from pynetdicom.association import Association
from pynetdicom.dimse import DIMSEServiceProvider
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.events import Event
from pynetdicom.pdu_primitives import P_DATA
from pynetdicom.sop_class import (
    CTImageStorage,
    EnhancedCTImageStorage,
    LegacyConvertedEnhancedCTImageStorage,
    SecondaryCaptureImageStorage,
    Verification,
)
from pynetdicom.transport import AssociationSocket, ThreadedAssociationServer

from strokealert.config import Settings
from strokealert.dicom.index import Indexer, InstanceRecord, QuarantineRecord
from strokealert.dicom.store import ImageStore, part10_header, valid_uid, write_atomic

log = logging.getLogger(__name__)

STORAGE_CLASSES = (CTImageStorage, EnhancedCTImageStorage, LegacyConvertedEnhancedCTImageStorage,
                   SecondaryCaptureImageStorage)
TRANSFER_SYNTAXES = [ImplicitVRLittleEndian, ExplicitVRLittleEndian,
                     DeflatedExplicitVRLittleEndian, RLELossless, JPEGLossless, JPEGLosslessSV1,
                     JPEGLSLossless, JPEG2000Lossless, HTJ2KLossless, HTJ2KLosslessRPCL]

STATUS_SUCCESS = 0x0000
STATUS_OUT_OF_RESOURCES = 0xA700
STATUS_NOT_MATCHING_SOP_CLASS = 0xA900  # e.g. an image without pixel data
STATUS_CANNOT_PARSE = 0xC210
STATUS_INCONSISTENT = 0xC212  # missing/invalid UIDs, pixel data length ≠ header


class BadInstance(Exception):
    """An object the receiver refuses: a DIMSE failure status and a reason for the log."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class ReceivedIdentity:
    """The identity of a received object, checked before it is stored."""

    study_uid: str
    series_uid: str
    sop_uid: str
    sop_class_uid: str


# Tags read straight from the raw (not yet converted) elements: pydicom's keyword access costs
# tens of microseconds per element, which the handler cannot afford at hundreds of images/s.
TAG_STUDY_UID, TAG_SERIES_UID, TAG_SOP_UID = 0x0020000D, 0x0020000E, 0x00080018
TAG_SOP_CLASS, TAG_ROWS, TAG_COLUMNS = 0x00080016, 0x00280010, 0x00280011
TAG_SAMPLES, TAG_BITS_ALLOCATED, TAG_FRAMES = 0x00280002, 0x00280100, 0x00280008
TAG_PIXEL_DATA = 0x7FE00010


def _raw_text(ds: Dataset, tag: int) -> str:
    """A string element's value (UI, IS, …) without pydicom's conversion; "" if absent."""
    element = ds._dict.get(tag)  # noqa: SLF001 - raw access on purpose (see above)
    if element is None or element.value is None:
        return ""
    value = element.value
    if isinstance(value, bytes):
        return value.decode("latin-1").strip(" \x00")
    return str(value).strip()


def _raw_us(ds: Dataset, tag: int) -> int | None:
    """An US element's value (little endian), None if absent."""
    element = ds._dict.get(tag)  # noqa: SLF001
    if element is None or element.value is None:
        return None
    value = element.value
    if isinstance(value, bytes):
        return int.from_bytes(value[:2], "little") if len(value) >= 2 else None
    return int(value)


def _expected_pixel_bytes(ds: Dataset) -> int:
    rows, columns = _raw_us(ds, TAG_ROWS), _raw_us(ds, TAG_COLUMNS)
    bits = _raw_us(ds, TAG_BITS_ALLOCATED)
    if not rows or not columns or not bits:
        raise BadInstance(STATUS_INCONSISTENT, "Rows, Columns or BitsAllocated missing")
    samples = _raw_us(ds, TAG_SAMPLES) or 1
    frames = int(_raw_text(ds, TAG_FRAMES) or 1)
    if bits == 1:
        return (rows * columns * samples * frames + 7) // 8
    return rows * columns * samples * frames * (bits // 8)


def read_header(ds: Dataset, transfer_syntax: UID, command_sop_uid: str,
                command_sop_class: str) -> ReceivedIdentity:
    """Check a received dataset's identity and pixel data; raises :class:`BadInstance`.

    Missing/invalid UIDs, UIDs that differ from the C-STORE request, no pixel data,
    native pixel data whose length disagrees with Rows × Columns × samples × bits × frames,
    or native pixel data under a compressed transfer syntax are refused.
    """
    try:
        study_uid = _raw_text(ds, TAG_STUDY_UID)
        series_uid = _raw_text(ds, TAG_SERIES_UID)
        sop_uid = _raw_text(ds, TAG_SOP_UID)
        sop_class = _raw_text(ds, TAG_SOP_CLASS)
        pixel = ds._dict.get(TAG_PIXEL_DATA)  # noqa: SLF001
    except Exception as exc:  # pydicom parses lazily: a broken stream raises here
        raise BadInstance(STATUS_CANNOT_PARSE, f"unparseable dataset: {exc}") from exc
    for name, uid in (("StudyInstanceUID", study_uid), ("SeriesInstanceUID", series_uid),
                      ("SOPInstanceUID", sop_uid)):
        if not valid_uid(uid):
            raise BadInstance(STATUS_INCONSISTENT, f"missing or invalid {name}")
    if sop_uid != command_sop_uid:
        raise BadInstance(STATUS_INCONSISTENT,
                          "SOPInstanceUID differs from the C-STORE request's")
    if sop_class != command_sop_class:
        raise BadInstance(STATUS_NOT_MATCHING_SOP_CLASS,
                          "SOPClassUID differs from the C-STORE request's")
    if pixel is None or pixel.value is None or pixel.length == 0:
        raise BadInstance(STATUS_NOT_MATCHING_SOP_CLASS, "no pixel data")
    undefined_length = pixel.length == 0xFFFFFFFF
    if transfer_syntax.is_encapsulated:
        if not undefined_length:
            raise BadInstance(STATUS_INCONSISTENT,
                              "compressed transfer syntax but native pixel data")
    else:
        try:
            expected = _expected_pixel_bytes(ds)
        except ValueError as exc:
            raise BadInstance(STATUS_INCONSISTENT, f"unreadable image header: {exc}") from exc
        if undefined_length or pixel.length not in (expected, expected + 1):
            raise BadInstance(STATUS_INCONSISTENT,
                              f"pixel data is {pixel.length} bytes, the header says {expected}")
    return ReceivedIdentity(study_uid, series_uid, sop_uid, sop_class)


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


class WaitingAssociationSocket(AssociationSocket):
    """pynetdicom's socket, with a DUL thread that blocks instead of polling.

    pynetdicom's DUL reactor asks :attr:`ready` (a zero-timeout select) in a loop with a nap
    in between: an open association costs ~18 % of a core doing nothing, and the nap delays
    every PDU. Here :attr:`ready` blocks in select() on the connection and on a wake-up
    socket pair that the DUL's outgoing queue (:class:`_WakingQueue`) writes to, for at most
    ``SOCKET_WAIT_S``; the reactor's loop delay is set to 0. :meth:`recv` reads straight
    into one buffer (pynetdicom reads 4 KiB per call and appends: ~1 ms per 512 KiB image).
    """

    _wake_r: socket.socket
    _wake_w: socket.socket

    @classmethod
    def adopt(cls, assoc: Association) -> None:
        """Turn the association's (already connected) socket into this class."""
        sock = assoc.dul.socket
        if sock is None or type(sock) is not AssociationSocket:
            return
        sock.__class__ = cls
        assert isinstance(sock, WaitingAssociationSocket)
        sock._wake_r, sock._wake_w = socket.socketpair()
        sock._wake_r.setblocking(False)
        sock._wake_w.setblocking(False)
        assoc.dul.to_provider_queue = _WakingQueue(sock._wake_w)
        assoc.dul._run_loop_delay = 0  # noqa: SLF001 - select() in ready() does the waiting

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

    def recv(self, nr_bytes: int) -> bytearray:
        """Read ``nr_bytes`` (fewer if the connection closes), blocking."""
        assert self.socket is not None
        buffer = bytearray(nr_bytes)
        view = memoryview(buffer)
        received = 0
        while received < nr_bytes:
            count = self.socket.recv_into(view[received:], nr_bytes - received)
            if not count:  # connection closed: return what arrived, as pynetdicom does
                return buffer[:received]
            received += count
        return buffer

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


def _tune_connection(event: Event) -> None:
    """EVT_CONN_OPEN: a blocking DUL, shorter DIMSE waits and direct C-STORE responses."""
    assoc = event.assoc
    WaitingAssociationSocket.adopt(assoc)
    assoc.dimse.get_msg = types.MethodType(_get_msg_waiting,  # type: ignore[method-assign]
                                           assoc.dimse)
    assoc.dimse.send_msg = types.MethodType(_send_msg_fast,  # type: ignore[method-assign]
                                            assoc.dimse)


class NoDelayAssociationServer(ThreadedAssociationServer):
    """pynetdicom's threaded server with Nagle's algorithm disabled on accepted sockets."""

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        assert self.socket is not None
        client, address = self.socket.accept()
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.ssl_context:
            client = self.ssl_context.wrap_socket(client, server_side=True)
        return client, address


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """Server TLS context when a certificate is configured; a CA makes client certs mandatory."""
    if settings.dicom_tls_cert is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.dicom_tls_cert, settings.dicom_tls_key)
    if settings.dicom_tls_ca is not None:
        context.load_verify_locations(cafile=str(settings.dicom_tls_ca))
        context.verify_mode = ssl.CERT_REQUIRED
    return context


class Receiver:
    """The C-STORE/C-ECHO SCP; stored objects are indexed by ``indexer``."""

    def __init__(self, settings: Settings, indexer: Indexer, store: ImageStore) -> None:
        self.settings = settings
        self.indexer = indexer
        self.store = store
        self._server: NoDelayAssociationServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (useful when configured as 0)."""
        assert self._server is not None
        return int(self._server.server_address[1])

    def _make_ae(self) -> AE:
        ae = AE(ae_title=self.settings.dicom_ae_title)
        ae.maximum_pdu_size = self.settings.dicom_max_pdu
        ae.require_calling_aet = list(self.settings.dicom_allowed_aets)
        ae.maximum_associations = 16
        ae.network_timeout = 60
        ae.dimse_timeout = 60
        for sop_class in STORAGE_CLASSES:
            ae.add_supported_context(sop_class, TRANSFER_SYNTAXES)
        ae.add_supported_context(Verification)
        return ae

    def start(self) -> None:
        _config.LOG_HANDLER_LEVEL = "none"
        ae = self._make_ae()
        handlers = [(evt.EVT_C_STORE, self._handle_store), (evt.EVT_C_ECHO, lambda _e: 0x0000),
                    (evt.EVT_CONN_OPEN, _tune_connection)]
        self._server = ae.make_server(
            (self.settings.dicom_host, self.settings.dicom_port),
            ssl_context=tls_context(self.settings), evt_handlers=handlers,
            server_class=NoDelayAssociationServer)
        ae._servers.append(self._server)  # so that its shutdown() finds it, as start_server does
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="dicom-receiver", daemon=True)
        self._thread.start()
        log.info("DICOM receiver %s listening on %s:%d", self.settings.dicom_ae_title,
                 self.settings.dicom_host, self.port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _quarantine(self, event: Event, calling_aet: str, bad: BadInstance,
                    header_uids: tuple[str | None, str | None, str | None]) -> None:
        try:
            data = event.encoded_dataset(include_meta=True)
        except Exception:  # the meta itself could not be encoded: keep the raw dataset
            data = event.encoded_dataset(include_meta=False)
        study_uid, series_uid, sop_uid = header_uids
        try:
            path = self.store.quarantine(data, f"status 0x{bad.status:04X}: {bad.reason}")
        except OSError as exc:
            log.error("cannot quarantine SOP %s (%s): %s", sop_uid, bad.reason, exc)
            return
        log.warning("quarantined SOP %s from %s (status 0x%04X): %s", sop_uid, calling_aet,
                    bad.status, bad.reason)
        self.indexer.submit(QuarantineRecord(
            path=str(path), reason=bad.reason, calling_aet=calling_aet,
            study_uid=study_uid if study_uid and valid_uid(study_uid) else None,
            series_uid=series_uid if series_uid and valid_uid(series_uid) else None,
            sop_uid=sop_uid if sop_uid and valid_uid(sop_uid) else None,
            received_at=datetime.now(UTC)))

    def _handle_store(self, event: Event) -> int:
        """C-STORE: check, write as received, queue for indexing; never blocks on the DB."""
        received_at = datetime.now(UTC)
        calling_aet = str(event.assoc.requestor.ae_title).strip()
        request = event.request
        command_sop_uid = str(request.AffectedSOPInstanceUID or "")
        transfer_syntax = UID(event.context.transfer_syntax)
        try:
            try:
                ds = event.dataset
            except Exception as exc:
                raise BadInstance(STATUS_CANNOT_PARSE, f"unparseable dataset: {exc}") from exc
            header = read_header(ds, transfer_syntax, command_sop_uid,
                                 str(request.AffectedSOPClassUID or ""))
        except BadInstance as bad:
            self._quarantine(event, calling_aet, bad, _uids_for_log(event, command_sop_uid))
            return bad.status
        path = self.store.instance_path(header.study_uid, header.series_uid, header.sop_uid)
        if self.settings.dicom_duplicate_policy == "discard" and path.exists():
            # The stored copy stays; it is indexed now if its index row was lost (a crash or
            # a database outage): the indexer skips it when the SOP is already indexed.
            log.info("duplicate SOP %s discarded", header.sop_uid)
            self.indexer.submit(InstanceRecord(
                study_uid=header.study_uid, series_uid=header.series_uid, sop_uid=header.sop_uid,
                sop_class_uid=header.sop_class_uid, transfer_syntax_uid=str(transfer_syntax),
                dataset=ds, calling_aet=calling_aet, path=str(path),
                size_bytes=path.stat().st_size, chunks=None, received_at=received_at,
                duplicate=True))
            return STATUS_SUCCESS
        # The Part 10 meta is built here, the dataset bytes are those of the P-DATA as they came
        # (pynetdicom's encoded_dataset() builds the same meta through pydicom: ~1 ms).
        meta = part10_header(header.sop_class_uid, header.sop_uid, str(transfer_syntax),
                             PYNETDICOM_IMPLEMENTATION_UID, PYNETDICOM_IMPLEMENTATION_VERSION)
        stream = request.DataSet.getvalue()
        try:
            write_atomic(path, meta, stream)
        except OSError as exc:
            log.error("cannot store SOP %s: %s", header.sop_uid, exc)
            return STATUS_OUT_OF_RESOURCES
        self.indexer.submit(InstanceRecord(
            study_uid=header.study_uid, series_uid=header.series_uid, sop_uid=header.sop_uid,
            sop_class_uid=header.sop_class_uid, transfer_syntax_uid=str(transfer_syntax),
            dataset=ds, calling_aet=calling_aet, path=str(path),
            size_bytes=len(meta) + len(stream), chunks=(meta, stream), received_at=received_at))
        return STATUS_SUCCESS


def _uids_for_log(event: Event, command_sop_uid: str) -> tuple[str | None, str | None, str | None]:
    """Study/series/SOP UIDs of a rejected object, as far as they can be read."""
    try:
        ds = event.dataset
        return (str(ds.get("StudyInstanceUID", "") or "") or None,
                str(ds.get("SeriesInstanceUID", "") or "") or None, command_sop_uid or None)
    except Exception:
        return None, None, command_sop_uid or None


def default_store(settings: Settings) -> ImageStore:
    return ImageStore(Path(settings.store_dir), Path(settings.quarantine_dir))

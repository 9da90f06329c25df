"""The C-STORE SCP the scanner talks to (pynetdicom), AE ``STROKEALERT`` on port 11112.

The handler stays short: read the header (pixel data is left as the raw bytes received), check it,
write the encoded dataset exactly as it came, hand a record to the :class:`Indexer` and answer.
It never waits on the database, the analysis or the network. Bad objects go to ``quarantine/``
with their reason and a failure status; the association goes on.
"""

from __future__ import annotations

import logging
import ssl
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.uid import (
    UID,
    CTImageStorage,
    DeflatedExplicitVRLittleEndian,
    EnhancedCTImageStorage,
    ExplicitVRLittleEndian,
    HTJ2KLossless,
    HTJ2KLosslessRPCL,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    LegacyConvertedEnhancedCTImageStorage,
    RLELossless,
    SecondaryCaptureImageStorage,
)
from pynetdicom import (
    AE,
    PYNETDICOM_IMPLEMENTATION_UID,
    PYNETDICOM_IMPLEMENTATION_VERSION,
    _config,
    evt,
)
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.events import Event, EventHandlerType

from strokealert.config import Settings
from strokealert.dicom.index import Indexer, InstanceRecord, QuarantineRecord
from strokealert.dicom.store import ImageStore, part10_header, valid_uid, write_atomic
from strokealert.dicom.transport import GuardedAssociationServer, TransportLimits
from strokealert.dicom.tuning import WaitingAssociationSocket, tune_connection

log = logging.getLogger(__name__)

STORAGE_CLASSES = (CTImageStorage, EnhancedCTImageStorage, LegacyConvertedEnhancedCTImageStorage,
                   SecondaryCaptureImageStorage)
TRANSFER_SYNTAXES = [ImplicitVRLittleEndian, ExplicitVRLittleEndian,
                     DeflatedExplicitVRLittleEndian, RLELossless, JPEGLossless, JPEGLosslessSV1,
                     JPEGLSLossless, JPEG2000Lossless, HTJ2KLossless, HTJ2KLosslessRPCL]
VERIFICATION_SOP_CLASS = UID("1.2.840.10008.1.1")  # PS3.4 A.4: C-ECHO

UNLIMITED_BY_PYNETDICOM = 1 << 30
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
    element = ds.get_item(tag)  # raw: not converted (see above)
    if element is None or element.value is None:
        return ""
    value = element.value
    if isinstance(value, bytes):
        return value.decode("latin-1").strip(" \x00")
    return str(value).strip()


def _raw_us(ds: Dataset, tag: int) -> int | None:
    """An US element's value (little endian), None if absent."""
    element = ds.get_item(tag)
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
        pixel = cast("RawDataElement | None", ds.get_item(TAG_PIXEL_DATA))  # raw, see above
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
        self._server: GuardedAssociationServer | None = None
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
        # The AdmissionGate (transport.py) enforces the association limits. pynetdicom's own
        # count is of every live connection thread, pending and closing ones included (an
        # evicted connection's thread lives until its ACSE timeout): it must not second-guess.
        ae.maximum_associations = UNLIMITED_BY_PYNETDICOM
        ae.acse_timeout = self.settings.dicom_acse_timeout_s
        ae.network_timeout = self.settings.dicom_network_timeout_s
        ae.dimse_timeout = self.settings.dicom_dimse_timeout_s
        for sop_class in STORAGE_CLASSES:
            ae.add_supported_context(sop_class, TRANSFER_SYNTAXES)
        ae.add_supported_context(VERIFICATION_SOP_CLASS)
        return ae

    def start(self) -> None:
        _config.LOG_HANDLER_LEVEL = "none"
        ae = self._make_ae()
        handlers: list[EventHandlerType] = [
            (evt.EVT_C_STORE, self._handle_store), (evt.EVT_C_ECHO, lambda _e: 0x0000),
            (evt.EVT_CONN_OPEN, tune_connection)]
        server = cast(GuardedAssociationServer, ae.make_server(  # an instance of server_class
            (self.settings.dicom_host, self.settings.dicom_port),
            ssl_context=tls_context(self.settings), evt_handlers=handlers,
            server_class=GuardedAssociationServer,
            limits=TransportLimits.from_settings(self.settings),
            socket_class=WaitingAssociationSocket))
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever,
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
        request = cast(C_STORE, event.request)  # the EVT_C_STORE handler
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
        assert request.DataSet is not None  # event.dataset was decoded from it above
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

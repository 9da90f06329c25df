"""C-STORE SCU: send DICOM files as they are (their own transfer syntaxes, no re-encoding)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pydicom.errors import InvalidDicomError
from pynetdicom import AE
from pynetdicom.presentation import build_context

from strokealert.dicom.tuning import requestor_handlers
from strokealert.errors import InputError

log = logging.getLogger(__name__)

MAX_CONTEXTS = 128  # the DICOM limit per association


@dataclass
class SendResult:
    """What happened to each file: sent, refused by the peer, or not DICOM."""

    sent: int = 0
    failed: list[tuple[Path, str]] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)


def dicom_files(paths: Iterable[Path]) -> list[Path]:
    """Every file under the given files/folders; a missing path is an :class:`InputError`."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(f"no such file or folder: {path}")
    return files


def _header(path: Path) -> tuple[str, str] | None:
    """(SOP class, transfer syntax) of a Part 10 file, None if it isn't one."""
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID"])
        return str(ds.SOPClassUID), str(ds.file_meta.TransferSyntaxUID)
    except (InvalidDicomError, AttributeError, OSError, ValueError, EOFError):
        return None


def send_files(paths: Sequence[Path], host: str, port: int, calling_aet: str = "STROKEALERT_SCU",
               called_aet: str = "STROKEALERT", timeout_s: float = 30.0) -> SendResult:
    """Send every DICOM file under ``paths`` over one association (more if > 128 contexts)."""
    result = SendResult()
    headers: list[tuple[Path, tuple[str, str]]] = []
    for path in dicom_files(paths):
        header = _header(path)
        if header is None:
            result.skipped.append(path)
        else:
            headers.append((path, header))
    pending = headers
    while pending:
        pairs: list[tuple[str, str]] = []
        batch: list[tuple[Path, tuple[str, str]]] = []
        rest: list[tuple[Path, tuple[str, str]]] = []
        for item in pending:
            if item[1] in pairs or len(pairs) < MAX_CONTEXTS:
                if item[1] not in pairs:
                    pairs.append(item[1])
                batch.append(item)
            else:
                rest.append(item)
        _send_batch(batch, pairs, host, port, calling_aet, called_aet, timeout_s, result)
        pending = rest
    return result


def _send_batch(batch: list[tuple[Path, tuple[str, str]]], pairs: list[tuple[str, str]],
                host: str, port: int, calling_aet: str, called_aet: str, timeout_s: float,
                result: SendResult) -> None:
    ae = AE(ae_title=calling_aet)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout_s
    contexts = [build_context(sop_class, [syntax]) for sop_class, syntax in pairs]
    assoc = ae.associate(host, port, contexts=contexts, ae_title=called_aet,
                         evt_handlers=requestor_handlers())
    if not assoc.is_established:
        reason = "association rejected" if assoc.is_rejected else "no association"
        result.failed.extend((path, reason) for path, _ in batch)
        return
    try:
        for path, _ in batch:
            if not assoc.is_established:
                result.failed.append((path, "association lost"))
                continue
            status = assoc.send_c_store(path)
            code = int(status.Status) if status and "Status" in status else None
            if code is None:
                result.failed.append((path, "no response"))
            elif code == 0 or 0xB000 <= code <= 0xBFFF:
                result.sent += 1
            else:
                result.failed.append((path, f"status 0x{code:04X}"))
    finally:
        if assoc.is_established:
            assoc.release()

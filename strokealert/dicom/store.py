"""The image store on disk: ``store/<study>/<series>/<sop>.dcm`` and ``quarantine/``.

Files hold the bytes exactly as received (Part 10 with the received transfer syntax); they are
written to a temporary name, fsynced and renamed (the folder fsynced too), so a reader never
sees half a file and a file answered with success is on the disk.
"""

from __future__ import annotations

import os
import re
import struct
import uuid
from datetime import UTC, datetime
from pathlib import Path

UID_PATTERN = re.compile(r"^[0-9]+(\.[0-9]+)*$")


def valid_uid(uid: str) -> bool:
    """A DICOM UID (digits and dots, ≤ 64 characters): safe as a file name."""
    return 0 < len(uid) <= 64 and UID_PATTERN.match(uid) is not None


def _meta_element(element: int, vr: bytes, value: bytes) -> bytes:
    """One explicit VR little endian group 0002 element (UL, UI, SH, or OB)."""
    if vr == b"OB":
        return struct.pack("<HH2s2xI", 0x0002, element, vr, len(value)) + value
    return struct.pack("<HH2sH", 0x0002, element, vr, len(value)) + value


def _even(value: str, pad: bytes) -> bytes:
    data = value.encode("latin-1")
    return data + pad if len(data) % 2 else data


def part10_header(sop_class_uid: str, sop_instance_uid: str, transfer_syntax_uid: str,
                  implementation_uid: str, implementation_version: str) -> bytes:
    """Preamble, ``DICM`` and the File Meta Information (PS3.10 §7.1) for a received dataset.

    Byte for byte what pydicom's ``write_file_meta_info`` writes for the same elements, built
    directly: followed by the dataset bytes as received it makes the Part 10 file.
    """
    body = b"".join((
        _meta_element(0x0001, b"OB", b"\x00\x01"),
        _meta_element(0x0002, b"UI", _even(sop_class_uid, b"\x00")),
        _meta_element(0x0003, b"UI", _even(sop_instance_uid, b"\x00")),
        _meta_element(0x0010, b"UI", _even(transfer_syntax_uid, b"\x00")),
        _meta_element(0x0012, b"UI", _even(implementation_uid, b"\x00")),
        _meta_element(0x0013, b"SH", _even(implementation_version, b" ")),
    ))
    group_length = _meta_element(0x0000, b"UL", struct.pack("<I", len(body)))
    return b"\x00" * 128 + b"DICM" + group_length + body


def fsync_dir(folder: Path) -> None:
    """Make a folder's entries (a rename, a new child) durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs_durable(folder: Path) -> None:
    """``mkdir -p`` that also fsyncs the parent of every folder it creates."""
    missing: list[Path] = []
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for child in reversed(missing):
        try:
            child.mkdir()
        except FileExistsError:  # another handler made it meanwhile
            continue
        fsync_dir(child.parent)


def write_atomic(path: Path, *chunks: bytes) -> None:
    """Write ``chunks`` one after the other to ``path`` via a temporary file in the same
    folder and a rename; the file and its folder are fsynced before this returns, so a
    success answered after it survives a power cut."""
    make_dirs_durable(path.parent)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
    with open(tmp, "wb") as handle:
        for chunk in chunks:
            handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


class ImageStore:
    """Paths of stored instances and quarantined objects under the data dir."""

    def __init__(self, store_dir: Path, quarantine_dir: Path) -> None:
        self.store_dir = store_dir
        self.quarantine_dir = quarantine_dir

    def instance_path(self, study_uid: str, series_uid: str, sop_uid: str) -> Path:
        """Where an instance lives; the UIDs must have passed :func:`valid_uid`."""
        return self.store_dir / study_uid / series_uid / f"{sop_uid}.dcm"

    def quarantine(self, data: bytes, reason: str) -> Path:
        """Keep a rejected object with a ``.reason.txt`` beside it; returns the object's path."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        path = self.quarantine_dir / f"{stamp}-{uuid.uuid4().hex[:8]}.dcm"
        write_atomic(path, data)
        path.with_suffix(".reason.txt").write_text(reason + "\n")
        return path

    def remove_instance(self, path: Path) -> None:
        """Delete a stored file and the series/study folders it leaves empty."""
        path.unlink(missing_ok=True)
        for folder in (path.parent, path.parent.parent):
            try:
                folder.rmdir()
            except OSError:
                break

"""The image store: a hand-built Part 10 header equals pydicom's; writes are fsynced."""

from __future__ import annotations

import os
from pathlib import Path

import pydicom
import pytest
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.uid import (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGLSLossless,
    generate_uid,
)
from pynetdicom import PYNETDICOM_IMPLEMENTATION_UID, PYNETDICOM_IMPLEMENTATION_VERSION
from pynetdicom.dsutils import create_file_meta, encode_file_meta
from pynetdicom.sop_class import CTImageStorage, SecondaryCaptureImageStorage

from strokealert.dicom.store import part10_header, write_atomic


@pytest.mark.parametrize(("sop_class", "sop_uid", "syntax"), [
    (CTImageStorage, "1.2.3.4", ImplicitVRLittleEndian),       # even-length UIDs
    (CTImageStorage, "1.2.3.45", ExplicitVRLittleEndian),      # odd: NUL-padded
    (SecondaryCaptureImageStorage, "1.2.826.0.1.3680043.8.498.1" + "0" * 30, JPEGLSLossless),
])
def test_part10_header_matches_pydicom(sop_class: str, sop_uid: str, syntax: str) -> None:
    expected = b"\x00" * 128 + b"DICM" + encode_file_meta(create_file_meta(
        sop_class_uid=sop_class, sop_instance_uid=sop_uid, transfer_syntax=syntax,
        implementation_uid=PYNETDICOM_IMPLEMENTATION_UID,
        implementation_version=PYNETDICOM_IMPLEMENTATION_VERSION))
    assert part10_header(sop_class, sop_uid, syntax, PYNETDICOM_IMPLEMENTATION_UID,
                         PYNETDICOM_IMPLEMENTATION_VERSION) == expected


def test_header_plus_received_bytes_is_a_readable_file(tmp_path: Path) -> None:
    ds = pydicom.Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, generate_uid()
    ds.PatientID, ds.Rows, ds.Columns, ds.BitsAllocated = "X", 2, 2, 16
    ds.PixelData = b"\x01\x00" * 4
    stream = DicomBytesIO()
    stream.is_little_endian, stream.is_implicit_VR = True, True
    write_dataset(stream, ds)
    path = tmp_path / "a.dcm"
    write_atomic(path, part10_header(ds.SOPClassUID, ds.SOPInstanceUID, ImplicitVRLittleEndian,
                                     "1.2.3", "TEST"), stream.getvalue())
    stored = pydicom.dcmread(path)
    assert stored.file_meta.TransferSyntaxUID == ImplicitVRLittleEndian
    assert stored.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert stored.file_meta.ImplementationVersionName == "TEST"
    assert stored.SOPInstanceUID == ds.SOPInstanceUID and stored.PixelData == ds.PixelData
    assert not list(tmp_path.glob(".*.part"))


def test_write_atomic_fsyncs_file_and_folders(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The file, the folder it is renamed in and each folder created for it reach the disk
    (fsync) before ``write_atomic`` returns: a success answered after it survives a crash."""
    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    path = tmp_path / "store" / "1.2" / "1.2.3" / "1.2.3.4.dcm"
    write_atomic(path, b"abc", b"def")
    assert path.read_bytes() == b"abcdef"
    temporary = [p for p in synced if p.endswith(".part")]
    assert len(temporary) == 1 and synced.index(temporary[0]) < synced.index(str(path.parent))
    for folder in (tmp_path, tmp_path / "store", tmp_path / "store" / "1.2", path.parent):
        assert str(folder) in synced

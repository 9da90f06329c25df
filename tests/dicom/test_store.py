"""The Part 10 header the receiver builds by hand is what pydicom would write."""

from __future__ import annotations

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
    (SecondaryCaptureImageStorage, generate_uid(), JPEGLSLossless),
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

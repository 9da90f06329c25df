"""The receiver's limits on what one peer may send: the dataset cap (``dicom_max_object_mib``)
and the max PDU it negotiates, with real pynetdicom and DCMTK senders."""

from __future__ import annotations

import time
from pathlib import Path

import pydicom
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE
from pynetdicom.sop_class import CTImageStorage

from .conftest import storescu, write_series


def test_dataset_over_the_cap_aborts_the_association(make_service, tmp_path: Path) -> None:
    running = make_service(dicom_max_object_mib=1)
    small = write_series(tmp_path / "small", 1)  # 64 × 64: far under 1 MiB
    large = pydicom.dcmread(small[0])
    large.SOPInstanceUID = large.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    large.Rows = large.Columns = 1024
    large.PixelData = bytes(1024 * 1024 * 2)  # 2 MiB
    ae = AE(ae_title="SCANNER")
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    assoc = ae.associate("127.0.0.1", running.port, ae_title="STROKEALERT")
    assert assoc.is_established
    assert assoc.send_c_store(small[0]).Status == 0
    answer = assoc.send_c_store(large)
    deadline = time.monotonic() + 10
    while not assoc.is_aborted and time.monotonic() < deadline:
        time.sleep(0.05)
    assert assoc.is_aborted and not answer
    assert storescu(running.port, *small).returncode == 0  # the receiver goes on


def test_negotiated_max_pdu_respected_by_senders(make_service, tmp_path: Path) -> None:
    running = make_service(dicom_max_pdu=16384)
    paths = write_series(tmp_path / "in", 3)
    result = storescu(running.port, *paths, options=("-pdu", "131072"))
    assert result.returncode == 0, result.stderr
    ae = AE(ae_title="SCANNER")
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    assoc = ae.associate("127.0.0.1", running.port, ae_title="STROKEALERT")
    assert assoc.acceptor.maximum_length == 16384
    assert [assoc.send_c_store(path).Status for path in paths] == [0, 0, 0]
    assoc.release()

"""The associations strokealert requests (``strokealert send``, the push to the PACS): TCP_NODELAY
(with Nagle's algorithm each data set PDU waited for the receiver's delayed ACK of the command PDU
before it, about 40 ms an image; ``bench/send.py``), and a reactor that never takes the response
a ``send_c_store`` waits for (``dicom/tuning.py``)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pynetdicom import AE
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.sop_class import CTImageStorage

from strokealert.demo import wait_for_port
from strokealert.dicom.sender import send_files
from strokealert.dicom.tuning import requestor_handlers
from strokealert.phantoms import series as syn


@pytest.fixture
def storescp(tmp_path: Path, free_port: int) -> Iterator[int]:
    """DCMTK ``storescp`` (no TCP_NODELAY of its own) on ``free_port``."""
    receiver = subprocess.Popen(["storescp", "-od", str(tmp_path), "-aet", "STORESCP",
                                 str(free_port)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    wait_for_port(free_port, 30)
    yield free_port
    receiver.terminate()
    receiver.wait(timeout=30)


def _requestor(port: int, handlers: list, wait_s: float) -> tuple[int, bool]:
    """A requestor's TCP_NODELAY, and whether a C-STORE response put on its DIMSE queue while
    no ``send_c_store`` waits is still there after ``wait_s`` (or as soon as it is gone) for
    the next one to take: its own reactor, which polls the queue every millisecond, must not
    take it."""
    ae = AE(ae_title="STROKEALERT")
    ae.add_requested_context(CTImageStorage)
    assoc = ae.associate("127.0.0.1", port, ae_title="STORESCP", evt_handlers=handlers)
    assert assoc.is_established
    try:
        no_delay = assoc.dul.socket.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        response = C_STORE()
        response.MessageIDBeingRespondedTo = 1
        response.Status = 0x0000
        assoc.dimse.msg_queue.put((1, response))
        deadline = time.monotonic() + wait_s
        while assoc.dimse.msg_queue.qsize() and time.monotonic() < deadline:
            time.sleep(0.01)
        kept = assoc.dimse.msg_queue.qsize() == 1
        if kept:
            assert assoc.dimse.get_msg(block=True) == (1, response)
        return int(no_delay), kept
    finally:
        assoc.release()


def test_requestor_sends_without_delay_and_leaves_responses_to_the_waiting_call(
        storescp: int, tmp_path: Path) -> None:
    # pynetdicom's own requestor: Nagle on, and its reactor takes the response (and drops it as
    # "unexpected"): the send_c_store it was for waits out its DIMSE timeout.
    assert _requestor(storescp, [], wait_s=5.0) == (0, False)
    no_delay, kept = _requestor(storescp, requestor_handlers(), wait_s=0.3)
    assert no_delay != 0 and kept
    folder = tmp_path / "series"
    syn.write_volume(np.zeros((3, 32, 32)), folder, study=syn.StudyInfo(),
                     series=syn.SeriesInfo(description="Head"), spacing_mm=(5.0, 0.5, 0.5))
    result = send_files([folder], "127.0.0.1", storescp, called_aet="STORESCP")
    assert result.sent == 3 and not result.failed

"""The C-STORE responses the receiver encodes itself are pynetdicom's, byte for byte."""

from __future__ import annotations

import pytest
from pynetdicom.dimse_messages import C_STORE_RSP
from pynetdicom.dimse_primitives import C_ECHO, C_STORE
from pynetdicom.sop_class import CTImageStorage, SecondaryCaptureImageStorage

from strokealert.dicom.tuning import store_response


def _response(message_id: int, sop_class: str, sop_uid: str, status: int) -> C_STORE:
    rsp = C_STORE()
    rsp.MessageIDBeingRespondedTo = message_id
    rsp.AffectedSOPClassUID, rsp.AffectedSOPInstanceUID = sop_class, sop_uid
    rsp.Status = status
    return rsp


@pytest.mark.parametrize(("message_id", "sop_class", "sop_uid", "status"), [
    (1, CTImageStorage, "1.2.3.4", 0x0000),                        # even-length UIDs
    (65535, CTImageStorage, "1.2.3.45.6", 0xC212),                 # odd: NUL-padded
    (300, SecondaryCaptureImageStorage, "1.2.826.0.1.3680043.8.498.1", 0xA900),
])
def test_store_response_matches_pynetdicom(message_id: int, sop_class: str, sop_uid: str,
                                           status: int) -> None:
    rsp = _response(message_id, sop_class, sop_uid, status)
    message = C_STORE_RSP()
    message.primitive_to_message(rsp)
    [expected] = list(message.encode_msg(5, 16384))
    pdata = store_response(rsp, 5)
    assert pdata is not None
    assert [list(item) for item in pdata.presentation_data_value_list] \
        == [list(item) for item in expected.presentation_data_value_list]


def test_other_messages_left_to_pynetdicom() -> None:
    with_comment = _response(1, CTImageStorage, "1.2.3", 0xC211)
    with_comment.ErrorComment = "handler failed"
    request = C_STORE()
    request.MessageID = 1
    assert store_response(with_comment, 1) is None
    assert store_response(request, 1) is None
    assert store_response(C_ECHO(), 1) is None

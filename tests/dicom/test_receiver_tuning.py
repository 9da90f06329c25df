"""The receiver leans on pynetdicom internals in two places: ``dicom/tuning.py`` (throughput
patches) and ``dicom/transport.py`` (the guarded socket swapped in for the acceptor's, which
relies on how the DUL reads a PDU); the requestors on one (``tuning.tune_requestor``: the
association reactor's polling ``get_msg`` and ``send_c_store``'s blocking one). All hold only
for the release they were written for; these fail when pynetdicom is upgraded or that code
changes, so that the patches are checked and measured again (``bench/ingest.py``,
``bench/send.py``) before they are trusted."""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from typing import Any

import pynetdicom
from pynetdicom.association import Association
from pynetdicom.dimse import DIMSEServiceProvider
from pynetdicom.dul import DULServiceProvider
from pynetdicom.transport import AssociationSocket, RequestHandler

from strokealert.dicom.tuning import PYNETDICOM_VERSION

# sha256 (first 16 hex digits) of the pynetdicom code replaced or relied on, in 3.0.4.
PATCHED: dict[str, tuple[Callable[..., Any], str]] = {
    "DIMSEServiceProvider.get_msg": (DIMSEServiceProvider.get_msg, "890e3e04283f5aeb"),
    "DULServiceProvider.__init__": (DULServiceProvider.__init__, "c82dafa9438ddf70"),
    "DULServiceProvider.run_reactor": (DULServiceProvider.run_reactor, "e3a10eb3a0931e48"),
    "DULServiceProvider._read_pdu_data": (DULServiceProvider._read_pdu_data,
                                          "19f2d4e38c13c835"),
    "AssociationSocket.ready": (AssociationSocket.ready.fget, "3eb58e3d39dc076d"),
    "AssociationSocket.recv": (AssociationSocket.recv, "6bc20a33b1b7cfe7"),
    "RequestHandler.handle": (RequestHandler.handle, "034823fb4df3a874"),
    "RequestHandler._create_association": (RequestHandler._create_association,
                                           "05c8d12b79863cdb"),
    "Association._run_reactor": (Association._run_reactor, "f28838c5559e462a"),
    "Association.send_c_store": (Association.send_c_store, "fa5a8127f349f8e7"),
}


def test_installed_pynetdicom_is_the_one_the_patches_were_written_for() -> None:
    assert pynetdicom.__version__.startswith(f"{PYNETDICOM_VERSION}."), pynetdicom.__version__


def test_patched_pynetdicom_code_unchanged() -> None:
    changed = [name for name, (function, digest) in PATCHED.items()
               if hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16] != digest]
    assert not changed, f"pynetdicom changed under the receiver's patches: {changed}"

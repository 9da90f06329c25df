"""C-STORE result objects to the configured PACS, with retries; never raises for a PACS problem.

Each dataset gets its own outcome (status or the reason it was not stored). Whatever was not
stored (no association, refused, timed out) is tried again, up to ``pacs_attempts`` tries with
a doubling pause; objects already stored are not sent again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE
from pynetdicom.association import Association
from pynetdicom.presentation import PresentationContext, build_context

from strokealert.config import Settings
from strokealert.dicom.tuning import requestor_handlers

log = logging.getLogger(__name__)

SUCCESS = 0x0000
WARNING_STATUSES = {0xB000, 0xB006, 0xB007}


@dataclass
class ObjectResult:
    """Outcome for one dataset: ``status`` is the DIMSE status, None when never answered."""

    sop_class_uid: str
    sop_instance_uid: str
    status: int | None = None
    error: str | None = None

    @property
    def stored(self) -> bool:
        return self.status == SUCCESS or self.status in WARNING_STATUSES


@dataclass
class SendReport:
    """Everything that happened sending one batch of result objects."""

    destination: str
    enabled: bool = True
    attempts: int = 0
    objects: list[ObjectResult] = field(default_factory=list)

    @property
    def stored(self) -> list[ObjectResult]:
        return [o for o in self.objects if o.stored]

    @property
    def failed(self) -> list[ObjectResult]:
        return [o for o in self.objects if not o.stored]

    @property
    def ok(self) -> bool:
        """True when every object was stored (or sending is disabled)."""
        return not self.enabled or not self.failed

    def summary(self) -> str:
        """One line without PHI, e.g. ``3/3 stored at PACS@10.0.0.5:104``."""
        if not self.enabled:
            return "PACS export disabled"
        text = f"{len(self.stored)}/{len(self.objects)} stored at {self.destination}"
        reasons = sorted({o.error or f"status 0x{o.status:04X}" for o in self.failed
                          if o.error or o.status is not None})
        return f"{text} ({'; '.join(reasons)})" if reasons else text


def _contexts(datasets: Sequence[Dataset]) -> list[PresentationContext]:
    """One context per SOP class: the dataset's own transfer syntax, then the uncompressed ones."""
    pairs: dict[str, list[str]] = {}
    for ds in datasets:
        syntaxes = pairs.setdefault(str(ds.SOPClassUID), [])
        own = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        for syntax in (own, ExplicitVRLittleEndian, ImplicitVRLittleEndian):
            if syntax and str(syntax) not in syntaxes:
                syntaxes.append(str(syntax))
    return [build_context(sop_class, syntaxes) for sop_class, syntaxes in pairs.items()]


def send_datasets(
    datasets: Sequence[Dataset], host: str, port: int, called_aet: str, *,
    calling_aet: str = "STROKEALERT", attempts: int = 3, retry_wait_s: float = 2.0,
    timeout_s: float = 30.0,
) -> SendReport:
    """C-STORE ``datasets`` to ``called_aet`` at ``host:port``; see the module doc."""
    report = SendReport(destination=f"{called_aet}@{host}:{port}")
    report.objects = [ObjectResult(str(ds.SOPClassUID), str(ds.SOPInstanceUID))
                      for ds in datasets]
    if not datasets:
        return report
    ae = AE(ae_title=calling_aet)
    ae.requested_contexts = _contexts(datasets)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout_s
    ae.connection_timeout = timeout_s
    wait = retry_wait_s
    for attempt in range(1, max(1, attempts) + 1):
        report.attempts = attempt
        pending = [(ds, res) for ds, res in zip(datasets, report.objects, strict=True)
                   if not res.stored]
        assoc = ae.associate(host, port, ae_title=called_aet,
                             evt_handlers=requestor_handlers())
        if not assoc.is_established:
            reason = "association rejected" if assoc.is_rejected else "no association"
            for _, result in pending:
                result.error = f"{reason} (attempt {attempt})"
            log.warning("PACS %s: %s, attempt %d of %d",
                        report.destination, reason, attempt, attempts)
        else:
            try:
                for ds, result in pending:
                    _store_one(assoc, ds, result)
            finally:
                if assoc.is_established:
                    assoc.release()
        if all(res.stored for res in report.objects):
            break
        if attempt < attempts:
            time.sleep(wait)
            wait *= 2
    log.info("results to PACS: %s", report.summary())
    return report


def _store_one(assoc: Association, ds: Dataset, result: ObjectResult) -> None:
    """C-STORE one dataset and record the status (or why there is none) in ``result``."""
    if not assoc.is_established:
        result.error = "association lost"
        return
    try:
        answer = assoc.send_c_store(ds)
    except (ValueError, RuntimeError, AttributeError) as exc:
        result.status, result.error = None, f"not sent: {exc}"
        return
    if "Status" in answer:
        result.status = int(answer.Status)
        result.error = None if result.stored else f"status 0x{result.status:04X}"
    else:
        result.error = "no answer (timeout or aborted)"


def send_to_pacs(datasets: Sequence[Dataset], settings: Settings) -> SendReport:
    """Send the result objects to the PACS of ``settings`` (``pacs_*``); never raises.

    With ``pacs_enabled`` false nothing is sent and the report says so (``ok`` is True).
    """
    destination = f"{settings.pacs_ae_title}@{settings.pacs_host}:{settings.pacs_port}"
    if not settings.pacs_enabled:
        return SendReport(destination=destination, enabled=False)
    try:
        return send_datasets(
            datasets, settings.pacs_host, settings.pacs_port, settings.pacs_ae_title,
            calling_aet=settings.dicom_ae_title, attempts=settings.pacs_attempts,
            retry_wait_s=settings.pacs_retry_wait_s, timeout_s=settings.pacs_timeout_s)
    except OSError as exc:  # e.g. an unresolvable host name
        report = SendReport(destination=destination, attempts=1, objects=[
            ObjectResult(str(ds.SOPClassUID), str(ds.SOPInstanceUID), error=f"network: {exc}")
            for ds in datasets])
        log.warning("results to PACS: %s", report.summary())
        return report

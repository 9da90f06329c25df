"""What the receiver hands the indexer, and what the indexer reports: plain records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pydicom.dataset import Dataset

from strokealert.dicom.header import Description


@dataclass
class InstanceRecord:
    """A stored instance waiting to be indexed.

    ``chunks`` (the file's bytes, in the pieces they were written in) are hashed, then
    dropped; without them the file at ``path`` is hashed. ``dataset`` (the received header)
    is described, then dropped; without it the stored file's header is read. ``duplicate``
    marks a resend that the ``discard`` policy did not store again: it is indexed only when
    the index lacks its SOP Instance UID.
    """

    study_uid: str
    series_uid: str
    sop_uid: str
    sop_class_uid: str
    transfer_syntax_uid: str
    dataset: Dataset | None
    calling_aet: str | None
    path: str
    size_bytes: int
    chunks: tuple[bytes, ...] | None
    received_at: datetime
    sha256: str | None = None  # computed once by the indexer (then ``chunks`` is dropped)
    description: Description | None = None  # likewise, from ``dataset``
    duplicate: bool = False


@dataclass
class QuarantineRecord:
    """A rejected object, already moved to ``quarantine/``."""

    path: str
    reason: str
    calling_aet: str | None
    study_uid: str | None
    series_uid: str | None
    sop_uid: str | None
    received_at: datetime


Record = InstanceRecord | QuarantineRecord


@dataclass(frozen=True)
class Completion:
    """A completion as written to ``completion_events`` (``series_uid`` None for a study)."""

    event_id: int
    level: str  # "series" | "study"
    study_uid: str
    series_uid: str | None
    reason: str  # "count" | "quiet"
    instance_count: int
    kind: str | None  # series kind (ctp/cta/ncct/other); None for a study
    created_at: datetime


CompletionCallback = Callable[[Completion], None]

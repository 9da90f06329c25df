"""The index journal: records the database could not take yet, kept on the local disk.

While the database is unreachable the indexer appends each batch here (JSON lines, one
``write`` and one ``fsync`` per batch) instead of holding it in memory; when the database
answers again, and at every start, the journal is replayed in chunks of bounded size and
then removed. Indexing is idempotent on the SOP Instance UID, so replaying a record twice
(a crash during replay) indexes it once. A torn last line (a crash during an append) is
skipped: its image is still in the store, and reconciliation indexes it from the file.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from strokealert.dicom.records import InstanceRecord, QuarantineRecord, Record
from strokealert.dicom.store import fsync_dir, make_dirs_durable

log = logging.getLogger(__name__)

_INSTANCE_FIELDS = ("study_uid", "series_uid", "sop_uid", "sop_class_uid", "transfer_syntax_uid",
                    "calling_aet", "path", "size_bytes", "sha256", "duplicate")


def _encode(record: Record) -> dict[str, Any]:
    if isinstance(record, QuarantineRecord):
        fields = asdict(record)
        fields.update(type="quarantine", received_at=record.received_at.isoformat())
        return fields
    fields = {name: getattr(record, name) for name in _INSTANCE_FIELDS}
    fields.update(type="instance", received_at=record.received_at.isoformat())
    return fields


def _decode(fields: dict[str, Any]) -> Record:
    kind = fields.pop("type")
    fields["received_at"] = datetime.fromisoformat(fields["received_at"])
    if kind == "quarantine":
        return QuarantineRecord(**fields)
    return InstanceRecord(dataset=None, chunks=None, **fields)


class Journal:
    """An append-only, fsynced file of records (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def pending(self) -> bool:
        """True while records wait in the journal."""
        return self.path.exists() and self.path.stat().st_size > 0

    def append(self, records: list[Record]) -> None:
        """Append ``records`` durably (instances must be hashed already)."""
        data = "".join(json.dumps(_encode(r)) + "\n" for r in records).encode()
        created = not self.path.exists()
        make_dirs_durable(self.path.parent)
        with open(self.path, "ab") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if created:
            fsync_dir(self.path.parent)

    def chunks(self, size: int) -> Iterator[list[Record]]:
        """The journal's records, ``size`` at a time (memory bounded by one chunk)."""
        if not self.path.exists():
            return
        chunk: list[Record] = []
        with open(self.path, "rb") as handle:
            for number, line in enumerate(handle, 1):
                try:
                    chunk.append(_decode(json.loads(line)))
                except (ValueError, KeyError, TypeError) as exc:
                    log.warning("index journal line %d unreadable (%s): skipped; "
                                "reconciliation indexes its image from the store", number, exc)
                    continue
                if len(chunk) >= size:
                    yield chunk
                    chunk = []
        if chunk:
            yield chunk

    def clear(self) -> None:
        """Remove the journal once every record in it is indexed."""
        self.path.unlink(missing_ok=True)
        fsync_dir(self.path.parent)

"""ORM models of the service, one module per area; importing this registers them all."""

from __future__ import annotations

from sqlalchemy import MetaData

from strokealert.db import Base
from strokealert.db.models import ingest  # noqa: F401  (registers tables)


def all_metadata() -> list[MetaData]:
    """Every MetaData the migrations cover: the service's and the notifications library's."""
    return [Base.metadata]

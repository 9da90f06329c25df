"""ORM models of the service, one module per area; importing this registers them all."""

from __future__ import annotations

from importlib import import_module

from sqlalchemy import MetaData

from strokealert.db import Base

# One module per area under strokealert.db.models; importing each registers its tables.
MODEL_MODULES = (
    "ingest",
    "pipeline",
    "cases",
    "users",
    "audit",
    "hl7",
    "monitoring",
)

for _name in MODEL_MODULES:
    import_module(f"strokealert.db.models.{_name}")


def all_metadata() -> list[MetaData]:
    """Every MetaData the migrations cover: the service's and the notifications library's."""
    import notifications.models  # noqa: F401  (registers the notify_* tables)
    from notifications.schema import metadata as notifications_metadata

    return [Base.metadata, notifications_metadata]

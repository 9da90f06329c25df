"""What has arrived: studies and their series with counts and completion (UIDs, no PHI)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from strokealert.db.models.ingest import Series, Study


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def list_studies(factory: sessionmaker[Session]) -> list[dict[str, Any]]:
    """Every study, newest first, with its series (kind, images, expected, complete)."""
    with factory() as session:
        studies = session.scalars(select(Study).options(selectinload(Study.series))
                                  .order_by(Study.last_received_at.desc()))
        return [{
            "study_instance_uid": study.study_instance_uid,
            "complete": study.completed_at is not None,
            "last_received_at": _iso(study.last_received_at),
            "series": [_series(s) for s in study.series],
        } for study in studies]


def _series(series: Series) -> dict[str, Any]:
    return {
        "series_instance_uid": series.series_instance_uid,
        "series_number": series.series_number,
        "kind": series.kind,
        "images": series.instance_count,
        "expected": series.expected_count,
        "complete": series.completed_at is not None,
        "completion_reason": series.completion_reason,
    }

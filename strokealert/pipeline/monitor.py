"""After the alert is out: fingerprint the analysed series and re-check the monitoring alarms
(:mod:`strokealert.monitoring`). Called by the job once its case, alert and PACS results are
written, so nothing here delays the clinical alert; a failure here is logged, never raised."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from notifications.engine import Notifier
from strokealert import alerting
from strokealert.config import Settings
from strokealert.db.models.cases import Case
from strokealert.monitoring import alarms, fingerprint
from strokealert.monitoring.settings import MonitoringConfig

log = logging.getLogger(__name__)


def admin_notifier(settings: Settings, factory: sessionmaker[Session]) -> Notifier:
    """The alerting engine paging along the monitoring's admin policy, without the stroke
    team's webhook."""
    return dataclasses.replace(alerting.build_notifier(settings, factory),
                               policy=MonitoringConfig.from_settings(settings).admin_policy,
                               webhook_url=None)


def check_alarms(session: Session, settings: Settings, factory: sessionmaker[Session],
                 analysis: str, now: datetime) -> list[Any]:
    """Open or close the monitoring episodes of ``analysis`` (no commit); episodes opened."""
    return alarms.evaluate(session, MonitoringConfig.from_settings(settings),
                           admin_notifier(settings, factory), now=now,
                           site=settings.site_name, public_url=settings.public_url,
                           analysis=analysis)


def after_alert(factory: sessionmaker[Session], settings: Settings, *, analysis: str,
                study_uid: str, series_uid: str, paths: Sequence[Path],
                block: dict[str, Any]) -> None:
    """Fingerprint ``series_uid`` (its stored ``paths``) with the model's call in ``block``,
    store it on the study's case and re-check the alarms."""
    try:
        with factory() as session:
            row = session.execute(select(Case.id, Case.age_years).where(
                Case.study_instance_uid == study_uid)).first()
        if row is None:
            return
        values = fingerprint.from_series(paths, row.age_years)
        now = alerting.now()
        with factory.begin() as session:
            fingerprint.record(session, case_id=row.id, analysis=analysis,
                               series_uid=series_uid, values=values,
                               call=fingerprint.call_of(analysis, block), analysed_at=now,
                               computed_at=now)
            check_alarms(session, settings, factory, analysis, now)
    except Exception:
        log.exception("monitoring: fingerprint of a %s analysis failed (the alert is out)",
                      analysis)

"""After the alert is out: fingerprint the analysed series and re-check the monitoring alarms
(:mod:`strokealert.monitoring`). Called by the job once its case, alert and PACS results are
written, so nothing here delays the clinical alert; a failure here is logged, never raised."""

from __future__ import annotations

import dataclasses
import logging
import threading
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
from strokealert.monitoring.overview import ANALYSES
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


class MonitoringSweep:
    """A ``strokealert serve`` component: every ``sweep_interval_s`` it re-checks the alarms of
    every analysis, so that confirmations that came from final reports over HL7 (the listener
    may not page) and the mere passing of time open or close episodes too. The database holds
    the episodes; this thread only wakes the check."""

    def __init__(self, settings: Settings, factory: sessionmaker[Session]) -> None:
        self.settings = settings
        self.factory = factory
        self.interval_s = MonitoringConfig.from_settings(settings).sweep_interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep(self) -> list[Any]:
        """Check every analysis once (each in its own transaction); the episodes opened."""
        opened: list[Any] = []
        for analysis in ANALYSES:
            try:
                with self.factory.begin() as session:
                    opened += check_alarms(session, self.settings, self.factory, analysis,
                                           alerting.now())
            except Exception:
                log.exception("monitoring: the periodic check of %s failed", analysis)
        return opened

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sweep()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="monitoring-sweep", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

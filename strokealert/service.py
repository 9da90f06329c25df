"""The service: every long-running component, started and stopped together.

Components are objects with ``start()`` and ``stop()``; they start in order and stop in
reverse order. ``Service.default`` builds the standard set; others add theirs with
:meth:`Service.add` (e.g. the pipeline's dispatcher, woken by the ingest's completion hooks).
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Protocol, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from strokealert import db
from strokealert.config import Settings
from strokealert.dicom.ingest import IngestComponent, IngestProcess

log = logging.getLogger(__name__)


class Component(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


C = TypeVar("C", bound=Component)


class Service:
    """A list of components sharing the settings and one database engine."""

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine or db.make_engine(settings.resolved_database_url)
        self.factory: sessionmaker[Session] = db.make_session_factory(self.engine)
        self.components: list[Component] = []
        self._started: list[Component] = []

    ingest: IngestComponent | IngestProcess  # set by :meth:`default` (or by tests)

    @classmethod
    def default(cls, settings: Settings) -> Service:
        """Everything ``strokealert serve`` runs, started in this order (stopped in reverse):
        alerting (outbox relay, embedded scheduler), the pipeline (executor warmed up, then its
        dispatcher), the web app, the monitoring's periodic alarm check, the HL7 MLLP listener when
        configured (``settings.hl7_listening``), the HL7 message retention purge, and last the
        DICOM ingest, so that images are accepted only once everything that handles them is
        ready. The ingest (receiver + indexer) runs in a child process of its own
        (:class:`IngestProcess`), started and stopped with the rest; its completions wake the
        pipeline here.
        """
        from strokealert.alerting import AlertingComponent
        from strokealert.api.server import WebComponent
        from strokealert.hl7.mllp import MllpListener
        from strokealert.hl7.receive import Receiver
        from strokealert.hl7.retention import Hl7Retention
        from strokealert.pipeline.component import PipelineComponent
        from strokealert.pipeline.monitor import MonitoringSweep

        service = cls(settings)
        service.add(AlertingComponent(settings, service.factory))
        pipeline = service.add(PipelineComponent(settings, service.factory))
        service.add(WebComponent(settings))  # its own pool (api.app.web_engine)
        service.add(MonitoringSweep(settings, service.factory))
        if settings.hl7_listening:
            service.add(MllpListener(settings, Receiver(settings, service.factory)))
        service.add(Hl7Retention(settings, service.factory))  # also messages of a past listener
        service.ingest = IngestProcess(settings)
        service.ingest.on_series_complete.append(pipeline.wake)
        service.ingest.on_study_complete.append(pipeline.wake)
        service.add(service.ingest)
        return service

    def add(self, component: C) -> C:
        self.components.append(component)
        return component

    def start(self) -> None:
        """Start every component in order; on failure stop those already started."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            for component in self.components:
                component.start()
                self._started.append(component)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the started components in reverse order (each at most once)."""
        while self._started:
            component = self._started.pop()
            try:
                component.stop()
            except Exception:
                log.exception("stopping %s failed", type(component).__name__)

    def run_until_signal(self) -> None:
        """Start, block until SIGINT, SIGTERM or SIGHUP, then stop (the ingest child
        process with the rest)."""
        stop_requested = threading.Event()

        def _request_stop(signum: int, _frame: object) -> None:
            log.info("signal %d received, stopping", signum)
            stop_requested.set()

        previous = {sig: signal.signal(sig, _request_stop)
                    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        try:
            self.start()
            while not stop_requested.wait(1.0):
                pass
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

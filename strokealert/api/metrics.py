"""Prometheus metrics read from the database at scrape time, so every process of the service
(receiver, workers, web) is counted: studies, analyses, alerts and their latency, deliveries,
failures. Only counts and durations: no identifiers, no PHI."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from notifications.models import OutboxMessage
from strokealert.config import Settings
from strokealert.db.models.cases import Case
from strokealert.db.models.ingest import Instance, QuarantinedFile, Study
from strokealert.db.models.pipeline import Job
from strokealert.monitoring.overview import gauges
from strokealert.monitoring.settings import MonitoringConfig
from strokealert.quality import plausibility

LATENCY_BUCKETS_S = (30, 60, 120, 180, 300, 600, 900, 1800)


MONITORING_GAUGES = {
    "ppv": ("strokealert_model_ppv", "PPV over the monitoring window (confirmed cases)"),
    "sensitivity": ("strokealert_model_sensitivity", "Sensitivity over the monitoring window"),
    "specificity": ("strokealert_model_specificity", "Specificity over the monitoring window"),
    "confirmed": ("strokealert_model_confirmed_cases", "Confirmed cases in the window"),
    "drift": ("strokealert_model_drift_score", "Input drift score (largest feature PSI)"),
    "episode_open": ("strokealert_monitoring_episode_open",
                     "1 while a monitoring episode (PPV floor, drift) is open"),
}


class DatabaseCollector(Collector):
    def __init__(self, factory: sessionmaker[Session],
                 monitoring: MonitoringConfig | None = None) -> None:
        self.factory = factory
        self.monitoring = monitoring or MonitoringConfig.model_validate({})

    def collect(self) -> Iterator[Metric]:
        with self.factory() as session:
            yield CounterMetricFamily("strokealert_studies_received", "Studies received",
                                      value=session.scalar(select(func.count(Study.id))) or 0)
            yield CounterMetricFamily("strokealert_instances_received", "Images stored",
                                      value=session.scalar(select(func.count(Instance.id))) or 0)
            yield CounterMetricFamily(
                "strokealert_instances_quarantined", "Objects refused into quarantine",
                value=session.scalar(select(func.count(QuarantinedFile.id))) or 0)
            jobs = GaugeMetricFamily("strokealert_analyses", "Analysis jobs by kind and status",
                                     labels=["kind", "status"])
            for kind, status, count in session.execute(
                    select(Job.kind, Job.status, func.count()).group_by(Job.kind, Job.status)):
                jobs.add_metric([kind, status], count)
            yield jobs
            cases = GaugeMetricFamily("strokealert_cases", "Cases by alert level",
                                      labels=["level"])
            for level, count in session.execute(
                    select(Case.alert_level, func.count()).group_by(Case.alert_level)):
                cases.add_metric([level or "pending"], count)
            yield cases
            deliveries = GaugeMetricFamily("strokealert_deliveries",
                                           "Notifications by channel and status",
                                           labels=["channel", "status"])
            for channel, status, count in session.execute(
                    select(OutboxMessage.channel, OutboxMessage.status, func.count())
                    .group_by(OutboxMessage.channel, OutboxMessage.status)):
                deliveries.add_metric([channel, status], count)
            yield deliveries
            yield _histogram(session, "strokealert_scan_to_alert_seconds",
                             "Acquisition (CTA/CTP) to alert", "scan")
            yield _histogram(session, "strokealert_alert_to_ack_seconds",
                             "Alert to first acknowledgement", "ack")
            yield from _monitoring(session, self.monitoring)


def _monitoring(session: Session, config: MonitoringConfig) -> Iterator[Metric]:
    """Model performance, drift and open episodes (strokealert.monitoring), per model."""
    figures = gauges(session, config, datetime.now(UTC))
    for key, (name, doc) in MONITORING_GAUGES.items():
        rows = figures[key]
        labels = sorted(rows[0][0]) if rows else (
            ["kind", "model"] if key == "episode_open" else ["analysis", "model"])
        metric = GaugeMetricFamily(name, doc, labels=labels)
        for values, value in rows:
            metric.add_metric([values[k] for k in labels], value)
        yield metric


def _histogram(session: Session, name: str, doc: str, kind: str) -> HistogramMetricFamily:
    """Scan-to-alert or alert-to-ack durations; implausible intervals (quality.plausibility:
    negative, over 24 h) are never exported as values."""
    if kind == "scan":
        rows = session.execute(select(Case.cta_at, Case.ctp_at, Case.alert_sent_at)
                               .where(Case.alert_sent_at.is_not(None)))
        pairs = [("scan", "alert_sent_at", min(t for t in r[:2] if t), r[2]) for r in rows
                 if r[0] or r[1]]
    else:
        rows = session.execute(select(Case.alert_sent_at, Case.first_ack_at)
                               .where(Case.alert_sent_at.is_not(None),
                                      Case.first_ack_at.is_not(None)))
        pairs = [("alert_sent_at", "first_ack_at", a, b) for a, b in rows]
    durations = [(end - start).total_seconds() for first, last, start, end in pairs
                 if plausibility.check(first, last, start, end) is None]
    buckets = [(str(b), sum(1 for d in durations if d <= b)) for b in LATENCY_BUCKETS_S]
    buckets.append(("+Inf", len(durations)))
    metric = HistogramMetricFamily(name, doc)
    metric.add_metric([], buckets, sum_value=sum(durations))
    return metric


def registry_for(factory: sessionmaker[Session],
                 settings: Settings | None = None) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    monitoring = MonitoringConfig.from_settings(settings) if settings is not None else None
    registry.register(DatabaseCollector(factory, monitoring))
    return registry

"""The ingest component of the service: receiver + indexer (completion, retention) together."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from strokealert.config import Settings
from strokealert.dicom.index import CompletionCallback, Indexer
from strokealert.dicom.receiver import Receiver, default_store


class IngestComponent:
    """Start/stop unit for :class:`strokealert.service.Service`.

    ``on_series_complete`` / ``on_study_complete`` take callbacks called (on the indexer
    thread, after the completion event is committed) with a :class:`Completion`.
    """

    def __init__(self, settings: Settings, factory: sessionmaker[Session]) -> None:
        self.settings = settings
        self.store = default_store(settings)
        self.indexer = Indexer(settings, factory, self.store)
        self.receiver = Receiver(settings, self.indexer, self.store)

    @property
    def on_series_complete(self) -> list[CompletionCallback]:
        return self.indexer.on_series_complete

    @property
    def on_study_complete(self) -> list[CompletionCallback]:
        return self.indexer.on_study_complete

    @property
    def port(self) -> int:
        return self.receiver.port

    def start(self) -> None:
        self.indexer.start()
        self.receiver.start()

    def stop(self) -> None:
        self.receiver.stop()
        self.indexer.stop()

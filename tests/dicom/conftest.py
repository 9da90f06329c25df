"""Helpers for the DICOM tests: small synthetic series, a running service, DCMTK senders."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from strokealert import db
from strokealert.config import Settings
from strokealert.dicom.index import Completion
from strokealert.dicom.ingest import IngestComponent
from strokealert.phantoms import series as syn
from strokealert.service import Service
from tests import dcmtk

SIZE = 64  # pixels per side: small phantoms keep the tests fast
CLI = [sys.executable, "-m", "strokealert"]


def write_series(out_dir: Path, n: int, *, study: syn.StudyInfo | None = None,
                 series: syn.SeriesInfo | None = None, with_count: bool = True,
                 seed: int = 0) -> list[Path]:
    """``n`` axial slices of noise around 40 HU; ImagesInAcquisition only if ``with_count``."""
    volume = np.random.default_rng(seed).normal(40, 20, (n, SIZE, SIZE))
    paths = syn.write_volume(volume, out_dir, study=study or syn.StudyInfo(),
                             series=series or syn.SeriesInfo(), spacing_mm=(5.0, 0.5, 0.5))
    if not with_count:
        import pydicom

        for path in paths:
            ds = pydicom.dcmread(path)
            del ds.ImagesInAcquisition
            ds.save_as(path)
    return paths


def storescu(port: int, *paths: Path, calling_aet: str = "SCANNER", options: tuple[str, ...] = (),
             ) -> subprocess.CompletedProcess[str]:
    """DCMTK storescu as the scanner (Nagle off, as a modern sender would)."""
    cmd = [dcmtk.storescu(), "-aet", calling_aet, "-aec", "STROKEALERT", *options, "+sd", "+r",
           "-nh", "127.0.0.1", str(port), *map(str, paths)]
    return subprocess.run(cmd, env={**os.environ, "TCP_NODELAY": "1"}, capture_output=True,
                          text=True, timeout=60)


def dataset_bytes(path: Path) -> bytes:
    """A Part 10 file's bytes after its File Meta Information (the dataset as encoded)."""
    data = path.read_bytes()
    assert data[128:132] == b"DICM" and data[132:138] == b"\x02\x00\x00\x00UL"
    return data[144 + int.from_bytes(data[140:144], "little"):]


def wait_for(predicate: Callable[[], object], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def run_cli(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    """Run the ``strokealert`` entry point in-process; returns its exit status."""
    from strokealert.cli import main

    monkeypatch.setattr(sys, "argv", ["strokealert", *args])
    try:
        main()
    except SystemExit as exited:
        return int(exited.code or 0)
    return 0


class RunningService:
    """A started :class:`Service` and the completions it reported."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.series_done: list[Completion] = []
        self.studies_done: list[Completion] = []
        service.ingest.on_series_complete.append(self.series_done.append)
        service.ingest.on_study_complete.append(self.studies_done.append)

    @property
    def port(self) -> int:
        return self.service.ingest.port

    @property
    def settings(self) -> Settings:
        return self.service.settings

    def settle(self) -> None:
        """Wait until everything received so far is indexed."""
        self.service.ingest.indexer.join()


def other_free_port() -> int:
    """A second free port (``free_port`` gives one per test)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def make_service(tmp_path: Path) -> Iterator[Callable[..., RunningService]]:
    """Start a service on a free port: ``make_service(database_url, **settings)``."""
    started: list[Service] = []

    def _make(database_url: str | None = None, **overrides: object) -> RunningService:
        values: dict[str, object] = {
            "data_dir": tmp_path / "var", "dicom_host": "127.0.0.1", "dicom_port": 0,
            "series_quiet_s": 1.0, "study_quiet_s": 1.5, "database_url": database_url}
        values.update(overrides)
        settings = Settings(**values)
        db.upgrade(settings.resolved_database_url)
        service = Service(settings)  # the ingest alone: these tests are about receiving
        service.ingest = service.add(IngestComponent(settings, service.factory))
        running = RunningService(service)
        service.start()
        started.append(service)
        return running

    yield _make
    for service in started:
        service.stop()
        service.engine.dispose()

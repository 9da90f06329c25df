"""Fixtures for the results tests: a real Orthanc as the PACS."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.orthanc import Orthanc, orthanc_available, running_orthanc
from tests.results.sources import StudySources, make_sources


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    """One Orthanc per test module (AE ``ORTHANC``), stopped afterwards."""
    if not orthanc_available():
        pytest.skip("Orthanc is not installed (Debian package 'orthanc')")
    with running_orthanc(tmp_path_factory.mktemp("orthanc")) as server:
        yield server


@pytest.fixture
def sources() -> StudySources:
    """Headers of a small synthetic stroke study: CTP (3 frames x 4 slices) and CTA (8 slices)."""
    return make_sources()

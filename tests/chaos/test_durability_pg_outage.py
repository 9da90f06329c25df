"""Issue 14: PostgreSQL down for 8 s in the middle of a study, against a real
``strokealert serve``: every image answered with success ends up in the index (through the
on-disk journal), the resend adds nothing twice, and the series complete with their full counts.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pydicom
import pytest

from strokealert.demo import free_port, running_service
from tests.dicom.conftest import storescu, syn, wait_for, write_series

from .durability import Index, PrivateCluster, serve_env, stored_sops

OUTAGE_S = 8.0


@pytest.fixture
def cluster() -> PrivateCluster:
    pg = PrivateCluster(free_port())
    pg.start()
    yield pg
    pg.remove()


def _study(folder: Path) -> tuple[list[Path], list[Path], list[Path]]:
    """Series A (150 images, count in the headers) cut in two parts, series B (90, none)."""
    study = syn.StudyInfo()
    series_a = write_series(folder / "a", 150, study=study,
                            series=syn.SeriesInfo(series_number=2, description="Head 5mm"))
    series_b = write_series(folder / "b", 90, study=study, with_count=False, seed=1,
                            series=syn.SeriesInfo(series_number=3, description="Head 5mm"))
    (folder / "a2").mkdir()
    second = [Path(shutil.move(p, folder / "a2" / p.name)) for p in series_a[50:]]
    return series_a[:50], second, series_b


def test_postgres_outage_loses_no_image(cluster: PrivateCluster, tmp_path: Path) -> None:
    first, second, series_b = _study(tmp_path / "in")
    sent = {pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID
            for p in [*first, *second, *series_b]}
    uid_a = pydicom.dcmread(first[0], stop_before_pixels=True).SeriesInstanceUID
    uid_b = pydicom.dcmread(series_b[0], stop_before_pixels=True).SeriesInstanceUID
    data_dir = tmp_path / "var"
    dicom_port = free_port()
    env = serve_env(data_dir, cluster.url, dicom_port, free_port(),
                    STROKEALERT_SERIES_QUIET_S="5", STROKEALERT_STUDY_QUIET_S="8")
    index = Index(cluster.url)
    try:
        with running_service(env, tmp_path / "serve.log"):
            assert storescu(dicom_port, tmp_path / "in" / "a").returncode == 0
            wait_for(lambda: index.count() == 50, timeout_s=30)

            cluster.stop()
            down_at = time.monotonic()
            for folder in ("a2", "b"):  # answered with success while the database is down
                result = storescu(dicom_port, tmp_path / "in" / folder)
                assert result.returncode == 0, result.stderr
            journal = data_dir / "journal" / "index.jsonl"
            wait_for(lambda: journal.exists() and len(journal.read_text().splitlines()) == 190,
                     timeout_s=30)
            time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
            cluster.start()

            wait_for(lambda: index.count() == len(sent), timeout_s=60)
            missing_after_outage = len(sent - index.sops())
            assert not journal.exists()

            for folder in ("a", "a2", "b"):  # the scanner resends the whole study
                assert storescu(dicom_port, tmp_path / "in" / folder).returncode == 0
            wait_for(lambda: len(index.completions("study")) == 1, timeout_s=60)
            missing_after_resend = len(sent - index.sops())
            assert stored_sops(data_dir / "store") == sent
            assert index.series_counts() == {uid_a: 150, uid_b: 90}
            assert sorted(index.completions("series")) == sorted(
                [(uid_a, "count", 150), (uid_b, "quiet", 90)])
            assert index.completions("study")[0][2] == 240
        log = (tmp_path / "serve.log").read_text()
        assert "kept in the index journal" in log and "index journal replayed" in log
        assert "dropping" not in log
    finally:
        index.close()
    print(f"\nPostgreSQL down {OUTAGE_S:.0f} s during a {len(sent)}-image study: "
          f"{missing_after_outage} missing from the index after the outage, "
          f"{missing_after_resend} after the resend")
    assert missing_after_outage == 0 and missing_after_resend == 0

"""Issue 14: ``kill -9`` of a real ``strokealert serve`` (the whole process group: receiver,
indexer, everything) in the middle of a series, restart, full resend: the images stored before
the kill are indexed at the restart (reconciliation with the store), none is counted twice and
the series completes once, by its count, with every image."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pydicom

from strokealert.demo import free_port, running_service
from tests import dcmtk
from tests.dicom.conftest import storescu, wait_for, write_series

from .durability import Index, serve_env, stored_sops

IMAGES = 400


def test_kill_9_mid_receive_then_restart_and_resend(postgres_url: str, tmp_path: Path) -> None:
    paths = write_series(tmp_path / "in", IMAGES)
    sent = {pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID for p in paths}
    series_uid = pydicom.dcmread(paths[0], stop_before_pixels=True).SeriesInstanceUID
    data_dir = tmp_path / "var"
    store = data_dir / "store"
    dicom_port = free_port()
    env = serve_env(data_dir, postgres_url, dicom_port, free_port(),
                    STROKEALERT_SERIES_QUIET_S="10", STROKEALERT_STUDY_QUIET_S="12")
    index = Index(postgres_url)
    try:
        with running_service(env, tmp_path / "serve-1.log") as service:
            sender = subprocess.Popen(
                [dcmtk.storescu(), "-aet", "SCANNER", "-aec", "STROKEALERT", "+sd", "+r", "-nh",
                 "127.0.0.1", str(dicom_port), str(tmp_path / "in")],
                env={**os.environ, "TCP_NODELAY": "1"}, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
            wait_for(lambda: len(stored_sops(store)) >= IMAGES // 3, timeout_s=60)
            os.killpg(service.pid, signal.SIGKILL)
            sender.wait(timeout=60)
        time.sleep(0.5)
        on_disk, indexed = stored_sops(store), index.sops()
        assert 0 < len(on_disk) < IMAGES and indexed <= on_disk

        with running_service(env, tmp_path / "serve-2.log"):
            # Before any resend, the restart indexes what the store holds, and the series
            # gets a full quiet time from the restart (not completed on a partial count).
            wait_for(lambda: index.sops() == on_disk, timeout_s=60)
            assert index.completions("series") == []
            result = storescu(dicom_port, tmp_path / "in")
            assert result.returncode == 0, result.stderr
            wait_for(lambda: index.completions("series") != [], timeout_s=60)
            missing = len(sent - index.sops())
            assert stored_sops(store) == sent
            assert index.series_counts() == {series_uid: IMAGES}
            assert index.completions("series") == [(series_uid, "count", IMAGES)]
            wait_for(lambda: len(index.completions("study")) == 1, timeout_s=60)
    finally:
        index.close()
    print(f"\nkill -9 with {len(on_disk)} of {IMAGES} images stored, {len(indexed)} indexed; "
          f"after restart + resend: {missing} missing, series completed at "
          f"{IMAGES}/{IMAGES} by count")
    assert missing == 0

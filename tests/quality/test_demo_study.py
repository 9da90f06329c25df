"""The demo's synthetic study is dated now (``strokealert phantom study --now``), so the demo
case's scan-to-alert is minutes, not the months since the phantom's fixed date."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydicom import dcmread


def acquired(path: Path) -> datetime:
    ds = dcmread(path, stop_before_pixels=True)
    assert ds.TimezoneOffsetFromUTC == "+0000"
    stamp = datetime.strptime(ds.AcquisitionDate + ds.AcquisitionTime.split(".")[0],
                              "%Y%m%d%H%M%S")
    return stamp.replace(tzinfo=UTC)


def test_phantom_study_now_ends_at_the_current_time(tmp_path: Path) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    subprocess.run([sys.executable, "-m", "strokealert", "phantom", "study", str(tmp_path),
                    "--small", "--now"], check=True, capture_output=True, timeout=300)
    after = datetime.now(UTC)
    cta = min(acquired(p) for p in (tmp_path / "cta").glob("*.dcm"))
    ctp_last = max(acquired(p) for p in (tmp_path / "ctp").glob("*.dcm"))
    assert before - timedelta(minutes=3, seconds=1) <= cta <= after - timedelta(minutes=3)
    assert before - timedelta(seconds=2) <= ctp_last <= after

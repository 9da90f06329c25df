"""A CT perfusion sent with images left out, through a real ``strokealert serve``.

Issue 14: a CTP analysed on 470 of 640 images was reported ``ok`` with a critical alert. Now a
series that lacks images waits for them (``STROKEALERT_INCOMPLETE_WAIT_S``); images that come
within the wait give one ordinary analysis; past it, the study is analysed for manual review and
the alert names what is missing; the images sent later give the full analysis and its alert.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pydicom

from strokealert.demo import CLI, WebhookInbox, free_port, running_service
from strokealert.phantoms.ctp import CtpPhantomOptions, write_ctp_phantom

WAIT_S = 30.0
SMALL_CTP = {"matrix": 96, "slices": 4, "frames": 24, "interval_s": 1.8, "noise_hu": 5.0}
LEFT_OUT_FRAMES = (10, 11, 12)


def split_ctp(folder: Path, seed: int) -> tuple[list[Path], list[Path], list[float]]:
    """A CTP phantom: (images to send first, images held back, z of the held back)."""
    write_ctp_phantom(folder, CtpPhantomOptions(**SMALL_CTP, seed=seed))
    first: list[Path] = []
    held: list[Path] = []
    positions = sorted({float(pydicom.dcmread(p, stop_before_pixels=True)
                              .ImagePositionPatient[2]) for p in folder.glob("*.dcm")})
    held_z = positions[1:3]
    for path in sorted(folder.glob("*.dcm")):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        late = (int(ds.TemporalPositionIndex) in LEFT_OUT_FRAMES
                and float(ds.ImagePositionPatient[2]) in held_z)
        (held if late else first).append(path)
    return first, held, held_z


def send(paths: list[Path], port: int) -> None:
    done = subprocess.run([*CLI, "send", *map(str, paths), "--host", "127.0.0.1",
                           "--port", str(port)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def alerts_for(inbox: WebhookInbox, case_id: str | None) -> list[dict]:
    return [a for a in inbox.alerts if case_id is None or a["case_id"] == case_id]


def test_a_study_lacking_images_waits_then_asks_for_review_then_completes(
        tmp_path: Path) -> None:
    late_first, late_rest, _ = split_ctp(tmp_path / "in-time", seed=5)
    gap_first, gap_rest, gap_z = split_ctp(tmp_path / "too-late", seed=6)
    assert len(gap_first) == 90 and len(gap_rest) == 6

    inbox = WebhookInbox("chaos-secret")
    dicom_port, http_port = free_port(), free_port()
    env = {
        "STROKEALERT_DATA_DIR": str(tmp_path / "data"),
        "STROKEALERT_DICOM_PORT": str(dicom_port),
        "STROKEALERT_HTTP_PORT": str(http_port),
        "STROKEALERT_PUBLIC_URL": f"http://127.0.0.1:{http_port}",
        "STROKEALERT_SECRET_KEY": "chaos-key",
        "STROKEALERT_WEBHOOK_URL": inbox.url,
        "STROKEALERT_WEBHOOK_SECRET": "chaos-secret",
        "STROKEALERT_SERIES_QUIET_S": "1",
        "STROKEALERT_STUDY_QUIET_S": "2",
        "STROKEALERT_INCOMPLETE_WAIT_S": str(WAIT_S),
        "STROKEALERT_WORKERS": "1",
    }
    try:
        with running_service(env, tmp_path / "serve.log"):
            started = time.monotonic()
            send(late_first, dicom_port)
            time.sleep(4.0)  # the series completes by quiet time; its job finds it lacking
            assert inbox.alerts == [], "an incomplete series was alerted before its wait"
            send(late_rest, dicom_port)  # within the wait: the series completes by count
            send(gap_first, dicom_port)  # this one's images never come within the wait

            first_two = inbox.wait(2, timeout_s=WAIT_S + 120)
            assert len(first_two) >= 2, (tmp_path / "serve.log").read_text()[-4000:]
            by_level = {a["level"]: a for a in first_two}
            assert set(by_level) == {"critical", "manual_review"}, first_two
            review = by_level["manual_review"]
            assert time.monotonic() - started >= WAIT_S
            zs = ", ".join(f"{z:.1f}" for z in gap_z)
            assert review["title"] == (f"CTP incomplete: 90 of 96 images; slices at z={zs} mm "
                                       f"missing in frames 10-12")
            assert review["kind"] == "new"
            in_time = by_level["critical"]  # the study completed within its wait
            assert in_time["kind"] == "new" and "Target mismatch" in in_time["title"]

            send(gap_rest, dicom_port)  # the missing images, after the wait
            everything = inbox.wait(3, timeout_s=120)
            assert len(everything) == 3, everything
            completed = everything[2]
            assert completed["case_id"] == review["case_id"]
            assert completed["level"] == "critical" and completed["kind"] == "escalation"
            assert "incomplete" not in completed["title"].lower()
            assert len(alerts_for(inbox, in_time["case_id"])) == 1
            assert in_time["case_id"] != review["case_id"]
    finally:
        inbox.close()

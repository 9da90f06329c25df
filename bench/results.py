"""Results-to-PACS benchmark on a full-size stroke study: building SC/SEG/SR and C-STORE.

    .venv/bin/python bench/results.py [--runs 5]

Source headers: CTP 512x512, 16 positions x 40 frames; CTA 512x512x320. Results: two key
images (1000x1600 and 512x1024 RGB), the SEG (core + Tmax>6 on 16 slices) and the SR.
Times ``build_results`` (and each builder), then sends the objects to a real Orthanc with
``send_to_pacs`` and, as the peer, the same files with DCMTK ``storescu``. Prints each run,
medians and the ratio ours/peer.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.orthanc

import numpy as np  # noqa: E402

from strokealert.config import Settings  # noqa: E402
from strokealert.phantoms import series as synthetic  # noqa: E402
from strokealert.results import build_results, send_to_pacs  # noqa: E402
from strokealert.results.common import first_time_frame  # noqa: E402
from strokealert.results.secondary_capture import build_secondary_capture  # noqa: E402
from strokealert.results.segmentation import build_segmentation  # noqa: E402
from tests import dcmtk  # noqa: E402
from tests.orthanc import running_orthanc  # noqa: E402


def headers(series: synthetic.SeriesInfo, study: synthetic.StudyInfo, positions: int,
            frames: int, step_mm: float) -> list:
    """Full-size CT headers (pixel data dropped after creation: builders do not read it)."""
    pixels = np.zeros((512, 512))
    out = []
    for t in range(frames):
        for z in range(positions):
            ds = synthetic.ct_slice(
                pixels, study=study, series=series, instance_number=t * positions + z + 1,
                position_mm=(-96.0, -96.0, step_mm * z), pixel_spacing_mm=(0.4, 0.4),
                slice_thickness_mm=step_mm,
                acquisition_datetime=study.study_datetime + timedelta(seconds=1.5 * t))
            del ds.PixelData
            out.append(ds)
    return out


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return time.perf_counter() - start, value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    study = synthetic.StudyInfo()
    ctp = headers(synthetic.SeriesInfo(series_number=4, contrast=True), study, 16, 40, 5.0)
    cta = headers(synthetic.SeriesInfo(series_number=3, contrast=True), study, 320, 1, 0.625)
    rng = np.random.default_rng(0)
    hypo = np.zeros((16, 512, 512), dtype=bool)
    hypo[4:12, 150:350, 260:420] = True
    core = hypo & (rng.random(hypo.shape) < 0.3)
    perfusion = {"status": "ok", "core_ml": 21.4, "hypoperfusion_ml": {"tmax6": 102.0},
                 "mismatch_ml": 80.6, "mismatch_ratio": 4.77, "hir": 0.35,
                 "defuse3_eligible": True}
    lvo = {"status": "ok", "probability": 0.97, "suspected": True, "side": "left",
           "site": "M1", "model": "bench@1"}
    key_images = {"perfusion_summary.png": rng.integers(0, 255, (1000, 1600, 3), np.uint8),
                  "lvo_mip.png": rng.integers(0, 255, (512, 1024, 3), np.uint8)}
    frame = first_time_frame(ctp)

    rows: dict[str, list[float]] = {k: [] for k in (
        "build_results (all)", "  secondary capture x1", "  segmentation", "send_to_pacs",
        "peer: storescu same files")}
    with tempfile.TemporaryDirectory() as tmp, running_orthanc(Path(tmp) / "orthanc") as pacs:
        settings = Settings(pacs_enabled=True, pacs_host="127.0.0.1", pacs_port=pacs.dicom_port,
                            pacs_ae_title=pacs.aet)
        for run in range(args.runs):
            seconds, objects = timed(build_results, ctp, cta, core_mask=core,
                                     hypoperfusion_mask=hypo, perfusion_block=perfusion,
                                     lvo_block=lvo, key_images=key_images)
            rows["build_results (all)"].append(seconds)
            rows["  secondary capture x1"].append(timed(
                build_secondary_capture, key_images["perfusion_summary.png"], frame,
                description="x", series_instance_uid=synthetic.new_uid(), series_number=1)[0])
            rows["  segmentation"].append(timed(
                build_segmentation, frame, core, hypo,
                series_instance_uid=synthetic.new_uid(), series_number=2)[0])
            seconds, report = timed(send_to_pacs, objects, settings)
            assert report.ok, report.summary()
            rows["send_to_pacs"].append(seconds)
            folder = Path(tmp) / f"run{run}"
            folder.mkdir()
            for i, ds in enumerate(objects):
                ds.save_as(folder / f"{i}.dcm", enforce_file_format=True)
            start = time.perf_counter()
            subprocess.run([dcmtk.storescu(), "-R", "-aec", pacs.aet, "+sd", "+r", "127.0.0.1",
                            str(pacs.dicom_port), str(folder)], check=True,
                           env={**os.environ, "TCP_NODELAY": "1"})
            rows["peer: storescu same files"].append(time.perf_counter() - start)
            sizes = sum(f.stat().st_size for f in folder.iterdir()) / 1e6
            print(f"run {run + 1}: " + ", ".join(f"{k.strip()} {v[-1]:.3f} s"
                                                 for k, v in rows.items()), flush=True)
    print(f"\n{len(objects)} objects, {sizes:.1f} MB per study "
          f"(SEG frames: {int(objects[2].NumberOfFrames)})")
    print(f"{'step (full stroke study)':<30} {'median s':>9} {'min s':>7} {'max s':>7}")
    for name, values in rows.items():
        print(f"{name:<30} {statistics.median(values):>9.3f} {min(values):>7.3f} "
              f"{max(values):>7.3f}")
    ratio = statistics.median(rows["send_to_pacs"]) / statistics.median(
        rows["peer: storescu same files"])
    print(f"ratio send_to_pacs/storescu: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

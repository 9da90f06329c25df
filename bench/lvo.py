"""LVO inference benchmark on a full-size CTA (512 × 512 × 320, 0.45 × 0.45 × 0.625 mm).

    .venv/bin/python bench/lvo.py [--repeats 5] [--threads 2] [--dicom]

Renders one synthetic head CTA with a left M1 occlusion, then times, ``--repeats`` times:
the peer (reducing the volume to 2 mm blocks, the memory-bound floor every approach pays) and
the whole ``analyze_volume`` (preprocessing, quality gate, asymmetry, CNN, Grad-CAM, CTA slab)
and the writing of the CTA slab. With ``--dicom`` it also writes the series and times reading
it back plus the full analysis.
Prints each run, the medians and the ratio full/peer. Target: median ≤ 5 s on 2 cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from strokealert.lvo import analyze_volume, load_model
from strokealert.lvo.preprocess import block_reduce, read_dicom_volume
from strokealert.phantoms.cta import FULL, draw_case, render, write_dicom


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dicom", action="store_true", help="also time DICOM reading")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    spec = dataclasses.replace(draw_case(7, FULL, lvo_site="M1", quality="good"), side="left",
                               spacing_mm=(0.625, 0.45, 0.45), neck=True)
    started = time.perf_counter()
    rendered = render(spec, matrix=512)
    volume = rendered.volume_hu
    if volume.shape[0] < 320:
        raise SystemExit(f"phantom has only {volume.shape[0]} slices")
    volume = volume[-320:]  # the head, vertex down: 320 slices
    print(f"phantom {volume.shape} rendered in {time.perf_counter() - started:.1f} s; "
          f"torch threads {args.threads}")
    model = load_model()
    rows: dict[str, list[float]] = {"peer: block_reduce to 2 mm": [],
                                    "analyze_volume (preprocess+CNN+Grad-CAM)": []}
    result = None
    for run in range(args.repeats):
        t = time.perf_counter()
        block_reduce(volume, rendered.spacing_mm)
        rows["peer: block_reduce to 2 mm"].append(time.perf_counter() - t)
        t = time.perf_counter()
        result = analyze_volume(volume, rendered.spacing_mm, model=model)
        rows["analyze_volume (preprocess+CNN+Grad-CAM)"].append(time.perf_counter() - t)
        assert result.slab is not None
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            result.slab.save(Path(tmp))
            rows.setdefault("save cta_slab.npz", []).append(time.perf_counter() - t)
        print(f"run {run + 1}: {result.timings_s}")
    if args.dicom:
        rows["DICOM read (320 files)"] = []
        rows["DICOM read + analyze_volume"] = []
        with tempfile.TemporaryDirectory() as tmp:
            skipped = rendered.volume_hu.shape[0] - volume.shape[0]
            ox, oy, oz = rendered.origin_mm
            cut = dataclasses.replace(rendered, volume_hu=volume,
                                      origin_mm=(ox, oy, oz + skipped * rendered.spacing_mm[0]))
            write_dicom(cut, Path(tmp))
            files = sorted((Path(tmp) / "dicom").glob("*.dcm"))
            for _ in range(args.repeats):
                t = time.perf_counter()
                vol, spacing = read_dicom_volume(files)
                read_s = time.perf_counter() - t
                analyze_volume(vol, spacing, model=model)
                rows["DICOM read (320 files)"].append(read_s)
                rows["DICOM read + analyze_volume"].append(time.perf_counter() - t)
    assert result is not None
    print(f"\nresult: suspected={result.suspected} side={result.side} site={result.site} "
          f"p={result.probability:.3f}")
    peer = statistics.median(rows["peer: block_reduce to 2 mm"])
    print(f"\n{'step (512x512x320 CTA)':<44} {'median s':>9} {'min s':>7} {'max s':>7} "
          f"{'x peer':>7}")
    for name, values in rows.items():
        med = statistics.median(values)
        print(f"{name:<44} {med:>9.3f} {min(values):>7.3f} {max(values):>7.3f} "
              f"{med / peer:>7.1f}")
    full = statistics.median(rows["analyze_volume (preprocess+CNN+Grad-CAM)"])
    print(f"\ntarget <= 5 s: {'met' if full <= 5.0 else 'NOT met'} ({full:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

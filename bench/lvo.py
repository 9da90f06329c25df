"""LVO inference benchmark on a full-size CTA (512 × 512 × 320 for the default family).

    .venv/bin/python bench/lvo.py [--family original] [--repeats 5] [--threads 2] [--dicom]

Renders one synthetic head CTA with a left M1 occlusion once and caches it under
``var/lvo-bench/`` (rendering at 512 takes minutes). The ``original`` family gives exactly
512 × 512 × 320 at 0.45 × 0.45 × 0.625 mm (head and upper neck); the other families
(``willis``, ``grown``, ``traced``) are rendered at 512 with their own slices and coverage.
Then times, ``--repeats`` times: the peer (one pass averaging the volume into 2 mm blocks, the
memory-bound floor every approach pays) and the whole public ``analyze_volume`` of the current
detector. With ``--dicom`` it also writes the series and times ``analyze_files`` on it
(reading the DICOM files, analysis, key images). Prints each run, the medians and the ratio
to the peer. Target (issue 17): median ≤ 5 s on this machine (2 cores).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from strokealert.lvo import analyze_files, analyze_volume, load_model
from strokealert.lvo.corpus import (
    FAMILIES,
    CorpusCase,
    case_path,
    load_case,
    render_case,
    save_case,
)
from strokealert.phantoms.cta_families import CaseLabel, CtaCase, write_case

CACHE = Path("var/lvo-bench")
SEED = 7
LABEL = CaseLabel("lvo", "M1", "left")
SLICES = 320


def render_full(family: str) -> CorpusCase:
    """The benchmark case of ``family`` at matrix 512 (original: exactly 320 slices)."""
    if family != "original":
        return render_case(family, SEED, LABEL, 512)
    from strokealert.phantoms.cta import FULL, draw_case, render

    spec = dataclasses.replace(draw_case(SEED, FULL, lvo_site="M1", quality="good"),
                               side="left", spacing_mm=(0.625, 0.45, 0.45), neck=True)
    rendered = render(spec, matrix=512)
    if rendered.volume_hu.shape[0] < SLICES:
        raise SystemExit(f"phantom has only {rendered.volume_hu.shape[0]} slices")
    skipped = rendered.volume_hu.shape[0] - SLICES  # keep the head, vertex down: 320 slices
    ox, oy, oz = rendered.origin_mm
    volume = np.clip(np.rint(rendered.volume_hu[skipped:]), -1024, 3071).astype(np.int16)
    return CorpusCase("original", SEED, LABEL, volume, rendered.spacing_mm,
                      {**spec.truth(), "kernel": "Hv40",
                       "origin_mm": [ox, oy, oz + skipped * rendered.spacing_mm[0]]})


def cached_case(family: str) -> CorpusCase:
    """The cached benchmark case, rendered (and saved) the first time."""
    path = case_path(CACHE, family, SEED)
    if path.exists():
        return load_case(path)
    started = time.perf_counter()
    case = render_full(family)
    save_case(case, CACHE, 512)
    print(f"rendered {family} at 512 in {time.perf_counter() - started:.0f} s, cached in {path}")
    return case


def peer(volume: np.ndarray, spacing_mm: tuple[float, float, float]) -> np.ndarray:
    """Mean over ~2 mm blocks (whole blocks only): one read of every voxel."""
    factors = [max(1, round(2.0 / s)) for s in spacing_mm]
    shape = [n // f for n, f in zip(volume.shape, factors, strict=True)]
    cropped = volume[:shape[0] * factors[0], :shape[1] * factors[1], :shape[2] * factors[2]]
    blocks = cropped.reshape(shape[0], factors[0], shape[1], factors[1], shape[2], factors[2])
    reduced: np.ndarray = blocks.mean(axis=(1, 3, 5), dtype=np.float32)
    return reduced


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=FAMILIES, default="original")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dicom", action="store_true", help="also time analyze_files on DICOM")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    case = cached_case(args.family)
    volume = case.volume_hu.astype(np.float32)
    print(f"{args.family} phantom {volume.shape} at {tuple(round(s, 3) for s in case.spacing_mm)}"
          f" mm; torch threads {args.threads}")
    model = load_model()
    peer_name, full_name = "peer: mean over 2 mm blocks", "analyze_volume (current detector)"
    rows: dict[str, list[float]] = {peer_name: [], full_name: []}
    result = None
    for run in range(args.repeats):
        t = time.perf_counter()
        peer(volume, case.spacing_mm)
        rows[peer_name].append(time.perf_counter() - t)
        t = time.perf_counter()
        result = analyze_volume(volume, case.spacing_mm, model=model)
        rows[full_name].append(time.perf_counter() - t)
        print(f"run {run + 1}: {result.timings_s}")
    if args.dicom:
        files_name = f"analyze_files ({volume.shape[0]} DICOM files + key images)"
        rows[files_name] = []
        with tempfile.TemporaryDirectory() as tmp:
            write_case(CtaCase(case.family, case.seed, case.label, case.volume_hu,
                               case.spacing_mm, case.details), Path(tmp) / "study")
            files = sorted((Path(tmp) / "study" / "dicom").glob("*.dcm"))
            for run in range(args.repeats):
                out = Path(tmp) / f"out{run}"
                out.mkdir()
                t = time.perf_counter()
                block = analyze_files(files, out)
                rows[files_name].append(time.perf_counter() - t)
                if block.get("status") != "ok":
                    raise SystemExit(f"analyze_files failed: {block.get('error')}")
    assert result is not None
    print(f"\nresult: suspected={result.suspected} side={result.side} site={result.site} "
          f"p={result.probability:.3f} manual_review={result.manual_review}")
    peer_s = statistics.median(rows[peer_name])
    shape = "x".join(str(n) for n in volume.shape[::-1])
    print(f"\n{'step (' + args.family + ' ' + shape + ' CTA)':<52} {'median s':>9} "
          f"{'min s':>7} {'max s':>7} {'x peer':>7}")
    for name, values in rows.items():
        med = statistics.median(values)
        print(f"{name:<52} {med:>9.3f} {min(values):>7.3f} {max(values):>7.3f} "
              f"{med / peer_s:>7.1f}")
    full = statistics.median(rows[full_name])
    print(f"\ntarget <= 5 s: {'met' if full <= 5.0 else 'NOT met'} ({full:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

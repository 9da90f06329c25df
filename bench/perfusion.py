"""Perfusion benchmark: tile-phantom accuracy per method, anatomical phantom, speed.

Run: .venv/bin/python bench/perfusion.py [--quick]
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

# This script is named like the package: keep its folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402

import perfusion  # noqa: E402
from perfusion import phantoms  # noqa: E402
from perfusion.config import METHODS, PerfusionConfig  # noqa: E402


def tile_table(noise_hu: float = 10.0) -> None:
    ph = phantoms.tile_phantom(noise_hu=noise_hu, tile_px=24)
    tile, m = 24, 8
    delays = np.array(ph.truth["delays_s"])
    cbv_t = np.array(ph.truth["cbv_values"])[None, :, None]
    mtt_t = np.array(ph.truth["mtt_values"])[None, None, :]
    print(f"tile phantom, {noise_hu:g} HU noise, exponential residue; MTT {list(mtt_t.ravel())}")
    for method in METHODS:
        a = perfusion.analyze_volume(ph.frames, ph.times, ph.spacing,
                                     PerfusionConfig(method=method, motion_correction=False))

        def med(key: str, a=a) -> np.ndarray:
            shape = (len(delays), cbv_t.size, mtt_t.size)
            out = np.empty(shape)
            for z, r, c in np.ndindex(*shape):
                out[z, r, c] = np.median(a.maps[key][z, r * tile + m:(r + 1) * tile - m,
                                                     c * tile + m:(c + 1) * tile - m])
            return out
        cbv = med("cbv") / cbv_t - 1
        cbf = med("cbf") / (60 * cbv_t / mtt_t) - 1
        tmax = med("tmax") - delays[:, None, None]
        by_delay = (cbf + 1).mean(axis=(1, 2))
        print(f"{method:9s} CBV err {100 * np.mean(cbv):+6.1f}% | CBF err by MTT "
              + " ".join(f"{100 * v:+5.0f}%" for v in cbf.mean(axis=(0, 1)))
              + f" | Tmax err {np.mean(tmax):+5.2f} s (median |err| {np.median(np.abs(tmax)):.2f})"
              + f" | CBF change over delay 0-4 s {100 * np.ptp(by_delay) / by_delay.mean():.1f}%")


def head_rows() -> None:
    print("anatomical phantom (128x128x16x40): truth vs measured")
    for label, kwargs in (("10 HU", {"noise_hu": 10.0}), ("20 HU", {"noise_hu": 20.0}),
                          ("10 HU+motion", {"noise_hu": 10.0, "motion": True})):
        ph = phantoms.head_phantom(**kwargs)
        start = time.perf_counter()
        try:
            a = perfusion.analyze_volume(ph.frames, ph.times, ph.spacing)
        except perfusion.PerfusionError as exc:
            print(f"  {label:13s} failed: {exc}")
            continue
        f = a.lesions
        t = ph.truth
        print(f"  {label:13s} core {f.core_ml:5.1f}/{t['core_ml']:5.1f} mL  "
              f"Tmax>6 {f.hypoperfusion_ml['tmax6']:6.1f}/{t['hypoperfusion_ml']['tmax6']:6.1f} mL"
              f"  side {f.side}/{t['side']}  DEFUSE3 {f.defuse3_eligible}/{t['defuse3_eligible']}"
              f"  {time.perf_counter() - start:.1f} s")


def speed(runs: int = 3) -> None:
    ph = phantoms.head_phantom(shape=(16, 512, 512), spacing=(5.0, 0.375, 0.375), noise_hu=10.0)
    frames, times, spacing = ph.frames, ph.times, ph.spacing
    del ph
    totals, stages = [], []
    for _ in range(runs):
        start = time.perf_counter()
        a = perfusion.analyze_volume(frames, times, spacing)
        totals.append(time.perf_counter() - start)
        stages.append(a.timings_s)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    median = {k: float(np.median([s[k] for s in stages])) for k in stages[0]}
    print(f"speed 512x512x16x40 (motion correction on): median {np.median(totals):.2f} s "
          f"of {runs} runs, peak RSS {peak_gb:.2f} GB (incl. the phantom itself)")
    print("  stages: " + ", ".join(f"{k} {v:.2f}s" for k, v in median.items()))


if __name__ == "__main__":
    tile_table()
    head_rows()
    speed(1 if "--quick" in sys.argv else 3)

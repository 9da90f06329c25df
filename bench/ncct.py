"""NCCT haemorrhage benchmark: sensitivity/specificity (truth ≥ 1 mL), volume error and kind
agreement on a labelled folder (see strokealert.ncct.dataset), and the time of one analysis of
a 512 × 512 × 40 NCCT.

    python bench/ncct.py --data DIR [--data DIR2 ...]   # folders with labels.csv
    python bench/ncct.py --write-synthetic fields:40 --out /tmp/ncct-fields   # make a folder
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from strokealert.dicom.volume import largest_series, read_volume
from strokealert.ncct.analyze import analyze_volume
from strokealert.ncct.dataset import read_labels, write_synthetic

MIN_ML = 1.0


def evaluate(data: Path) -> list[str]:
    """Table lines for one labelled folder."""
    tp = fn = tn = fp = 0
    vol_ok = vol_n = kind_hit = kind_n = 0
    errors: list[float] = []
    seconds: list[float] = []
    for case in read_labels(data):
        volume, spacing = read_volume(largest_series([case.folder], "NCCT"), "NCCT")
        started = time.perf_counter()
        result = analyze_volume(volume, spacing)
        seconds.append(time.perf_counter() - started)
        if not case.ich:
            tn, fp = tn + (not result.suspected), fp + result.suspected
            continue
        if case.volume_ml is not None and case.volume_ml < MIN_ML:
            continue
        tp, fn = tp + result.suspected, fn + (not result.suspected)
        if case.volume_ml is not None:
            err = abs(result.volume_ml - case.volume_ml)
            errors.append(err / case.volume_ml)
            vol_n += 1
            vol_ok += err <= max(2.0, 0.15 * case.volume_ml)
        for kind in case.kinds:
            kind_n += 1
            kind_hit += kind in result.kinds
    return [f"{data.name:>12} | sensitivity {tp}/{tp + fn} = {tp / max(tp + fn, 1):.2f} | "
            f"specificity {tn}/{tn + fp} = {tn / max(tn + fp, 1):.2f} | volume within 15 % or "
            f"2 mL {vol_ok}/{vol_n} (median error {100 * float(np.median(errors or [0])):.0f} %)"
            f" | true kinds reported {kind_hit}/{kind_n} | median analysis "
            f"{float(np.median(seconds or [0])):.2f} s"]


def time_512() -> str:
    """Seconds for one analysis of a 512 × 512 × 40 synthetic NCCT (geometric family)."""
    from strokealert.phantoms.ncct_families import NcctLabel, geometric

    case = geometric.render(1, NcctLabel(bleeds=("intraparenchymal",)), matrix=512)
    volume = case.volume_hu[-40:] if case.volume_hu.shape[0] >= 40 else case.volume_hu
    started = time.perf_counter()
    analyze_volume(volume, case.spacing_mm)
    return (f"analysis of {volume.shape[2]}x{volume.shape[1]}x{volume.shape[0]}: "
            f"{time.perf_counter() - started:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, action="append", default=[])
    parser.add_argument("--write-synthetic", help="family:count")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--no-timing", action="store_true")
    args = parser.parse_args()
    if args.write_synthetic:
        family, count = args.write_synthetic.split(":")
        args.data.append(write_synthetic(family, args.out, int(count)))
    for data in args.data:
        for line in evaluate(data):
            print(line, flush=True)
    if not args.no_timing:
        print(time_512())


if __name__ == "__main__":
    main()

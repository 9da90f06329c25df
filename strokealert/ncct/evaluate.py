"""Evaluation of the haemorrhage detector on a labelled folder (see
:mod:`strokealert.ncct.dataset`): sensitivity and specificity for truth volumes ≥ 1 mL, volume
error, true kinds reported, analysis time. Used by ``strokealert ncct evaluate`` and
``bench/ncct.py``."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from strokealert.dicom.volume import largest_series, read_volume
from strokealert.ncct.analyze import analyze_volume
from strokealert.ncct.dataset import read_labels

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

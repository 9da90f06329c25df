"""Evaluation of the haemorrhage detector on a labelled folder (see
:mod:`strokealert.ncct.dataset`): sensitivity and specificity for truth volumes ≥ 1 mL; where
the folder has voxel truth, how many of the detected bleeds overlap the true blood ("located":
a call made on something else, a mimic or an artefact, is a true positive by case but not
located); volume error, true kinds reported, analysis time; scans the analysis refuses
(:class:`~strokealert.errors.InputError`, manual review in service) count as not suspected;
scans analysed but flagged for manual review (an open skull ring, a series that stops below the
vertex) count by what was found, and how many were flagged is reported.
Used by ``strokealert ncct evaluate`` and ``bench/ncct.py``."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from strokealert.dicom.volume import largest_series, read_volume
from strokealert.errors import InputError
from strokealert.ncct.analyze import NcctAnalysis, analyze_volume
from strokealert.ncct.dataset import LabelledCase, read_labels, truth_mask

MIN_ML = 1.0


def _case_line(case: LabelledCase, result: NcctAnalysis | None, verdict: str) -> str:
    """One case: truth, what was found (or that the analysis refused the scan), the verdict."""
    kinds = "+".join(case.kinds) or "?"
    truth = ("no blood" if not case.ich else f"blood {kinds}" if case.volume_ml is None
             else f"blood {case.volume_ml:.1f} mL {kinds}")
    if result is None:
        found = "refused (manual review)"
    elif result.suspected:
        found = f"found {result.volume_ml:.1f} mL {'+'.join(result.kinds)}"
    else:
        found = "nothing found"
    if result is not None and result.manual_review:
        found += f" (manual review: {result.reason})"
    return f"  {case.case}: {truth}; {found}; {verdict}"


def evaluate(data: Path, per_case: bool = False) -> list[str]:
    """Table lines for one labelled folder; with ``per_case``, a line per case first (truth,
    what was found, TP/FN/TN/FP or "under 1 mL")."""
    tp = fn = tn = fp = 0
    vol_ok = vol_n = kind_hit = kind_n = 0
    errors: list[float] = []
    seconds: list[float] = []
    failed = flagged = located = located_n = 0
    cases: list[str] = []
    for case in read_labels(data):
        volume, spacing = read_volume(largest_series([case.folder], "NCCT"), "NCCT")
        started = time.perf_counter()
        try:
            result = analyze_volume(volume, spacing)
        except InputError:
            # In service such a scan goes to manual review; here it counts as not suspected.
            failed += 1
            result = None
        seconds.append(time.perf_counter() - started)
        flagged += result is not None and result.manual_review
        suspected = result is not None and result.suspected
        small = case.ich and case.volume_ml is not None and case.volume_ml < MIN_ML
        if per_case:
            verdict = ("under 1 mL" if small else ("TP" if suspected else "FN") if case.ich
                       else "FP" if suspected else "TN")
            cases.append(_case_line(case, result, verdict))
        if not case.ich:
            tn, fp = tn + (not suspected), fp + suspected
            continue
        if small:
            continue
        tp, fn = tp + suspected, fn + (not suspected)
        truth = truth_mask(case)
        if truth is not None:
            located_n += 1
            located += bool(suspected and result is not None
                            and result.blood_mask.shape == truth.shape
                            and np.any((result.blood_mask > 0) & (truth > 0)))
        if case.volume_ml is not None:
            err = abs((result.volume_ml if result is not None else 0.0) - case.volume_ml)
            errors.append(err / case.volume_ml)
            vol_n += 1
            vol_ok += err <= max(2.0, 0.15 * case.volume_ml)
        for kind in case.kinds:
            kind_n += 1
            kind_hit += result is not None and kind in result.kinds
    return cases + [f"{data.name:>12} | sensitivity {tp}/{tp + fn} = {tp / max(tp + fn, 1):.2f} | "
            f"specificity {tn}/{tn + fp} = {tn / max(tn + fp, 1):.2f} | "
            + (f"located {located}/{located_n} = {located / max(located_n, 1):.2f} | "
               if located_n else "")
            + f"volume within 15 % or "
            f"2 mL {vol_ok}/{vol_n} (median error {100 * float(np.median(errors or [0])):.0f} %)"
            f" | true kinds reported {kind_hit}/{kind_n} | median analysis "
            f"{float(np.median(seconds or [0])):.2f} s"
            + (f" | analysis failed (manual review) {failed}" if failed else "")
            + (f" | analysed but flagged for manual review {flagged}" if flagged else "")]

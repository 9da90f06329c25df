"""LVO detection per CTA generator family, on the rendered corpus (issue 17).

    .venv/bin/python bench/lvo_families.py [--root var/lvo-corpus] [--families ...]
        [--limit N] [--name current] [--out bench/results/lvo_families_current.txt]

Runs the current analysis path (``analyze_volume`` with the shipped model, no key images) on
every case of each family in the corpus (``strokealert lvo corpus`` builds it) and prints,
per family: sensitivity per site, specificity per negative kind and overall, PPV at 20 %
prevalence, AUC and the cases sent to manual review (input errors such as "no head found"
count as manual review; they are left out of sensitivity, specificity
and AUC, as in ``strokealert lvo evaluate``). The table is also written to ``--out``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from strokealert.errors import InputError
from strokealert.lvo import analyze_volume, load_model
from strokealert.lvo.corpus import FAMILIES, default_root, iter_cases
from strokealert.lvo.evaluate import auc, ppv_at
from strokealert.phantoms.cta_families import HARD_NEGATIVES, LVO_SITES

PREVALENCE = 0.2


@dataclass(frozen=True)
class Outcome:
    """One case's truth and the analysis' answer."""

    kind: str  # lvo or a negative kind
    site: str | None
    side: str
    probability: float
    suspected: bool
    called_side: str
    manual_review: bool


def run_family(root: Path, family: str, limit: int | None) -> tuple[list[Outcome], float]:
    """Analyse the family's cases; returns the outcomes and the median seconds per case."""
    model = load_model()
    outcomes: list[Outcome] = []
    seconds: list[float] = []
    for case in iter_cases(root, family):
        if limit is not None and len(outcomes) >= limit:
            break
        started = time.perf_counter()
        try:
            result = analyze_volume(case.volume_hu, case.spacing_mm, model=model)
        except InputError:  # analyze_files reports it as failed: a human reads the scan
            outcomes.append(Outcome(case.label.kind, case.label.site, case.label.side,
                                    0.0, False, "none", True))
            continue
        seconds.append(time.perf_counter() - started)
        outcomes.append(Outcome(case.label.kind, case.label.site, case.label.side,
                                float(result.probability), bool(result.suspected),
                                result.side, bool(result.manual_review)))
    return outcomes, float(np.median(seconds)) if seconds else float("nan")


def _rate(hits: int, total: int) -> str:
    return f"{hits}/{total} {hits / total:.2f}" if total else "-"


def family_lines(family: str, outcomes: Sequence[Outcome], seconds: float) -> list[str]:
    """Table rows of one family: per site, per negative kind, and the whole family."""
    scored = [o for o in outcomes if not o.manual_review]
    positives = [o for o in scored if o.kind == "lvo"]
    negatives = [o for o in scored if o.kind != "lvo"]
    true_neg = sum(not o.suspected for o in negatives)
    labels = np.array([o.kind == "lvo" for o in scored], dtype=bool)
    probs = np.array([o.probability for o in scored])
    sens = sum(o.suspected for o in positives) / len(positives) if positives else float("nan")
    spec = true_neg / len(negatives) if negatives else float("nan")
    lateral = [o for o in positives if o.suspected and o.side != "none"]
    side_ok = sum(o.called_side == o.side for o in lateral)
    detected = sum(o.suspected for o in positives)
    lines = [f"{family:<9} {'all':<18} {len(outcomes):>4} {_rate(detected, len(positives)):>12} "
             f"{_rate(true_neg, len(negatives)):>12} {ppv_at(sens, spec, PREVALENCE):>6.3f} "
             f"{auc(labels, probs):>6.3f} {sum(o.manual_review for o in outcomes):>6} "
             f"{_rate(side_ok, len(lateral)):>12} {seconds:>6.2f}"]
    for site in LVO_SITES:
        cases = [o for o in positives if o.site == site]
        site_labels = np.array([True] * len(cases) + [False] * len(negatives), dtype=bool)
        site_probs = np.array([o.probability for o in cases] + [o.probability for o in negatives])
        lines.append(f"{'':<9} {'site ' + site:<18} {len(cases):>4} "
                     f"{_rate(sum(o.suspected for o in cases), len(cases)):>12} {'':>12} "
                     f"{'':>6} {auc(site_labels, site_probs):>6.3f}")
    for kind in HARD_NEGATIVES:
        cases = [o for o in negatives if o.kind == kind]
        lines.append(f"{'':<9} {'neg ' + kind:<18} {len(cases):>4} {'':>12} "
                     f"{_rate(sum(not o.suspected for o in cases), len(cases)):>12}")
    return lines


def header(name: str) -> list[str]:
    head = (f"{'family':<9} {'group':<18} {'n':>4} {'sensitivity':>12} {'specificity':>12} "
            f"{'PPV@.2':>6} {'AUC':>6} {'review':>6} {'side ok':>12} {'s/case':>6}")
    return [f"LVO detection per generator family, model: {name} (manual-review cases left out "
            f"of sensitivity, specificity and AUC; PPV at {PREVALENCE:g} prevalence)",
            head, "-" * len(head)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=default_root())
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    parser.add_argument("--limit", type=int, default=None, help="cases per family at most")
    parser.add_argument("--name", default="current", help="what the table calls the model")
    parser.add_argument("--out", type=Path, default=None,
                        help="file for the table (default bench/results/lvo_families_NAME.txt)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model()
    lines = header(f"{args.name} ({model.name})")
    print("\n".join(lines), flush=True)
    for family in args.families:
        outcomes, seconds = run_family(args.root, family, args.limit)
        if not outcomes:
            print(f"{family}: no cases under {args.root}", file=sys.stderr)
            continue
        rows = family_lines(family, outcomes, seconds)
        print("\n".join(rows), flush=True)
        lines += rows
    out = args.out or Path(__file__).parent / "results" / f"lvo_families_{args.name}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

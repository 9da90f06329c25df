"""Evaluate ASPECTS against the synthetic NCCT generators' ground truth, families held out.

    .venv/bin/python -m strokealert.ncct.aspects_evaluate [--cases 30] [--matrix 256]
        [--train geometric,fields] [--test projected] [--test-matrix 128] [--test-cases 40]
        [--cache var/ncct-aspects-bench]

Each family renders the same labelled seeds (0-7 affected regions on a random side; the
generators draw slice thickness 3-5 mm and the change 2-6 HU themselves, so rows are grouped by
what they drew). Every case is registered once and its region values kept; the thresholds are
chosen on the training families only (one for the deep regions C/L/IC/I, one for M1-M6: the pair
with the best +/-1 agreement, then exact agreement, then balanced region accuracy) and applied
unchanged to the test families, reported whole, by slice thickness and by band of the drawn
change (2-3, 3-4.5, 4.5-6 HU). Rendered cases are cached as ``.npz`` under ``--cache``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from strokealert.ncct.aspects import REGIONS, region_values, score_from_values
from strokealert.ncct.aspects_registration import register_atlas
from strokealert.phantoms.ncct_families import FAMILIES

DEEP = ("C", "L", "IC", "I")
GRID_HU = tuple(float(v) for v in np.arange(1.0, 4.01, 0.25))
"""Candidate thresholds (HU) searched on the training family."""


@dataclass(frozen=True)
class CaseValues:
    """One evaluated case: the truth and the registered region values."""

    family: str
    seed: int
    truth_regions: tuple[str, ...]
    truth_side: str
    truth_score: int
    delta_hu: float
    thickness_mm: float
    means: NDArray[np.float64]
    counts: NDArray[np.int64]
    brain_dice: float
    seconds: float


def draw_label(seed: int) -> tuple[tuple[str, ...], str]:
    """The affected regions and side of evaluation seed ``seed`` (same for both families)."""
    rng = np.random.default_rng([seed, 77])
    n = int(rng.choice([0, 0, 1, 2, 3, 3, 4, 5, 6, 7]))
    if n == 0:
        return (), "none"
    regions = tuple(sorted(str(r) for r in rng.choice(REGIONS, n, replace=False)))
    return regions, str(rng.choice(["left", "right"]))


def _render(family: str, seed: int, matrix: int, cache: Path) -> Path:
    """Render (or find cached) one case; returns its ``.npz``."""
    path = cache / f"{family}_{seed}_{matrix}.npz"
    if path.exists():
        return path
    from strokealert.phantoms.ncct_families import NcctLabel, geometric

    regions, side = draw_label(seed)
    label = NcctLabel(ischaemic_regions=regions, ischaemic_side=side)
    if family == "geometric":
        case, truth = geometric.render_with_regions(seed, label, matrix=matrix)
        delta = float(case.details["ischaemia"]["delta_hu"])
    else:  # the other families: render_labelled -> (case, regions, tissue)
        module = importlib.import_module(f"strokealert.phantoms.ncct_families.{family}")
        case, truth, _ = module.render_labelled(seed, label, matrix=matrix)
        delta = float(case.details["ischaemic_delta_hu"] or 0.0)
    cache.mkdir(parents=True, exist_ok=True)
    meta = {"regions": list(regions), "side": side, "aspects": label.aspects,
            "delta_hu": delta, "thickness": case.spacing_mm[0]}
    np.savez(path, volume=case.volume_hu.astype(np.int16), regions=truth,
             spacing=np.array(case.spacing_mm), meta=json.dumps(meta))
    return path


def load_case(path: Path) -> CaseValues:
    """Register one cached case and measure its regions."""
    with np.load(path) as data:
        volume = data["volume"].astype(np.float32)
        spacing = (float(data["spacing"][0]), float(data["spacing"][1]),
                   float(data["spacing"][2]))
        meta = json.loads(str(data["meta"]))
    reg = register_atlas(volume, spacing)
    means, counts = region_values(volume, reg.score_labels)
    family, seed, _ = path.stem.split("_")
    return CaseValues(family=family, seed=int(seed), truth_regions=tuple(meta["regions"]),
                      truth_side=meta["side"], truth_score=int(meta["aspects"]),
                      delta_hu=float(meta["delta_hu"]), thickness_mm=float(meta["thickness"]),
                      means=means, counts=counts, brain_dice=reg.brain_dice,
                      seconds=reg.seconds)


def thresholds_of(deep: float, cortical: float) -> dict[str, float]:
    """Per-region thresholds from the deep and the cortical value."""
    return {r: (deep if r in DEEP else cortical) for r in REGIONS}


def metrics(cases: list[CaseValues], thresholds: dict[str, float]) -> dict[str, Any]:
    """Exact and +/-1 agreement, side accuracy, and per-region sensitivity/specificity (a
    region counts as found only on the true side)."""
    exact = within = side_ok = 0
    tp = {r: 0 for r in REGIONS}
    fn, fp, tn = dict(tp), dict(tp), dict(tp)
    for c in cases:
        score, side, found, _ = score_from_values(c.means, c.counts, thresholds)
        exact += score == c.truth_score
        within += abs(score - c.truth_score) <= 1
        side_ok += side == c.truth_side
        for r in REGIONS:
            truth = r in c.truth_regions
            hit = r in found and (c.truth_side == "none" or side == c.truth_side)
            tp[r] += truth and hit
            fn[r] += truth and not hit
            fp[r] += (not truth) and hit
            tn[r] += (not truth) and not hit
    n = max(1, len(cases))
    sens = {r: tp[r] / max(1, tp[r] + fn[r]) for r in REGIONS}
    spec = {r: tn[r] / max(1, tn[r] + fp[r]) for r in REGIONS}
    all_tp, all_fn = sum(tp.values()), sum(fn.values())
    all_tn, all_fp = sum(tn.values()), sum(fp.values())
    return {"n": len(cases), "exact": exact / n, "within1": within / n, "side": side_ok / n,
            "sensitivity": all_tp / max(1, all_tp + all_fn),
            "specificity": all_tn / max(1, all_tn + all_fp),
            "region_sensitivity": sens, "region_specificity": spec,
            "region_positives": {r: tp[r] + fn[r] for r in REGIONS}}


def choose_thresholds(train: list[CaseValues]) -> dict[str, float]:
    """The deep/cortical threshold pair that does best on the training cases."""
    best: tuple[float, ...] = ()
    chosen = thresholds_of(GRID_HU[0], GRID_HU[0])
    for deep in GRID_HU:
        for cortical in GRID_HU:
            th = thresholds_of(deep, cortical)
            m = metrics(train, th)
            key = (m["within1"], m["exact"], (m["sensitivity"] + m["specificity"]) / 2)
            if key > best:
                best, chosen = key, th
    return chosen


def _line(name: str, m: dict[str, Any]) -> str:
    return (f"{name:34s} n={m['n']:3d}  exact {m['exact']:.2f}  +/-1 {m['within1']:.2f}  "
            f"side {m['side']:.2f}  region sens {m['sensitivity']:.2f}  "
            f"spec {m['specificity']:.2f}")


CHANGE_BANDS_HU = ((2.0, 3.0), (3.0, 4.5), (4.5, 6.01))
"""Bands of the drawn ischaemic change (HU) the test rows are split by."""


def family_lines(name: str, cases: list[CaseValues], th: dict[str, float]) -> list[str]:
    """One family's rows: whole, by slice thickness, by change band (affected cases), and the
    per-region sensitivity/specificity."""
    whole = metrics(cases, th)
    lines = [_line(name, whole)]
    for mm in sorted({c.thickness_mm for c in cases}):
        sub = [c for c in cases if abs(c.thickness_mm - mm) < 0.01]
        lines.append(_line(f"  {mm:g} mm slices", metrics(sub, th)))
    for lo, hi in CHANGE_BANDS_HU:
        sub = [c for c in cases if c.truth_regions and lo <= c.delta_hu < hi]
        if sub:
            lines.append(_line(f"  change {lo:g}-{min(hi, 6.0):g} HU", metrics(sub, th)))
    sens, spec, pos = (whole["region_sensitivity"], whole["region_specificity"],
                       whole["region_positives"])
    lines.append("  per region (sens/spec, positives): " + "  ".join(
        f"{r} {sens[r]:.2f}/{spec[r]:.2f} ({pos[r]})" for r in REGIONS))
    return lines


def report(by_family: dict[str, list[CaseValues]], train: tuple[str, ...],
           test: tuple[str, ...]) -> list[str]:
    """The table lines: thresholds chosen on the training families, then each family's rows."""
    th = choose_thresholds([c for f in train for c in by_family[f]])
    lines = [f"thresholds chosen on {'+'.join(train)}: deep (C/L/IC/I) {th['C']:.2f} HU, "
             f"cortical (M1-M6) {th['M1']:.2f} HU"]
    for family in train:
        lines += family_lines(f"{family} (training)", by_family[family], th)
    for family in test:
        lines += family_lines(f"{family} (held out)", by_family[family], th)
    return lines


def evaluate_families(train: tuple[str, ...], test: tuple[str, ...], cases: int, matrix: int,
                      cache: Path, first_seed: int = 1000, test_matrix: int | None = None,
                      test_cases: int | None = None) -> list[str]:
    """Render (or reuse), register and score ``cases`` seeds of every family in ``train`` and
    ``test`` (the test families at ``test_matrix`` and with ``test_cases`` seeds when given);
    the report lines with a header (timing, brain overlap) and the total time."""
    started = time.perf_counter()
    by_family: dict[str, list[CaseValues]] = {}
    for family in dict.fromkeys(train + test):
        held_out = family in test and family not in train
        size = test_matrix if test_matrix and held_out else matrix
        count = test_cases if test_cases and held_out else cases
        paths = [_render(family, seed, size, cache)
                 for seed in range(first_seed, first_seed + count)]
        by_family[family] = [load_case(p) for p in paths]
    every = [c for group in by_family.values() for c in group]
    held = f" (held out: {test_matrix})" if test_matrix and test_matrix != matrix else ""
    lines = [f"ASPECTS, matrix {matrix}{held}, {cases} cases per family, registration median "
             f"{statistics.median(c.seconds for c in every):.2f} s (max "
             f"{max(c.seconds for c in every):.2f} s), brain overlap min "
             f"{min(c.brain_dice for c in every):.2f}"]
    lines += report(by_family, train, test)
    lines.append(f"(total {time.perf_counter() - started:.0f} s)")
    return lines


def family_list(text: str) -> tuple[str, ...]:
    """``geometric,fields`` -> the families, each checked against FAMILIES."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown families {unknown}; known: {FAMILIES}")
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=30, help="cases per family")
    parser.add_argument("--matrix", type=int, default=256)
    parser.add_argument("--test-matrix", type=int, help="matrix of the held-out families "
                        "(default: --matrix)")
    parser.add_argument("--test-cases", type=int, help="cases per held-out family "
                        "(default: --cases)")
    parser.add_argument("--train", type=family_list, default=("geometric", "fields"),
                        help="families the thresholds are chosen on (comma-separated)")
    parser.add_argument("--test", type=family_list, default=(),
                        help="held-out families (comma-separated)")
    parser.add_argument("--first-seed", type=int, default=1000)
    parser.add_argument("--cache", type=Path, default=Path("var/ncct-aspects-bench"))
    args = parser.parse_args(argv)
    for line in evaluate_families(args.train, args.test, args.cases, args.matrix, args.cache,
                                  args.first_seed, args.test_matrix, args.test_cases):
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

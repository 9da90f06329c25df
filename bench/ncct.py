"""NCCT haemorrhage benchmark: sensitivity/specificity (truth ≥ 1 mL), volume error and kind
agreement on a labelled folder (see strokealert.ncct.dataset), and the time of one analysis of
a 512 × 512 × 40 NCCT; with ``--aspects``, the ASPECTS evaluation against the generators' ground
truth (thresholds chosen on the training families, applied to the held-out ones; see
strokealert.ncct.aspects_evaluate).

    python bench/ncct.py --data DIR [--data DIR2 ...]   # folders with labels.csv
    python bench/ncct.py --aspects --train geometric,fields,projected,landmarks --test template
    python bench/ncct.py --write-synthetic fields:40 --out /tmp/ncct-fields   # make a folder
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from strokealert.ncct.analyze import analyze_volume
from strokealert.ncct.aspects_evaluate import evaluate_families, family_list
from strokealert.ncct.dataset import write_synthetic
from strokealert.ncct.evaluate import evaluate


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
    parser.add_argument("--aspects", action="store_true",
                        help="evaluate ASPECTS on the generator families")
    parser.add_argument("--train", type=family_list,
                        default=("geometric", "fields", "projected", "landmarks"))
    parser.add_argument("--test", type=family_list, default=("template",))
    parser.add_argument("--cases", type=int, default=40, help="ASPECTS cases per family")
    parser.add_argument("--matrix", type=int, default=256, help="ASPECTS case matrix")
    parser.add_argument("--test-matrix", type=int, help="matrix of the held-out ASPECTS cases")
    parser.add_argument("--test-cases", type=int, help="held-out ASPECTS cases per family")
    parser.add_argument("--cache", type=Path, default=Path("var/ncct-aspects-bench"))
    args = parser.parse_args()
    if args.write_synthetic:
        family, count = args.write_synthetic.split(":")
        args.data.append(write_synthetic(family, args.out, int(count)))
    for data in args.data:
        for line in evaluate(data):
            print(line, flush=True)
    if args.aspects:
        for line in evaluate_families(args.train, args.test, args.cases, args.matrix, args.cache,
                                      test_matrix=args.test_matrix,
                                      test_cases=args.test_cases):
            print(line, flush=True)
    if not args.no_timing:
        print(time_512())


if __name__ == "__main__":
    main()

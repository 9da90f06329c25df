"""The training-distribution summary shipped with a model (``reference/<analysis>.json``, with
the fingerprints behind it under ``rows``): the fingerprints of the synthetic CTA the LVO model
is trained on (``phantoms.cta`` profile ``train``), measured the way
:func:`strokealert.monitoring.fingerprint.from_series` measures a stored series.
Rebuild after retraining on other data:

    python -m strokealert.monitoring.reference --cases 200
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from strokealert.monitoring.drift import REFERENCE_DIR, summarize
from strokealert.monitoring.fingerprint import image_measures, sampled_indices


def training_fingerprints(cases: int, first_seed: int = 0) -> list[dict[str, Any]]:
    """Fingerprints of ``cases`` training phantoms (seeds from ``first_seed``)."""
    from strokealert.phantoms.cta import TRAIN, draw_case, render
    from strokealert.phantoms.series import SeriesInfo

    header = SeriesInfo(kernel="Hv40")
    rows = []
    for seed in range(first_seed, first_seed + cases):
        rendered = render(draw_case(seed, TRAIN))
        volume = rendered.volume_hu
        noise, contrast = image_measures(volume[sampled_indices(volume.shape[0])])
        dz = float(rendered.spacing_mm[0])
        rows.append({"kernel": header.kernel, "scanner_model": header.model,
                     "slice_thickness_mm": dz, "noise_hu": noise, "contrast_hu": contrast,
                     "coverage_mm": round((volume.shape[0] - 1) * dz + dz, 1)})
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=60)
    parser.add_argument("--out", type=Path, default=REFERENCE_DIR / "lvo.json")
    args = parser.parse_args(argv)
    rows = training_fingerprints(args.cases)
    summary = summarize(rows, source=f"phantoms.cta TRAIN profile, seeds 0-{args.cases - 1}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({**summary.to_json(), "rows": rows}, indent=1) + "\n")
    print(f"{args.out}: {summary.n} fingerprints")


if __name__ == "__main__":
    main()

"""Input drift: the recent fingerprints of a model against its training distribution (the
summary shipped in ``reference/<analysis>.json``) and against the site's own last days.

Each feature is compared by its population stability index, PSI = Σ (a − e)·ln(a / e) over
bins (numeric features: the reference quintiles; categorical: the reference's values and
"other"; shares floored at :data:`FLOOR`). The drift score is the largest PSI of any feature;
PSI above 0.25 is the usual "significant shift". Sampling alone gives a window of n cases a
PSI of about (bins − 1)/n per feature (0.08 for 50 cases and five bins), so the default
alarm threshold is 0.5 (``[monitoring] drift_threshold``).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REFERENCE_DIR = Path(__file__).parent / "reference"
NUMERIC = ("slice_thickness_mm", "noise_hu", "contrast_hu", "coverage_mm", "ood_score")
CATEGORICAL = ("kernel", "scanner_model")
FEATURES = CATEGORICAL + NUMERIC
QUANTILES = (0.2, 0.4, 0.6, 0.8)
FLOOR = 1e-3
OTHER = "other"
MIN_VALUES = 10  # a feature with fewer known values on either side is not compared

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Summary:
    """A distribution of fingerprints: bin edges and shares per numeric feature, value shares
    per categorical one, the number of fingerprints behind it, and where it came from."""

    n: int
    numeric: dict[str, dict[str, list[float]]]  # feature -> {"edges": [...], "shares": [...]}
    categorical: dict[str, dict[str, float]]  # feature -> {value: share}
    source: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "source": self.source, "numeric": self.numeric,
                "categorical": self.categorical}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Summary:
        return cls(n=int(data["n"]), numeric=dict(data["numeric"]),
                   categorical=dict(data["categorical"]), source=str(data.get("source", "")))


@dataclass(frozen=True)
class Comparison:
    """The drift score (largest feature PSI), the feature that gave it, every feature's PSI."""

    score: float
    feature: str | None
    by_feature: dict[str, float]
    n: int


def _known(rows: Sequence[Row], feature: str) -> list[Any]:
    return [row[feature] for row in rows if row.get(feature) is not None]


def _numeric_shares(values: Sequence[float], edges: Sequence[float]) -> list[float]:
    counts = np.bincount(np.searchsorted(np.asarray(edges), np.asarray(values, float),
                                         side="right"), minlength=len(edges) + 1)
    return [float(c) / max(1, len(values)) for c in counts]


def summarize(rows: Sequence[Row], source: str = "") -> Summary:
    """The distribution of ``rows`` (fingerprints as mappings of :data:`FEATURES`)."""
    numeric: dict[str, dict[str, list[float]]] = {}
    for feature in NUMERIC:
        values = _known(rows, feature)
        if len(values) < MIN_VALUES:
            continue
        edges = sorted({round(float(q), 4) for q in np.quantile(np.asarray(values, float),
                                                                QUANTILES)})
        numeric[feature] = {"edges": edges, "shares": _numeric_shares(values, edges)}
    categorical: dict[str, dict[str, float]] = {}
    for feature in CATEGORICAL:
        values = _known(rows, feature)
        if len(values) >= MIN_VALUES:
            counts = Counter(str(v) for v in values)
            categorical[feature] = {k: v / len(values) for k, v in sorted(counts.items())}
    return Summary(n=len(rows), numeric=numeric, categorical=categorical, source=source)


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """Population stability index of two share vectors (each floored at :data:`FLOOR`)."""
    return float(sum((max(a, FLOOR) - max(e, FLOOR)) * math.log(max(a, FLOOR) / max(e, FLOOR))
                     for e, a in zip(expected, actual, strict=True)))


def compare(rows: Sequence[Row], reference: Summary) -> Comparison:
    """PSI of each feature of ``rows`` against ``reference``; the score is the largest."""
    by_feature: dict[str, float] = {}
    for feature, dist in reference.numeric.items():
        values = _known(rows, feature)
        if len(values) >= MIN_VALUES:
            by_feature[feature] = round(psi(dist["shares"],
                                            _numeric_shares(values, dist["edges"])), 4)
    for feature, shares in reference.categorical.items():
        values = [str(v) for v in _known(rows, feature)]
        if len(values) < MIN_VALUES:
            continue
        counts = Counter(v if v in shares else OTHER for v in values)
        keys = [*shares, OTHER]
        by_feature[feature] = round(psi([shares.get(k, 0.0) for k in keys],
                                        [counts.get(k, 0) / len(values) for k in keys]), 4)
    if not by_feature:
        return Comparison(0.0, None, {}, len(rows))
    worst = max(by_feature, key=lambda k: by_feature[k])
    return Comparison(by_feature[worst], worst, by_feature, len(rows))


def reference_for(analysis: str) -> Summary | None:
    """The shipped training-distribution summary of ``analysis`` (``lvo``, …), if any."""
    path = REFERENCE_DIR / f"{analysis}.json"
    if not path.is_file():
        return None
    return Summary.from_json(json.loads(path.read_text()))

"""Evaluation: per-site and per-quality-stratum sensitivity, specificity, PPV, AUC, side, ECE.

Every LVO case counts for its own site; the negatives (normal, variants, distal M3/M4
occlusions, stenoses) are shared by all rows. PPV is recomputed for a stated prevalence from
sensitivity and specificity (Bayes), since a test set's own mix is arbitrary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from strokealert.lvo.dataset import Sample
from strokealert.lvo.model import LvoModel, Prediction

SITES = ("ICA", "M1", "M2", "basilar")


@dataclass
class Scored:
    """A sample with its model output; ``side`` is the fused side call."""

    sample: Sample
    prediction: Prediction
    side: str


def score(model: LvoModel, samples: Sequence[Sample], batch: int = 64) -> list[Scored]:
    """Run the model over samples (fused side: network side, else the asymmetry side)."""
    from strokealert.lvo.analyze import fuse_side

    out: list[Scored] = []
    for start in range(0, len(samples), batch):
        chunk = samples[start:start + batch]
        preds = model.predict(np.stack([s.canvas.astype(np.float32) for s in chunk]),
                              np.stack([s.asym for s in chunk]))
        out.extend(Scored(s, p, fuse_side(p, s.asym_side)) for s, p in zip(chunk, preds,
                                                                         strict=True))
    return out


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half)."""
    pos, neg = scores[labels], scores[~labels]
    if pos.size == 0 or neg.size == 0:
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (pos.size * neg.size))


def ece(labels: np.ndarray, probs: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error over equal-width probability bins."""
    if labels.size == 0:
        return float("nan")
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(probs, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        sel = which == b
        if sel.any():
            total += sel.sum() * abs(probs[sel].mean() - labels[sel].mean())
    return float(total / labels.size)


def ppv_at(sens: float, spec: float, prevalence: float) -> float:
    denominator = sens * prevalence + (1 - spec) * (1 - prevalence)
    return float(sens * prevalence / denominator) if denominator > 0 else float("nan")


@dataclass
class Row:
    group: str
    n_pos: int
    n_neg: int
    sensitivity: float
    specificity: float
    ppv: float
    auc: float
    side_accuracy: float
    ece: float
    manual_review: int


def metrics(group: str, rows: Sequence[Scored], threshold: float, prevalence: float) -> Row:
    labels = np.array([r.sample.label != 0 for r in rows], dtype=bool)
    probs = np.array([r.prediction.probability for r in rows])
    flagged = probs >= threshold
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    sens = float((flagged & labels).sum() / n_pos) if n_pos else float("nan")
    spec = float((~flagged & ~labels).sum() / n_neg) if n_neg else float("nan")
    lateral = [r for r, lab, f in zip(rows, labels, flagged, strict=True)
               if lab and f and r.sample.side in ("left", "right")]
    side_acc = (float(np.mean([r.side == r.sample.side for r in lateral]))
                if lateral else float("nan"))
    manual = sum(not r.sample.quality_ok for r in rows)
    return Row(group, n_pos, n_neg, sens, spec, ppv_at(sens, spec, prevalence),
               auc(labels, probs), side_acc, ece(labels.astype(float), probs), manual)


def table(scored: Sequence[Scored], threshold: float, prevalence: float) -> list[Row]:
    """Rows: all, each site (vs all negatives), each quality stratum, each contrast phase.

    Cases the quality gate sends to manual review are reported in their own row and left out
    of the others (they get no confident call).
    """
    gated = [r for r in scored if r.sample.quality_ok]
    negatives = [r for r in gated if r.sample.label == 0]
    rows = [metrics("all (gate passed)", gated, threshold, prevalence)]
    for site in SITES:
        cases = [r for r in gated if r.sample.site == site]
        rows.append(metrics(f"site {site}", cases + negatives, threshold, prevalence))
    for key in ("phase", "noise", "slice", "negative"):
        values = sorted({r.sample.strata.get(key, "?") for r in gated})
        for value in values:
            if key == "negative" and value == "-":
                continue
            cases = [r for r in gated if r.sample.strata.get(key) == value]
            if key == "negative":
                cases = cases + [r for r in gated if r.sample.label != 0]
            rows.append(metrics(f"{key} {value}", cases, threshold, prevalence))
    refused = [r for r in scored if not r.sample.quality_ok]
    if refused:
        rows.append(metrics("quality gate: manual review", refused, threshold, prevalence))
    return rows


def format_table(rows: Sequence[Row], prevalence: float, threshold: float) -> str:
    def f(v: float) -> str:
        return "  -  " if np.isnan(v) else f"{v:5.3f}"

    head = (f"{'group':<30} {'n+':>4} {'n-':>4} {'sens':>5} {'spec':>5} "
            f"{'PPV@' + format(prevalence, 'g'):>7} {'AUC':>5} {'side':>5} {'ECE':>5} {'gate':>4}")
    lines = [f"threshold {threshold:.3f}; PPV at prevalence {prevalence:g}; side = fraction of "
             f"lateral true positives with the correct side; gate = cases sent to manual review",
             head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r.group:<30} {r.n_pos:>4} {r.n_neg:>4} {f(r.sensitivity)} "
                     f"{f(r.specificity)} {f(r.ppv):>7} {f(r.auc)} {f(r.side_accuracy)} "
                     f"{f(r.ece)} {r.manual_review:>4}")
    return "\n".join(lines)

"""Evaluation: per-site sensitivity, specificity, PPV, AUC, side accuracy, ECE, abstention.

Every LVO case counts for its own site; the negatives (normal, stenosis, hypoplastic, distal
occlusion, asymmetric normal trees) are shared by all site rows. PPV is recomputed for a stated
prevalence from sensitivity and specificity (Bayes), since a test set's own mix is arbitrary.
Cases the analysis abstains on (quality gate or out-of-distribution gate: manual review) are
counted in their own column and left out of the other figures: they get no confident call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from strokealert.lvo.dataset import Sample
from strokealert.lvo.model import LvoModel

SITES = ("ICA", "M1", "M2", "basilar")


@dataclass
class Scored:
    """A sample with the model's answer."""

    sample: Sample
    probability: float
    site: str  # most likely site (meaningful when flagged)
    side: str  # called side: none for the basilar
    ood: float  # distance to the training cases
    abstained: bool  # quality gate failed or out of distribution


def score(model: LvoModel, samples: Sequence[Sample]) -> list[Scored]:
    """Run the model over samples."""
    if not samples:
        return []
    features = np.array([s.features for s in samples])
    probs = model.probability(features)
    sites = model.site(features)
    distance = model.gate.distance(np.array([s.gate_input() for s in samples]))
    return [Scored(s, float(p), site, "none" if site == "basilar" else s.called_side, float(d),
                   (not s.quality_ok) or d > model.gate.threshold)
            for s, p, site, d in zip(samples, probs, sites, distance, strict=True)]


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
    abstained: int


def metrics(group: str, rows: Sequence[Scored], threshold: float, prevalence: float) -> Row:
    """Figures over ``rows`` as given (the caller leaves abstentions out or keeps them apart)."""
    answered = list(rows)
    labels = np.array([r.sample.site is not None for r in answered], dtype=bool)
    probs = np.array([r.probability for r in answered])
    flagged = probs >= threshold
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    sens = float((flagged & labels).sum() / n_pos) if n_pos else float("nan")
    spec = float((~flagged & ~labels).sum() / n_neg) if n_neg else float("nan")
    lateral = [r for r, lab, f in zip(answered, labels, flagged, strict=True)
               if lab and f and r.sample.side in ("left", "right")]
    side_acc = (float(np.mean([r.side == r.sample.side for r in lateral]))
                if lateral else float("nan"))
    return Row(group, n_pos, n_neg, sens, spec, ppv_at(sens, spec, prevalence),
               auc(labels, probs), side_acc, ece(labels.astype(float), probs),
               sum(r.abstained for r in rows))


def table(scored: Sequence[Scored], threshold: float, prevalence: float) -> list[Row]:
    """Rows: all, each site (vs all negatives), each negative kind (vs all LVO), on the cases
    the gates let through; then the abstentions (manual review) in a row of their own."""
    answered = [r for r in scored if not r.abstained]
    negatives = [r for r in answered if r.sample.site is None]
    positives = [r for r in answered if r.sample.site is not None]
    rows = [metrics("all (gate passed)", answered, threshold, prevalence)]
    for site in SITES:
        cases = [r for r in positives if r.sample.site == site]
        if cases:
            rows.append(metrics(f"site {site}", cases + negatives, threshold, prevalence))
    for kind in sorted({r.sample.kind for r in negatives}):
        cases = [r for r in negatives if r.sample.kind == kind]
        rows.append(metrics(f"negative {kind}", cases + positives, threshold, prevalence))
    refused = [r for r in scored if r.abstained]
    if refused:
        rows.append(metrics("quality gate: manual review", refused, threshold, prevalence))
    return rows


def format_table(rows: Sequence[Row], prevalence: float, threshold: float) -> str:
    def f(v: float) -> str:
        return "  -  " if np.isnan(v) else f"{v:5.3f}"

    head = (f"{'group':<30} {'n+':>4} {'n-':>4} {'sens':>5} {'spec':>5} "
            f"{'PPV@' + format(prevalence, 'g'):>7} {'AUC':>5} {'side':>5} {'ECE':>5} "
            f"{'abst':>4}")
    lines = [f"threshold {threshold:.3f}; PPV at prevalence {prevalence:g}; side = fraction of "
             f"lateral true positives with the correct side; abst = cases sent to manual review "
             f"(quality or out-of-distribution gate), left out of the rows above their own",
             head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r.group:<30} {r.n_pos:>4} {r.n_neg:>4} {f(r.sensitivity)} "
                     f"{f(r.specificity)} {f(r.ppv):>7} {f(r.auc)} {f(r.side_accuracy)} "
                     f"{f(r.ece)} {r.abstained:>4}")
    return "\n".join(lines)

"""Training and leave-one-family-out evaluation of the vessel-feature classifier.

Everything here is deterministic: the features are fixed by the cases, the classifier is a
convex fit, and the gate's folds come from a fixed seed. Fitting takes well under a second; the
cost is extracting the features (about 1-3 s per case).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from strokealert.lvo.dataset import Sample
from strokealert.lvo.evaluate import Row, Scored, format_table, score, table
from strokealert.lvo.model import LvoModel, class_index, fit

PREVALENCE = 0.2


def fit_samples(samples: Sequence[Sample], version: str = "2.0.0",
                description: str = "") -> LvoModel:
    """The classifier and gate fitted on ``samples`` (quality-gated cases left out)."""
    usable = [s for s in samples if s.quality_ok]
    if not usable or all(s.site is None for s in usable):
        raise ValueError("training needs cases of LVO and of no LVO that pass the quality gate")
    families = sorted({s.family for s in usable})
    metadata = {
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "families": {f: sum(s.family == f for s in usable) for f in families},
        "cases": len(usable), "lvo_cases": sum(s.site is not None for s in usable),
        "data": description,
    }
    return fit(np.array([s.features for s in usable]),
               np.array([class_index(s.site) for s in usable]),
               np.array([s.gate_input() for s in usable]), version=version, metadata=metadata)


@dataclass
class Fold:
    """One held-out family: its table and its abstention rates."""

    family: str
    rows: list[Row]
    scored: list[Scored]
    in_distribution: list[Scored]  # training families, scored out-of-fold

    @property
    def abstention(self) -> float:
        return _abstention(self.scored)

    @property
    def in_distribution_abstention(self) -> float:
        return _abstention(self.in_distribution)


def _abstention(scored: Sequence[Scored]) -> float:
    return float(np.mean([r.abstained for r in scored])) if scored else 0.0


def cross_validate(samples: Sequence[Sample], k: int = 5, seed: int = 0) -> list[Scored]:
    """Every sample scored by a model fitted without it (``k`` folds)."""
    fold = np.random.default_rng(seed).permutation(len(samples)) % k
    out: list[Scored] = []
    for i in range(k):
        model = fit_samples([s for s, f in zip(samples, fold, strict=True) if f != i])
        out += score(model, [s for s, f in zip(samples, fold, strict=True) if f == i])
    return out


def leave_one_family_out(samples: Sequence[Sample]) -> list[Fold]:
    """For each family: fit on the others, score the held-out one; the training families
    are also scored out-of-fold (in-distribution abstention and figures)."""
    folds = []
    for family in sorted({s.family for s in samples}):
        train = [s for s in samples if s.family != family]
        test = [s for s in samples if s.family == family]
        model = fit_samples(train)
        scored = score(model, test)
        folds.append(Fold(family, table(scored, model.threshold, PREVALENCE), scored,
                          cross_validate(train)))
    return folds


def format_lofo(folds: Sequence[Fold], threshold: float = 0.5) -> str:
    """The leave-one-family-out report: one table per held-out family and a summary."""
    parts = []
    for fold in folds:
        parts.append(f"held-out family {fold.family}: {len(fold.scored)} cases, "
                     f"{fold.abstention:.1%} abstained (manual review); training families "
                     f"out-of-fold: {fold.in_distribution_abstention:.1%} abstained")
        parts.append(format_table(fold.rows, PREVALENCE, threshold))
        parts.append("")
    head = (f"{'held-out':<10} {'n':>4} {'spec':>5} {'ICA':>5} {'M1':>5} {'M2':>5} "
            f"{'basil':>5} {'AUC':>5} {'ECE':>5} {'abst':>5} {'abst-in':>7}")
    parts += ["summary (sensitivity per site, specificity over all negatives):", head,
              "-" * len(head)]
    for fold in folds:
        by = {r.group: r for r in fold.rows}

        def sens(site: str, rows: dict[str, Row] = by) -> str:
            row = rows.get(f"site {site}")
            return f"{row.sensitivity:5.3f}" if row and row.n_pos else "  -  "

        overall = by["all (gate passed)"]
        parts.append(f"{fold.family:<10} {len(fold.scored):>4} {overall.specificity:5.3f} "
                     f"{sens('ICA')} {sens('M1')} {sens('M2')} {sens('basilar')} "
                     f"{overall.auc:5.3f} {overall.ece:5.3f} {fold.abstention:5.1%} "
                     f"{fold.in_distribution_abstention:7.1%}")
    return "\n".join(parts)

"""The LVO classifier on vessel features, and its out-of-distribution gate.

A multinomial logistic regression (L2-regularised, fitted with L-BFGS) maps the standardised
:data:`~strokealert.lvo.vessels.FEATURES` of one CTA to five classes: ``none`` and the
occlusion sites ICA, M1, M2, basilar; p(LVO) = 1 − p(none). The side comes from the features
(the side that lacks vessel), not from the classifier. Few weights, fitted on several
independent generator families, so that it learns what an occlusion does to the tree rather
than what one generator's pictures look like.

The gate: the Mahalanobis distance of the case's features and context (brain volume, vessel
volume, arterial enhancement) to the training cases, with a shrunk covariance. Above the
threshold (set out-of-fold on the training cases for ≤ 5 % abstention) the analysis abstains:
manual review, never a confident call. Weights are one small JSON file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize

CLASSES = ("none", "ICA", "M1", "M2", "basilar")
MODEL_NAME = "strokealert-lvo-vessels"
WEIGHTS_PATH = Path(__file__).resolve().parent / "weights" / "lvo_vessels.json"
L2 = 1.0  # ridge on the standardised weights (sum over classes and features)
SHRINK = 0.2  # covariance shrinkage towards its diagonal for the OOD distance
OOD_FOLDS = 5
OOD_QUANTILE = 0.97  # out-of-fold in-distribution quantile of the distance: ≈ 3 % abstain


def class_index(site: str | None) -> int:
    """Class index of a ground-truth site (None: no LVO)."""
    return CLASSES.index(site) if site is not None else 0


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    out: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return out


@dataclass
class Gate:
    """Mahalanobis out-of-distribution gate: mean, precision and threshold."""

    mean: np.ndarray
    precision: np.ndarray
    threshold: float

    def distance(self, x: np.ndarray) -> np.ndarray:
        d = np.atleast_2d(x) - self.mean
        out: np.ndarray = np.sqrt(np.einsum("ij,jk,ik->i", d, self.precision, d))
        return out


def _gate_fit(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    cov = np.cov(x - mean, rowvar=False) + 1e-6 * np.eye(x.shape[1])
    shrunk = (1 - SHRINK) * cov + SHRINK * np.diag(np.diag(cov))
    return mean, np.linalg.inv(shrunk)


def fit_gate(x: np.ndarray, seed: int = 0) -> Gate:
    """Gate on ``x`` (N, D); the threshold is the :data:`OOD_QUANTILE` of out-of-fold
    distances, so it is measured on cases the fit did not see."""
    folds = np.random.default_rng(seed).permutation(len(x)) % OOD_FOLDS
    held: list[np.ndarray] = []
    for k in range(OOD_FOLDS):
        mean, precision = _gate_fit(x[folds != k])
        held.append(Gate(mean, precision, 0.0).distance(x[folds == k]))
    mean, precision = _gate_fit(x)
    return Gate(mean, precision, float(np.quantile(np.concatenate(held), OOD_QUANTILE)))


@dataclass
class LvoModel:
    """Standardisation + softmax weights + operating threshold + OOD gate + provenance."""

    mean: np.ndarray  # (F,)
    scale: np.ndarray  # (F,)
    weights: np.ndarray  # (F, C)
    bias: np.ndarray  # (C,)
    gate: Gate
    threshold: float = 0.5
    version: str = "2.0.0"
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{MODEL_NAME}@{self.version}"

    def class_probabilities(self, features: np.ndarray) -> np.ndarray:
        """(N, C) probabilities for (N, F) features."""
        z = ((np.atleast_2d(features) - self.mean) / self.scale) @ self.weights + self.bias
        return _softmax(z)

    def probability(self, features: np.ndarray) -> np.ndarray:
        """p(LVO) for (N, F) features."""
        out: np.ndarray = 1.0 - self.class_probabilities(features)[:, 0]
        return out

    def site(self, features: np.ndarray) -> list[str]:
        """Most likely occlusion site for each row (whatever p(LVO) is)."""
        probs = self.class_probabilities(features)[:, 1:]
        return [CLASSES[int(i) + 1] for i in probs.argmax(axis=1)]

    def to_json(self) -> dict[str, Any]:
        return {"classes": list(CLASSES), "mean": self.mean.tolist(),
                "scale": self.scale.tolist(), "weights": self.weights.tolist(),
                "bias": self.bias.tolist(), "threshold": self.threshold,
                "gate": {"mean": self.gate.mean.tolist(),
                         "precision": self.gate.precision.tolist(),
                         "threshold": self.gate.threshold},
                "version": self.version, "metadata": self.metadata}

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=1))
        return path


def fit(features: np.ndarray, labels: np.ndarray, gate_inputs: np.ndarray,
        version: str = "2.0.0", metadata: dict[str, Any] | None = None) -> LvoModel:
    """Fit the classifier on (N, F) ``features`` with class indices ``labels``, and the gate
    on (N, D) ``gate_inputs`` (features and context)."""
    mean = features.mean(axis=0)
    scale = features.std(axis=0) + 1e-6
    x = (features - mean) / scale
    n_f, n_c = x.shape[1], len(CLASSES)
    onehot = np.eye(n_c)[labels]
    counts = onehot.sum(axis=0)
    # The LVO sites together weigh as much as the negatives, each site a equal share: the fit
    # is then prior-neutral (p = 0.5 at equal evidence) whatever the corpus' mix of sites.
    target = np.full(n_c, counts[0] / (n_c - 1))
    target[0] = counts[0]
    sample_w = (onehot * (target / np.maximum(counts, 1.0))).sum(axis=1)
    sample_w /= sample_w.mean()

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[: n_f * n_c].reshape(n_f, n_c), theta[n_f * n_c:]
        p = _softmax(x @ w + b)
        nll = -float((sample_w * np.log(np.clip((p * onehot).sum(axis=1), 1e-12, None))).sum())
        err = (p - onehot) * sample_w[:, None]
        grad_w = x.T @ err + L2 * w
        return nll + 0.5 * L2 * float((w ** 2).sum()), np.concatenate(
            [grad_w.ravel(), err.sum(axis=0)])

    result = minimize(loss, np.zeros(n_f * n_c + n_c), jac=True, method="L-BFGS-B",
                      options={"maxiter": 500})
    theta = result.x
    return LvoModel(mean, scale, theta[: n_f * n_c].reshape(n_f, n_c), theta[n_f * n_c:],
                    fit_gate(gate_inputs), version=version, metadata=metadata or {})


def load(path: Path = WEIGHTS_PATH) -> LvoModel:
    """Load a saved model (plain JSON)."""
    blob = json.loads(path.read_text())
    if tuple(blob["classes"]) != CLASSES:
        raise ValueError(f"{path} was trained for other classes: {blob['classes']}")
    gate = blob["gate"]
    return LvoModel(np.array(blob["mean"]), np.array(blob["scale"]), np.array(blob["weights"]),
                    np.array(blob["bias"]),
                    Gate(np.array(gate["mean"]), np.array(gate["precision"]),
                         float(gate["threshold"])),
                    float(blob["threshold"]), str(blob["version"]), dict(blob["metadata"]))


@lru_cache(maxsize=1)
def shipped() -> LvoModel:
    """The model shipped in the package (loaded once per process)."""
    if not WEIGHTS_PATH.exists():
        raise FileNotFoundError(f"no LVO weights at {WEIGHTS_PATH}; run `strokealert lvo train`")
    return load(WEIGHTS_PATH)

"""The classifier and its out-of-distribution gate: fitting, saving, the shipped weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from strokealert.lvo import load_model
from strokealert.lvo.model import CLASSES, WEIGHTS_PATH, fit, fit_gate, load
from strokealert.lvo.vessels import FEATURES


def _toy(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two features: the first rises with an occlusion, the second is noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(CLASSES), n)
    x = np.column_stack([(labels > 0) * 2.0 + rng.normal(0, 0.5, n), rng.normal(0, 1, n)])
    return x, labels


def test_fit_separates_occlusions_and_round_trips(tmp_path: Path) -> None:
    x, labels = _toy(400, 1)
    model = fit(x, labels, x)
    probe = np.array([[2.5, 0.0], [-0.5, 0.0]])
    p = model.probability(probe)
    assert p[0] > 0.9 and p[1] < 0.1
    again = load(model.save(tmp_path / "m.json"))
    assert np.allclose(again.class_probabilities(x), model.class_probabilities(x))
    assert again.gate.threshold == model.gate.threshold


def test_gate_abstains_far_from_training_and_rarely_within() -> None:
    x, _ = _toy(500, 2)
    gate = fit_gate(x)
    fresh, _ = _toy(500, 3)  # same distribution, cases the gate never saw
    assert np.mean(gate.distance(fresh) > gate.threshold) <= 0.06
    assert (gate.distance(np.array([[12.0, -9.0]])) > gate.threshold).all()


def test_shipped_weights_are_small_and_match_the_features() -> None:
    assert WEIGHTS_PATH.stat().st_size < 100_000
    model = load_model()
    assert model.name.startswith("strokealert-lvo-vessels@")
    assert model.weights.shape == (len(FEATURES), len(CLASSES))
    assert 0.0 < model.threshold < 1.0
    families = model.metadata["families"]
    assert set(families) == {"original", "willis", "grown", "traced"}

"""Training: synthetic (or a hospital's) cases → network → calibrated fusion → model card.

Reproducible from a seed: the synthetic cases are fixed by their seeds, and the network's
initialisation, batch order and augmentation draw from ``torch.manual_seed(seed)``.
Training runs on one CPU thread by default so it never starves the service.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from strokealert.lvo.dataset import Sample
from strokealert.lvo.evaluate import format_table, score, table
from strokealert.lvo.model import FLIP_PERMUTATION, LvoModel, build_network

log = logging.getLogger(__name__)

TRAIN_SEED_OFFSET = 0
VAL_SEED_OFFSET = 100_000
TEST_SEED_OFFSET = 900_000  # held-out seeds, used with the HELDOUT generator profile
TARGET_SPECIFICITY = 0.99  # the operating threshold keeps this specificity on validation


@dataclass
class TrainConfig:
    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 3e-3
    seed: int = 20260314
    max_minutes: float = 50.0
    threads: int = 1


def augment(x: torch.Tensor, y: torch.Tensor, generator: torch.Generator
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror (labels swapped), shift ±4 px, contrast/gamma and noise on (N, H, W) canvases."""
    n = x.shape[0]
    flip = torch.rand(n, generator=generator) < 0.5
    x = torch.where(flip[:, None, None], torch.flip(x, dims=[-1]), x)
    perm = torch.tensor(FLIP_PERMUTATION)
    y = torch.where(flip, perm[y], y)
    shifts = torch.randint(-4, 5, (n, 2), generator=generator)
    x = torch.stack([torch.roll(img, (int(s[0]), int(s[1])), dims=(0, 1))
                     for img, s in zip(x, shifts, strict=True)])
    scale = 0.7 + 0.6 * torch.rand(n, 1, 1, generator=generator)
    gamma = 0.7 + 0.7 * torch.rand(n, 1, 1, generator=generator)
    x = (x.clamp(min=0) ** gamma) * scale
    x = x + 0.04 * torch.rand(n, 1, 1, generator=generator) * torch.randn(x.shape,
                                                                          generator=generator)
    return x.clamp(0, 1.5), y


def train_network(train: Sequence[Sample], config: TrainConfig
                  ) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Fit the network on ``train``; returns it and a summary (epochs, seconds, final loss)."""
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    generator = torch.Generator().manual_seed(config.seed)
    network = build_network()
    x_all = torch.as_tensor(np.stack([s.canvas.astype(np.float32) for s in train]))
    y_all = torch.as_tensor(np.array([s.label for s in train]), dtype=torch.long)
    optimiser = torch.optim.AdamW(network.parameters(), lr=config.learning_rate,
                                  weight_decay=1e-4)
    steps = config.epochs * ((len(train) + config.batch_size - 1) // config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, config.learning_rate,
                                                   total_steps=steps)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.02)
    started = time.monotonic()
    done_epochs, last_loss = 0, float("nan")
    bar = tqdm(range(config.epochs), desc="training", unit="epoch")
    for _ in bar:
        network.train()
        order = torch.randperm(len(train), generator=generator)
        losses = []
        for start in range(0, len(train), config.batch_size):
            idx = order[start:start + config.batch_size]
            x, y = augment(x_all[idx], y_all[idx], generator)
            inputs = torch.stack([x, torch.flip(x, dims=[-1])], dim=1)
            loss = loss_fn(network(inputs), y)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            losses.append(float(loss))
        done_epochs += 1
        last_loss = float(np.mean(losses))
        bar.set_postfix(loss=f"{last_loss:.3f}")
        if (time.monotonic() - started) / 60 > config.max_minutes:
            log.warning("stopping after %d epochs: time limit of %.0f min reached", done_epochs,
                        config.max_minutes)
            break
    network.eval()
    return network, {"epochs": done_epochs, "seconds": round(time.monotonic() - started, 1),
                     "final_loss": round(last_loss, 4), "train_cases": len(train)}


def fit_logistic(features: np.ndarray, labels: np.ndarray, l2: float = 1e-2,
                 iterations: int = 50) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by Newton's method → (weights, bias)."""
    x = np.column_stack([features, np.ones(len(features))])
    w = np.zeros(x.shape[1])
    reg = l2 * np.eye(x.shape[1])
    reg[-1, -1] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        grad = x.T @ (p - labels) + reg @ w
        hess = (x * (p * (1 - p))[:, None]).T @ x + reg + 1e-9 * np.eye(x.shape[1])
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1])


def calibrate(model: LvoModel, val: Sequence[Sample]) -> dict[str, Any]:
    """Fit the fusion/calibration and the operating threshold on the validation split."""
    usable = [s for s in val if s.quality_ok]
    logits = model.class_logits(np.stack([s.canvas.astype(np.float32) for s in usable]))
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    cnn_p = 1.0 - probs[:, 0]
    labels = np.array([s.label != 0 for s in usable], dtype=float)
    asym = np.stack([s.asym for s in usable])
    from strokealert.lvo.model import _logit

    model.fusion_weights, model.fusion_bias = fit_logistic(
        np.column_stack([_logit(cnn_p), asym]), labels)
    fused = model.fuse(cnn_p, asym)
    # Flag when an LVO is more likely than not (p is calibrated), and never below the point
    # that keeps TARGET_SPECIFICITY on validation.
    negatives = np.sort(fused[labels == 0])
    k = int(np.ceil(TARGET_SPECIFICITY * len(negatives))) - 1
    quantile = float(negatives[k] + 1e-6) if len(negatives) else 0.5
    model.threshold = float(min(max(quantile, 0.5), 0.95))
    return {"validation_cases": len(usable), "threshold": round(model.threshold, 4),
            "fusion_weights": [round(float(v), 4) for v in model.fusion_weights],
            "fusion_bias": round(model.fusion_bias, 4)}


def run_training(train: Sequence[Sample], val: Sequence[Sample], test: Sequence[Sample],
                 config: TrainConfig, version: str, data_description: str,
                 prevalence: float = 0.2) -> tuple[LvoModel, str]:
    """Train, calibrate, evaluate on ``test``; returns the model and its evaluation table."""
    network, summary = train_network(train, config)
    model = LvoModel(network, version=version)
    summary.update(calibrate(model, val))
    rows = table(score(model, test), model.threshold, prevalence)
    report = format_table(rows, prevalence, model.threshold)
    model.metadata = {"trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
                      "seed": config.seed, "threads": config.threads, "data": data_description,
                      "test_cases": len(test), **summary}
    return model, report


def model_card(model: LvoModel, report: str) -> str:
    """MODEL_CARD.md text for a trained model."""
    m = model.metadata
    return f"""# Model card: {model.name}

**Not a medical device.** Notification-only triage aid; every finding must be confirmed on the
original images by a qualified physician.

## What it does
Flags a suspected large vessel occlusion (ICA terminus, M1, proximal M2, basilar) on a head CTA
and says the side and site. Input: the CTA volume, preprocessed to an aligned 2 mm vessel map
(midline from skull symmetry), reduced to an axial MIP (circle of Willis to insula) above a
coronal MIP. Network: MONAI 2-D ResNet (basic blocks 1-1-1-1, 16-128 channels) over the MIP and
its mirror image, 8 classes; mirror-averaged at inference. p(LVO) is a logistic fusion of the
network's logit with five non-learned vessel-asymmetry features (per-territory left/right
density ratios, basilar/carotid ratio), fitted on a validation split; that fit is the
calibration. Operating threshold {model.threshold:.3f}: calibrated p ≥ 0.5, raised if needed to keep
specificity {TARGET_SPECIFICITY:.2f} on validation.

## Training data
{m.get('data')}
- training cases: {m.get('train_cases')}; validation cases: {m.get('validation_cases')};
  held-out test cases: {m.get('test_cases')}
- trained {m.get('trained_at')} for {m.get('epochs')} epochs in {m.get('seconds')} s on
  {m.get('threads')} CPU thread(s), seed {m.get('seed')}; final training loss
  {m.get('final_loss')}
- fusion weights (logit_cnn, |asym| carotid, M1, distal MCA, PCA, basilar ratio):
  {m.get('fusion_weights')}, bias {m.get('fusion_bias')}

## Held-out evaluation (synthetic; seeds and generator settings not used in training)
{m.get('operating_point_note', '')}
Held-out cases evaluated: {m.get('test_cases')}.
```
{report}
```

## Intended use
Prioritising the reading worklist and alerting the stroke team to a possible LVO, alongside
the radiologist's read. Adult head or head-and-neck CTA, 0.5-3 mm slices, arterial phase.

## Limits — read before use
- **It has never seen a real patient.** All training and test cases are synthetic CTA from
  `strokealert.phantoms.cta` (tube-model arteries, ellipsoid anatomy). Real anatomy, vessel
  tortuosity, atherosclerosis, aneurysms, clips/coils, dental and beam-hardening artefacts,
  venous contamination and low cardiac output are not or only crudely represented.
  Performance on real CTA is unknown until measured: use `strokealert lvo evaluate --data`
  on local cases and fine-tune with `strokealert lvo train --data` before any clinical pilot.
- Sites outside ICA-T/M1/proximal M2/basilar (A1/A2, P1/P2, M3/M4, vertebral, cervical ICA
  dissection) are not LVO classes; distal occlusions were shown as negatives.
- Pitch of the head is not corrected (only yaw/roll from the midline); the model learned ±15°.
- Poor contrast timing, motion and incomplete coverage go to manual review by the quality
  gate rather than to a negative; a negative on a gated scan is not a negative.
"""

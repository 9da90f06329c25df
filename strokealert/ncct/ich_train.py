"""Training of the blood segmentation network (:mod:`strokealert.ncct.ich_net`) on labelled NCCT
folders (the layout of :mod:`strokealert.ncct.dataset`, with voxel truth ``truth_blood.npz``),
and the ablation of the haemorrhage methods (rules, network, fused) on such folders.

Training is patch-based to keep the CPU cost low: each step takes :data:`BATCH` patches of
:data:`PATCH` working-grid voxels, half centred on blood, a quarter on bright non-blood
(:data:`HARD_HU`: calcification, vessels, streaks, scalp), a quarter anywhere; left-right flips
and small HU gains and offsets. Loss: Dice + binary cross-entropy against the blood fraction of
each working voxel. Every :data:`VALIDATION_EVERY`-th case is held out for validation (whole-grid
Dice at probability 0.5 and detection of ≥ 1 mL); the best epoch's weights are kept.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import monai
import numpy as np
import torch
from monai.losses.dice import DiceCELoss
from tqdm import tqdm

from strokealert.dicom.volume import largest_series, read_volume
from strokealert.errors import InputError
from strokealert.ncct import ich_net
from strokealert.ncct.analyze import analyze_volume
from strokealert.ncct.dataset import read_labels, truth_mask

PATCH = (24, 64, 64)  # (z, y, x) working-grid voxels
BATCH = 4
STEPS_PER_EPOCH = 40
LEARNING_RATE = 3e-3
VALIDATION_EVERY = 8  # every 8th case (in folder order) validates
HARD_HU = (45.0, 150.0)  # working-grid HU of bright non-blood patch centres
DETECT_ML = 1.0  # validation: a case is positive from this much blood


@dataclass
class GridCase:
    """One training case on the working grid, padded to at least :data:`PATCH`."""

    name: str
    family: str
    seed: int | None
    hu: np.ndarray  # (z, y, x) float32 HU
    target: np.ndarray  # (z, y, x) float32 blood fraction 0–1
    voxel_ml: float

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Flat indices of blood voxels and of bright non-blood voxels."""
        blood = np.flatnonzero(self.target >= 0.5)
        hard = np.flatnonzero((self.hu >= HARD_HU[0]) & (self.hu <= HARD_HU[1])
                              & (self.target < 0.05))
        return blood, hard


def _pad_to_patch(hu: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pads = [(0, max(0, p - n)) for p, n in zip(PATCH, hu.shape, strict=True)]
    return (np.pad(hu, pads, constant_values=-1000.0).astype(np.float32),
            np.pad(target, pads).astype(np.float32))


def load_cases(folders: Sequence[Path]) -> list[GridCase]:
    """The cases with voxel truth under ``folders`` (``labels.csv`` layout) on the working grid.
    Raises :class:`InputError` when none has ``truth_blood.npz``."""
    cases: list[GridCase] = []
    labelled = [c for folder in folders for c in read_labels(folder)]
    for case in tqdm(labelled, desc="reading cases", unit="case"):
        truth = truth_mask(case)
        if truth is None:
            continue
        volume, spacing = read_volume(largest_series([case.folder], "NCCT"), "NCCT")
        if truth.shape != volume.shape:
            raise InputError(f"case {case.case!r}: truth_blood.npz is {truth.shape}, "
                             f"the series {volume.shape}")
        info = case.folder / "truth.json"
        details = json.loads(info.read_text()) if info.exists() else {}
        hu, target = _pad_to_patch(ich_net.to_grid(volume, spacing),
                                   ich_net.to_grid((truth > 0).astype(np.float32), spacing))
        cases.append(GridCase(case.case, str(details.get("family", case.folder.parent.name)),
                              details.get("seed"), hu, np.clip(target, 0.0, 1.0),
                              float(np.prod(ich_net.GRID_MM)) / 1000.0))
    if not cases:
        raise InputError("no case with voxel truth (truth_blood.npz) under "
                         + ", ".join(str(f) for f in folders))
    return cases


def split(cases: list[GridCase]) -> tuple[list[GridCase], list[GridCase]]:
    """(training, validation): every :data:`VALIDATION_EVERY`-th case validates (at least one
    when there are two or more cases)."""
    val = [c for i, c in enumerate(cases) if i % VALIDATION_EVERY == VALIDATION_EVERY - 1]
    if not val and len(cases) > 1:
        val = cases[-1:]
    return [c for c in cases if c not in val], val


def sample_patch(case: GridCase, centres: tuple[np.ndarray, np.ndarray],
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One (HU, target) patch of :data:`PATCH` centred on blood (1/2), bright non-blood (1/4)
    or anywhere (1/4), flipped left-right at random, HU scaled by ~2 % and shifted by ~3 HU."""
    blood, hard = centres
    draw = rng.uniform()
    pool = blood if draw < 0.5 and blood.size else hard if draw < 0.75 and hard.size else None
    if pool is None:
        centre = tuple(int(rng.integers(0, n)) for n in case.hu.shape)
    else:
        centre = tuple(int(v) for v in np.unravel_index(int(rng.choice(pool)), case.hu.shape))
    box = tuple(slice(s, s + p) for s, p in
                ((int(np.clip(c - p // 2 + rng.integers(-p // 4, p // 4 + 1), 0, n - p)), p)
                 for c, p, n in zip(centre, PATCH, case.hu.shape, strict=True)))
    hu, target = case.hu[box], case.target[box]
    if rng.uniform() < 0.5:
        hu, target = hu[..., ::-1], target[..., ::-1]
    hu = hu * (1.0 + 0.02 * rng.normal()) + 3.0 * rng.normal()
    return np.ascontiguousarray(hu, dtype=np.float32), np.ascontiguousarray(target)


def validate(model: torch.nn.Module, cases: list[GridCase]) -> dict[str, float]:
    """Whole-grid Dice (probability ≥ 0.5 against blood fraction ≥ 0.5, pooled over the cases)
    and case detection of ≥ :data:`DETECT_ML` (sensitivity, specificity)."""
    model.eval()
    overlap = predicted = true = 0.0
    tp = fn = tn = fp = 0
    for case in cases:
        found = (ich_net.logits_on_grid(model, case.hu) >= 0.0).numpy()
        truth = case.target >= 0.5
        overlap += float((found & truth).sum())
        predicted, true = predicted + float(found.sum()), true + float(truth.sum())
        positive, called = truth.sum() * case.voxel_ml >= DETECT_ML, \
            found.sum() * case.voxel_ml >= DETECT_ML
        tp, fn = tp + int(positive and called), fn + int(positive and not called)
        tn, fp = tn + int(not positive and not called), fp + int(not positive and called)
    model.train()
    return {"dice": 2.0 * overlap / max(predicted + true, 1.0),
            "sensitivity": tp / max(tp + fn, 1), "specificity": tn / max(tn + fp, 1),
            "positives": float(tp + fn), "negatives": float(tn + fp)}


def save(model: torch.nn.Module, out: Path, meta: dict[str, Any]) -> None:
    """Write the state dict to ``out`` and ``meta`` beside it (``.json``)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out)
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")


def train(folders: Sequence[Path], out: Path, epochs: int, seed: int = 0,
          init: Path | None = None, threads: int = 1, steps: int = STEPS_PER_EPOCH,
          log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train on the cases under ``folders`` (from ``init`` weights when given) for ``epochs``
    of ``steps`` batches, print one line per epoch, keep the best validation epoch in
    ``out``; returns its metadata."""
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    cases = load_cases(folders)
    training, validation = split(cases)
    if not training:
        raise InputError("need at least two cases with voxel truth (one validates)")
    centres = [c.centres() for c in training]
    model = ich_net.load(init) if init is not None else ich_net.build_model()
    model.train()
    loss_fn = DiceCELoss(sigmoid=True, batch=True)
    optimiser = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, epochs * steps,
                                                          eta_min=LEARNING_RATE / 30)
    meta: dict[str, Any] = {
        "model": "monai.networks.nets.UNet", "channels": list(ich_net.CHANNELS),
        "res_units": ich_net.RES_UNITS, "grid_mm": list(ich_net.GRID_MM),
        "windows_hu": [list(w) for w in ich_net.WINDOWS_HU], "patch": list(PATCH),
        "batch": BATCH, "steps_per_epoch": steps, "epochs": epochs, "seed": seed,
        "init": str(init) if init else None, "data": [str(f) for f in folders],
        "families": _families(training), "validation_cases": [c.name for c in validation],
        "torch": torch.__version__, "monai": monai.__version__}
    best = -1.0
    started = time.perf_counter()
    for epoch in range(1, epochs + 1):
        losses = []
        for _ in range(steps):
            picks = rng.integers(0, len(training), size=BATCH)
            pairs = [sample_patch(training[i], centres[i], rng) for i in picks]
            x = ich_net.channels(torch.from_numpy(np.stack([p[0] for p in pairs])))
            y = torch.from_numpy(np.stack([p[1] for p in pairs]))[:, None]
            loss = loss_fn(model(x), y)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            losses.append(loss.item())
        metrics = validate(model, validation) if validation else {"dice": 0.0}
        line = (f"epoch {epoch}/{epochs} loss {np.mean(losses):.3f} val dice "
                f"{metrics['dice']:.3f}")
        if validation:
            line += (f" sens {metrics['sensitivity']:.2f} spec {metrics['specificity']:.2f}"
                     f" ({len(validation)} cases)")
        log(f"{line} {time.perf_counter() - started:.0f} s")
        if metrics["dice"] > best:
            best = metrics["dice"]
            meta.update(best_epoch=epoch, validation=metrics, loss=float(np.mean(losses)),
                        date=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                        seconds=round(time.perf_counter() - started))
            save(model, out, meta)
    return meta


def _families(cases: list[GridCase]) -> dict[str, dict[str, Any]]:
    """Per family: case count and seeds."""
    out: dict[str, dict[str, Any]] = {}
    for case in cases:
        entry = out.setdefault(case.family, {"cases": 0, "seeds": []})
        entry["cases"] += 1
        if case.seed is not None:
            entry["seeds"].append(case.seed)
    return out


@dataclass
class Tally:
    """Counts of one method on one folder (truth ≥ :data:`DETECT_ML` is positive)."""

    tp: int = 0
    fn: int = 0
    tn: int = 0
    fp: int = 0
    volume_ok: int = 0
    volume_n: int = 0
    kind_hit: int = 0
    kind_n: int = 0

    def line(self, name: str, seconds: list[float]) -> str:
        return (f"{name:>8} | sensitivity {self.tp}/{self.tp + self.fn} = "
                f"{self.tp / max(self.tp + self.fn, 1):.2f} | specificity "
                f"{self.tn}/{self.tn + self.fp} = {self.tn / max(self.tn + self.fp, 1):.2f} | "
                f"volume within 15 % or 2 mL {self.volume_ok}/{self.volume_n} | true kinds "
                f"reported {self.kind_hit}/{self.kind_n} | median analysis "
                f"{float(np.median(seconds or [0.0])):.2f} s")


def ablation(data: Path, methods: Sequence[str]) -> list[str]:
    """One table line per haemorrhage method on the labelled folder ``data`` (the scoring of
    :func:`strokealert.ncct.evaluate.evaluate`)."""
    tallies = {m: Tally() for m in methods}
    seconds: dict[str, list[float]] = {m: [] for m in methods}
    for case in read_labels(data):
        volume, spacing = read_volume(largest_series([case.folder], "NCCT"), "NCCT")
        for method in methods:
            started = time.perf_counter()
            result = analyze_volume(volume, spacing, method=method)
            seconds[method].append(time.perf_counter() - started)
            t = tallies[method]
            if not case.ich:
                t.tn, t.fp = t.tn + (not result.suspected), t.fp + result.suspected
                continue
            if case.volume_ml is not None and case.volume_ml < DETECT_ML:
                continue
            t.tp, t.fn = t.tp + result.suspected, t.fn + (not result.suspected)
            if case.volume_ml is not None:
                t.volume_n += 1
                t.volume_ok += abs(result.volume_ml - case.volume_ml) <= max(
                    2.0, 0.15 * case.volume_ml)
            t.kind_n += len(case.kinds)
            t.kind_hit += sum(k in result.kinds for k in case.kinds)
    return [f"{data.name}:"] + [tallies[m].line(m, seconds[m]) for m in methods]

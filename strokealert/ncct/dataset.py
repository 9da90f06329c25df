"""Evaluation cases for the haemorrhage detector: a folder of DICOM NCCT series with labels.

The layout is the same for synthetic cases and a hospital's own scans::

    DIR/labels.csv            case,ich,kinds,volume_ml   (kinds ';'-separated, volume optional)
    DIR/<case>/...            the DICOM files of one NCCT series (any file names, sub-folders)
    DIR/<case>/truth_blood.npz   optional voxel truth (``mask``: 0 none, 1 + kind index)

:func:`write_synthetic` fills such a folder from one generator family
(:mod:`strokealert.phantoms.ncct_families`), so ``strokealert ncct evaluate`` reads generated
and real cases the same way.
"""

from __future__ import annotations

import csv
import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from strokealert.errors import InputError
from strokealert.phantoms.ncct_families import (
    BLEED_KINDS,
    FAMILIES,
    MIMICS,
    NcctLabel,
    write_case,
)

LABEL_FIELDS = ("case", "ich", "kinds", "volume_ml")


@dataclass(frozen=True)
class LabelledCase:
    """One row of ``labels.csv`` with the folder of its series."""

    case: str
    folder: Path
    ich: bool
    kinds: tuple[str, ...]
    volume_ml: float | None  # all blood, mL (None when not measured)


def draw_label(rng: np.random.Generator) -> NcctLabel:
    """A random case mix: 1/3 without blood (half of those with several mimics), the rest one
    or two bleed kinds; every case has 0–4 mimics."""
    mimics = tuple(sorted(rng.choice(MIMICS, size=int(rng.integers(0, 5)), replace=False)))
    draw = rng.uniform()
    if draw < 1 / 3:
        if draw < 1 / 6:
            mimics = tuple(sorted(rng.choice(MIMICS, size=int(rng.integers(3, 7)),
                                             replace=False)))
        return NcctLabel(mimics=mimics)
    count = 1 if rng.uniform() < 0.75 else 2
    bleeds = tuple(str(b) for b in rng.choice(BLEED_KINDS, size=count, replace=False))
    return NcctLabel(bleeds=bleeds, mimics=mimics)


def write_synthetic(family: str, out_dir: Path, count: int, first_seed: int = 0,
                    matrix: int = 256) -> Path:
    """Render ``count`` cases of ``family`` (seeds ``first_seed`` …) as DICOM series under
    ``out_dir`` with ``labels.csv``; cases already written are kept. Returns ``out_dir``."""
    if family not in FAMILIES:
        raise InputError(f"unknown generator family {family!r}; known: {', '.join(FAMILIES)}")
    module = importlib.import_module(f"strokealert.phantoms.ncct_families.{family}")
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for seed in tqdm(range(first_seed, first_seed + count), desc=f"{family} cases",
                     unit="case"):
        name = f"{family}-{seed:05d}"
        label = draw_label(np.random.default_rng([seed, 19, 7]))
        case_dir = out_dir / name
        blood_ml = _written_volume(case_dir)
        if blood_ml is None:
            case = module.render(seed, label, matrix=matrix)
            write_case(case, case_dir)
            blood_ml = case.blood_volume_ml()
        rows.append({"case": name, "ich": int(bool(label.bleeds)),
                     "kinds": ";".join(label.bleeds), "volume_ml": f"{blood_ml:.3f}"})
    with (out_dir / "labels.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=LABEL_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return out_dir


def _written_volume(case_dir: Path) -> float | None:
    """Blood volume (mL) of an already written synthetic case, None when not written."""
    import json

    truth = case_dir / "truth.json"
    if not (truth.exists() and (case_dir / "truth_blood.npz").exists()):
        return None
    return float(json.loads(truth.read_text())["blood_volume_ml"])


def read_labels(data: Path) -> Iterator[LabelledCase]:
    """The cases of ``data/labels.csv`` (see the module docstring)."""
    path = data / "labels.csv"
    if not path.exists():
        raise InputError(f"no labels.csv in {data}")
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            name = (row.get("case") or "").strip()
            if not name:
                continue
            folder = data / name
            if not folder.is_dir():
                raise InputError(f"labels.csv names case {name!r} but {folder} is missing")
            kinds = tuple(k.strip() for k in (row.get("kinds") or "").split(";") if k.strip())
            unknown = [k for k in kinds if k not in BLEED_KINDS]
            if unknown:
                raise InputError(f"case {name!r}: unknown kinds {unknown}; known: {BLEED_KINDS}")
            ich = str(row.get("ich", "")).strip().lower() in ("1", "true", "yes")
            volume = (row.get("volume_ml") or "").strip()
            yield LabelledCase(name, folder, ich, kinds, float(volume) if volume else None)


def truth_mask(case: LabelledCase) -> np.ndarray | None:
    """The voxel truth of a case (0 none, 1 + kind index), None when not provided."""
    path = case.folder / "truth_blood.npz"
    if not path.exists():
        return None
    with np.load(path) as data:
        return np.asarray(data["mask"], dtype=np.uint8)

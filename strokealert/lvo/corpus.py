"""A cached, resumable corpus of rendered synthetic CTA from every generator family (issue 17).

Each case is one file ``root/<family>/<seed>.npz`` (compressed): the volume as int16 HU
(z, y, x), its spacing in mm (z, y, x), and a JSON ``meta`` string with the label, the matrix
and what the generator drew (pose, kernel, noise, variants ...). Files are written under a
temporary name and renamed, so an interrupted :func:`build` leaves no partial case and simply
continues where it stopped when run again.

Families: ``original`` wraps :mod:`strokealert.phantoms.cta` (the generator the first model
was trained on); ``willis``, ``grown`` and ``traced`` are the independent families of
:mod:`strokealert.phantoms.cta_families`. :func:`label_plan` gives every family the same mix:
45 % LVO (ICA, M1, M2 and basilar, both sides) and 55 % negatives, most of them hard ones.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from strokealert.errors import InputError
from strokealert.phantoms.cta_families import CaseLabel

log = logging.getLogger(__name__)

FAMILIES: tuple[str, ...] = ("original", "willis", "grown", "traced")

FIRST_SEED = 500_000
"""Seeds of every family start here: clear of the original model's training (0-1499),
validation (100000-) and test (900000-) seeds."""

BLOCK: tuple[tuple[str, str | None, int], ...] = (
    ("lvo", "ICA", 5), ("lvo", "M1", 5), ("lvo", "M2", 5), ("lvo", "basilar", 3),
    ("normal", None, 6), ("stenosis", None, 4), ("hypoplastic", None, 4),
    ("distal_occlusion", None, 4), ("asymmetric_normal", None, 4),
)
"""One block of 40 planned cases (kind, site, count): 18 LVO (45 %) and 22 negatives."""

BLOCK_SIZE = sum(count for _, _, count in BLOCK)

ORIGINAL_FOV_MM = 240.0  # field of view of the original generator (its render's default)

HU_MIN, HU_MAX = -1024, 3071


@dataclass(frozen=True)
class CorpusCase:
    """One rendered case of the corpus."""

    family: str
    seed: int
    label: CaseLabel
    volume_hu: np.ndarray  # (z, y, x) int16 HU
    spacing_mm: tuple[float, float, float]  # (z, y, x)
    details: dict[str, Any]  # what the generator drew (pose, kernel, noise ...)


def default_root() -> Path:
    """``$STROKEALERT_DATA_DIR/lvo-corpus``, else ``var/lvo-corpus``."""
    return Path(os.environ.get("STROKEALERT_DATA_DIR", "var")) / "lvo-corpus"


def _block_labels(block: int) -> list[CaseLabel]:
    """The 40 labels of plan block ``block`` in a fixed shuffled order.

    Lateral sites alternate left/right, starting on the other side in odd blocks, so every
    two blocks hold as many left as right occlusions of each site.
    """
    labels: list[CaseLabel] = []
    for kind, site, count in BLOCK:
        for i in range(count):
            if kind == "lvo" and site != "basilar":
                side = ("left", "right")[(i + block) % 2]
                labels.append(CaseLabel("lvo", site, side))
            elif kind == "lvo":
                labels.append(CaseLabel("lvo", site, "none"))
            else:
                labels.append(CaseLabel(kind))
    order = np.random.default_rng([block, 17]).permutation(len(labels))
    return [labels[i] for i in order]


def label_plan(family: str, n: int) -> list[tuple[int, CaseLabel]]:
    """Seeds and labels of the first ``n`` cases of ``family``.

    The plan is the same for every family and every prefix of it keeps the mix of
    :data:`BLOCK` (to within one block), so a corpus can grow from ``n`` to more cases.
    """
    _check_family(family)
    blocks = [_block_labels(b) for b in range((n + BLOCK_SIZE - 1) // BLOCK_SIZE)]
    flat = [label for block in blocks for label in block]
    return [(FIRST_SEED + i, flat[i]) for i in range(n)]


def _check_family(family: str) -> None:
    if family not in FAMILIES:
        raise ValueError(f"unknown CTA family {family!r} (one of {', '.join(FAMILIES)})")


def _to_int16(volume: np.ndarray) -> np.ndarray:
    """HU rounded and clipped to the 12-bit CT range, as int16."""
    if volume.dtype == np.int16:
        return volume
    out: np.ndarray = np.clip(np.rint(volume), HU_MIN, HU_MAX).astype(np.int16)
    return out


def _render_original(seed: int, label: CaseLabel, matrix: int) -> CorpusCase:
    """The original generator, steered to ``label``.

    Both of its profiles are used (``train`` for even seeds, ``heldout`` for odd ones); the
    in-plane pixel is ``240 mm / matrix`` and slices are the profile's (1.25-3 mm at matrix
    192) scaled by sqrt(192 / matrix). Negative kinds map onto its own: ``distal_occlusion``
    is its distal M3 occlusion, ``stenosis`` its ICA/M1 stenosis, ``hypoplastic`` a
    hypoplastic A1 or P1, ``asymmetric_normal`` a fetal PCA with a hypoplastic vertebral.
    """
    from strokealert.phantoms import cta

    profile = cta.TRAIN if seed % 2 == 0 else cta.HELDOUT
    site = label.site if label.kind == "lvo" else None
    spec = cta.draw_case(seed, profile, lvo_site=site, quality="good")
    rng = np.random.default_rng([seed, 31])
    pixel = ORIGINAL_FOV_MM / matrix
    slice_mm = float(rng.choice(profile.slice_mm)) * float(np.sqrt(192 / matrix))
    updates: dict[str, Any] = {"spacing_mm": (slice_mm, pixel, pixel)}
    if label.kind == "lvo":
        updates["side"] = label.side
    else:
        variants = [v for v in spec.variants if v not in (
            "hypoplastic_a1", "hypoplastic_p1", "fetal_pca", "hypoplastic_vertebral")]
        if label.kind == "hypoplastic":
            variants.append(str(rng.choice(["hypoplastic_a1", "hypoplastic_p1"])))
        elif label.kind == "asymmetric_normal":
            variants += ["fetal_pca", "hypoplastic_vertebral"]
        negative = {"distal_occlusion": "distal_m3", "stenosis": "stenosis"}.get(label.kind,
                                                                                 "normal")
        updates.update(side="none", negative_kind=negative, variants=variants)
    spec = dataclasses.replace(spec, **updates)
    rendered = cta.render(spec, matrix=matrix)
    details = {**spec.truth(), "profile": profile.name, "origin_mm": list(rendered.origin_mm),
               "kernel": "Hv40"}
    return CorpusCase("original", seed, label, _to_int16(rendered.volume_hu),
                      rendered.spacing_mm, details)


def render_case(family: str, seed: int, label: CaseLabel, matrix: int) -> CorpusCase:
    """Render one case of ``family`` (deterministic for ``seed`` and ``label``)."""
    _check_family(family)
    if family == "original":
        return _render_original(seed, label, matrix)
    from strokealert.phantoms.cta_families import grown, traced, willis

    module = {"willis": willis, "grown": grown, "traced": traced}[family]
    case = module.render(seed, label, matrix=matrix)
    dz, dy, dx = case.spacing_mm
    return CorpusCase(family, seed, label, _to_int16(case.volume_hu),
                      (float(dz), float(dy), float(dx)), dict(case.details))


def case_path(root: Path, family: str, seed: int) -> Path:
    """Where case ``seed`` of ``family`` lives."""
    return root / family / f"{seed}.npz"


def save_case(case: CorpusCase, root: Path, matrix: int) -> Path:
    """Write ``case`` atomically (temporary file in the same folder, fsync, rename)."""
    path = case_path(root, case.family, case.seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"family": case.family, "seed": case.seed, "kind": case.label.kind,
            "site": case.label.site, "side": case.label.side, "matrix": matrix,
            "details": case.details}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as handle:
            np.savez_compressed(handle, volume_hu=_to_int16(case.volume_hu),
                                spacing_mm=np.asarray(case.spacing_mm, dtype=np.float64),
                                meta=np.array(json.dumps(meta, default=str)))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _read_meta(path: Path) -> dict[str, Any]:
    with np.load(path, allow_pickle=False) as data:
        meta: dict[str, Any] = json.loads(str(data["meta"]))
    return meta


def load_case(path: Path) -> CorpusCase:
    """Read one corpus file."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        volume = data["volume_hu"]
        dz, dy, dx = (float(v) for v in data["spacing_mm"])
    label = CaseLabel(meta["kind"], meta["site"], meta["side"])
    return CorpusCase(meta["family"], int(meta["seed"]), label, volume, (dz, dy, dx),
                      meta["details"])


def _build_one(job: tuple[str, str, int, str, str | None, str, int]) -> str | None:
    """Render and save one case; returns why it failed, or None."""
    root, family, seed, kind, site, side, matrix = job
    label = CaseLabel(kind, site, side)
    try:
        save_case(render_case(family, seed, label, matrix), Path(root), matrix)
    except Exception as exc:  # a generator bug must not stop the rest of the corpus
        return f"{family} seed {seed} ({label}): {type(exc).__name__}: {exc}"
    return None


def build(root: Path, family: str, n: int, *, matrix: int = 192, workers: int = 1,
          progress: bool = True, first: int = 0) -> None:
    """Render the cases of ``label_plan(family, n)[first:]`` that ``root`` does not hold yet.

    Resumable: existing files are kept. A root holds one matrix per family; an existing
    case of another matrix raises :class:`InputError` rather than mixing resolutions. A case
    whose rendering fails is logged and left out; the others are still rendered.
    """
    plan = label_plan(family, n)[first:]
    missing = []
    for seed, label in plan:
        path = case_path(root, family, seed)
        if path.exists():
            found = int(_read_meta(path)["matrix"])
            if found != matrix:
                raise InputError(f"{path} was rendered at matrix {found}, not {matrix}")
            continue
        missing.append((str(root), family, seed, label.kind, label.site, label.side, matrix))
    bar = tqdm(total=len(missing), desc=f"{family} ({len(plan) - len(missing)}/{len(plan)} cached)",
               unit="case", disable=not progress)
    with bar, ProcessPoolExecutor(max_workers=workers) if workers > 1 else nullcontext() as pool:
        results = pool.map(_build_one, missing) if pool is not None else map(_build_one, missing)
        for error in results:
            if error is not None:
                log.error("corpus case not rendered: %s", error)
            bar.update()


def iter_cases(root: Path, family: str) -> Iterator[CorpusCase]:
    """The cases of ``family`` under ``root`` in seed order (only complete files)."""
    _check_family(family)
    folder = root / family
    if not folder.is_dir():
        return
    paths = sorted(folder.glob("[0-9]*.npz"), key=lambda p: int(p.stem))
    for path in paths:
        yield load_case(path)

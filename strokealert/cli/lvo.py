"""``strokealert lvo train|evaluate|corpus`` and ``strokealert phantom cta``."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from strokealert.errors import InputError

if TYPE_CHECKING:
    from strokealert.lvo.dataset import Sample

lvo_app = typer.Typer(help="Train and evaluate the LVO model (synthetic or local data).",
                      no_args_is_help=True)

SITE_CHOICES = ("random", "none", "ICA", "M1", "M2", "basilar")


CACHE_CHUNK = 100  # cases per cache file: seeds first..first+99


def _synthetic(profile_name: str, first_seed: int, count: int, workers: int,
               cache: Path | None) -> list[Sample]:
    """Cases ``first_seed …`` of a profile, reusing (and filling) the cache chunk by chunk."""
    from strokealert.lvo.dataset import generate, load_samples, save_samples
    from strokealert.phantoms.cta import HELDOUT, TRAIN

    profile = {"train": TRAIN, "heldout": HELDOUT}[profile_name]
    samples: list[Sample] = []
    for start in range(first_seed, first_seed + count, CACHE_CHUNK):
        size = min(CACHE_CHUNK, first_seed + count - start)
        path = cache / f"{profile_name}-{start}-{size}.npz" if cache else None
        if path is not None and path.exists():
            samples.extend(load_samples(path))
            continue
        chunk = generate(range(start, start + size), profile, workers,
                         desc=f"{profile_name} cases {start}-{start + size - 1}")
        if path is not None:
            save_samples(chunk, path)
        samples.extend(chunk)
    return samples


def _real(data: Path, layout: str) -> list[Sample]:
    from strokealert.lvo.dataset import real_samples

    if not data.is_dir():
        raise InputError(f"no such data folder: {data}")
    return list(real_samples(data, layout))


@lvo_app.command("train")
def train(
    out: Path = typer.Option(Path("lvo-model/lvo_mipnet.pt"), "--out",
                             help="checkpoint to write; MODEL_CARD.md goes beside it"),
    train_cases: int = typer.Option(1500, help="synthetic training cases (seeds 0…)"),
    val_cases: int = typer.Option(300, help="synthetic validation cases (seeds 100000…)"),
    test_cases: int = typer.Option(400, help="held-out synthetic cases (seeds 900000…, "
                                   "held-out generator settings)"),
    epochs: int = typer.Option(30, min=1),
    seed: int = typer.Option(20260314, help="seed of initialisation, batches, augmentation"),
    workers: int = typer.Option(1, min=1, help="processes generating cases"),
    threads: int = typer.Option(1, min=1, help="torch threads for training"),
    max_minutes: float = typer.Option(50.0, help="stop training after this many minutes"),
    cache: Path | None = typer.Option(None, help="folder to keep/reuse generated cases"),
    data: Path | None = typer.Option(None, help="local cases to add (see --layout)"),
    layout: str = typer.Option("dicom", help="layout of --data: isles or dicom"),
    version: str = typer.Option("1.0.0", help="model version recorded in results"),
) -> None:
    """Generate cases, train the CNN, calibrate the fusion, evaluate, write weights + card."""
    from strokealert.lvo.train import TrainConfig, model_card, run_training

    train_set = _synthetic("train", 0, train_cases, workers, cache)
    val_set = _synthetic("train", 100_000, val_cases, workers, cache)
    test_set = _synthetic("heldout", 900_000, test_cases, workers, cache)
    description = (f"- synthetic CTA from `strokealert.phantoms.cta`: {train_cases} training "
                   f"cases (profile `train`, seeds 0-{train_cases - 1}), {val_cases} "
                   f"validation (seeds 100000-), {test_cases} held-out test cases (profile "
                   f"`heldout`: other noise, slice spacing, pixel size, pose, seeds 900000-)")
    if data is not None:
        real = _real(data, layout)
        random.Random(seed).shuffle(real)
        n_val, n_test = len(real) // 5, len(real) // 5
        val_set += real[:n_val]
        test_set += real[n_val:n_val + n_test]
        train_set += real[n_val + n_test:]
        description += f"\n- local cases from {data.name} ({layout} layout): {len(real)}"
    if not train_set or not val_set or not test_set:
        raise InputError("training needs training, validation and test cases")
    config = TrainConfig(epochs=epochs, seed=seed, max_minutes=max_minutes, threads=threads)
    model, report = run_training(train_set, val_set, test_set, config, version, description)
    model.save(out)
    (out.parent / "MODEL_CARD.md").write_text(model_card(model, report))
    typer.echo(report)
    typer.echo(f"wrote {out} and {out.parent / 'MODEL_CARD.md'}")


@lvo_app.command("evaluate")
def evaluate(
    model_path: Path | None = typer.Option(None, "--model", help="checkpoint (default: shipped)"),
    cases: int = typer.Option(400, help="held-out synthetic cases"),
    first_seed: int = typer.Option(900_000, help="first seed of the held-out cases"),
    profile: str = typer.Option("heldout", help="generator profile: heldout or train"),
    prevalence: float = typer.Option(0.2, min=0.001, max=0.999, help="for the PPV column"),
    workers: int = typer.Option(1, min=1),
    cache: Path | None = typer.Option(None, help="folder to keep/reuse generated cases"),
    data: Path | None = typer.Option(None, help="evaluate on local cases instead"),
    layout: str = typer.Option("dicom", help="layout of --data: isles or dicom"),
) -> None:
    """Print sensitivity, specificity, PPV, AUC, side accuracy and ECE per site and stratum."""
    from strokealert.lvo import model as lvo_model
    from strokealert.lvo.evaluate import format_table, score, table

    if profile not in ("heldout", "train"):
        raise InputError(f"unknown profile {profile!r} (heldout or train)")
    if model_path is not None and not model_path.is_file():
        raise InputError(f"no such model file: {model_path}")
    model = lvo_model.load(model_path) if model_path else lvo_model.shipped()
    samples = _real(data, layout) if data else _synthetic(profile, first_seed, cases, workers,
                                                          cache)
    if not samples:
        raise InputError("no cases to evaluate")
    rows = table(score(model, samples), model.threshold, prevalence)
    typer.echo(f"model {model.name}; {len(samples)} cases")
    typer.echo(format_table(rows, prevalence, model.threshold))


@lvo_app.command("corpus")
def corpus(
    families: list[str] = typer.Option(["original", "willis", "grown", "traced"], "--families",
                                       help="generator families (repeat the option)"),
    per_family: int = typer.Option(220, min=1, help="cases per family"),
    matrix: int = typer.Option(192, min=64, max=1024, help="in-plane size of the volumes"),
    root: Path | None = typer.Option(None, help="corpus folder (default: "
                                     "$STROKEALERT_DATA_DIR/lvo-corpus or var/lvo-corpus)"),
    workers: int = typer.Option(1, min=1, help="rendering processes"),
) -> None:
    """Render the missing cases of the synthetic CTA corpus (resumable, one .npz per case)."""
    from strokealert.lvo.corpus import FAMILIES, build, default_root

    unknown = sorted(set(families) - set(FAMILIES))
    if unknown:
        raise InputError(f"unknown families {unknown} (one of {', '.join(FAMILIES)})")
    folder = root or default_root()
    for family in families:
        build(folder, family, per_family, matrix=matrix, workers=workers)
    typer.echo(f"corpus at {folder}: {per_family} cases per family for {', '.join(families)}")


def phantom_cta(
    out_dir: Path = typer.Argument(..., help="folder for dicom/ and truth.json"),
    seed: int = typer.Option(1, help="case seed"),
    site: str = typer.Option("M1", help="LVO site: ICA, M1, M2, basilar, none or random"),
    side: str = typer.Option("left", help="left or right (ignored for basilar/none)"),
    quality: str = typer.Option("good", help="good, poor_timing, motion or coverage"),
    slice_mm: float = typer.Option(0.625, min=0.3, max=5.0, help="slice spacing (mm)"),
    pixel_mm: float = typer.Option(0.45, min=0.2, max=2.0, help="pixel size (mm)"),
    matrix: int = typer.Option(512, min=64, max=1024, help="rows = columns"),
    neck: bool = typer.Option(False, help="cover the neck as well"),
) -> None:
    """Synthetic head CTA (DICOM) with an occlusion and its ground truth in truth.json."""
    import dataclasses

    from strokealert.phantoms.cta import FULL, draw_case, render, write_dicom

    if site not in SITE_CHOICES:
        raise InputError(f"unknown site {site!r} ({', '.join(SITE_CHOICES)})")
    if side not in ("left", "right"):
        raise InputError(f"side must be left or right, not {side!r}")
    if quality not in ("good", "poor_timing", "motion", "coverage"):
        raise InputError(f"unknown quality {quality!r}")
    chosen = None if site == "none" else site
    spec = draw_case(seed, FULL, lvo_site=chosen if site != "random" else "random",
                     quality=quality)
    updates: dict[str, Any] = {"spacing_mm": (slice_mm, pixel_mm, pixel_mm), "neck": neck}
    if spec.lvo_site in ("ICA", "M1", "M2") and site != "random":
        updates["side"] = side
    spec = dataclasses.replace(spec, **updates)
    truth = write_dicom(render(spec, matrix=matrix), out_dir)
    typer.echo(json.dumps({k: truth[k] for k in ("lvo", "lvo_site", "side", "quality", "images",
                                                  "shape_zyx")}))


def register(app: typer.Typer) -> None:
    app.add_typer(lvo_app, name="lvo")

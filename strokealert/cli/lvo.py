"""``strokealert lvo train|evaluate|corpus`` and ``strokealert phantom cta``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from strokealert.errors import InputError

if TYPE_CHECKING:
    from strokealert.lvo.dataset import Sample

lvo_app = typer.Typer(help="Train and evaluate the LVO model (synthetic or local data).",
                      no_args_is_help=True)

SITE_CHOICES = ("random", "none", "ICA", "M1", "M2", "basilar")
DEFAULT_CACHE = Path("var/lvo-features")


def _corpus(roots: list[Path], families: list[str], cache: Path, limit: int | None
            ) -> list[Sample]:
    """Samples of the corpus cases under ``roots`` (features cached in ``cache``)."""
    from strokealert.lvo.corpus import FAMILIES
    from strokealert.lvo.dataset import corpus_samples

    unknown = sorted(set(families) - set(FAMILIES))
    if unknown:
        raise InputError(f"unknown families {unknown} (of {', '.join(FAMILIES)})")
    samples: list[Sample] = []
    for family in families:
        for root in roots:
            samples += corpus_samples(root, family, cache, limit)
    return samples


def _real(data: Path, layout: str) -> list[Sample]:
    from strokealert.lvo.dataset import real_samples

    if not data.is_dir():
        raise InputError(f"no such data folder: {data}")
    return list(real_samples(data, layout))


ROOTS_HELP = "corpus folder(s) (`strokealert lvo corpus` builds one); repeat for several"


@lvo_app.command("train")
def train(
    out: Path = typer.Option(Path("lvo-model/lvo_vessels.json"), "--out",
                             help="weights file to write"),
    root: list[Path] = typer.Option([Path("var/lvo-corpus")], "--root", help=ROOTS_HELP),
    family: list[str] = typer.Option(["original", "willis", "grown", "traced"], "--family",
                                     help="generator families to train on"),
    limit: int | None = typer.Option(None, help="at most this many cases per family and root"),
    cache: Path = typer.Option(DEFAULT_CACHE, help="folder of cached features"),
    data: Path | None = typer.Option(None, help="local labelled cases to add (see --layout)"),
    layout: str = typer.Option("dicom", help="layout of --data: isles or dicom"),
    only_data: bool = typer.Option(False, help="train on --data alone (no synthetic cases)"),
    version: str = typer.Option("2.0.0", help="model version recorded in results"),
) -> None:
    """Extract vessel features, fit the classifier and the out-of-distribution gate, write the
    weights; prints the leave-one-family-out table of the same cases."""
    from strokealert.lvo.train import fit_samples, format_lofo, leave_one_family_out

    samples = [] if only_data else _corpus(root, family, cache, limit)
    description = f"synthetic families {', '.join(family)}" if samples else ""
    if data is not None:
        samples += _real(data, layout)
        description += f"; local cases from {data.name} ({layout} layout)"
    if not samples:
        raise InputError("no training cases")
    model = fit_samples(samples, version, description.strip("; "))
    model.save(out)
    if len({s.family for s in samples}) > 1:
        typer.echo(format_lofo(leave_one_family_out(samples), model.threshold))
    typer.echo(f"wrote {out} ({model.metadata['cases']} cases)")


@lvo_app.command("evaluate")
def evaluate(
    model_path: Path | None = typer.Option(None, "--model", help="weights (default: shipped)"),
    lofo: bool = typer.Option(False, "--lofo", help="leave-one-family-out: refit without each "
                              "family and test on it (ignores --model)"),
    root: list[Path] = typer.Option([Path("var/lvo-corpus")], "--root", help=ROOTS_HELP),
    family: list[str] = typer.Option(["original", "willis", "grown", "traced"], "--family"),
    limit: int | None = typer.Option(None, help="at most this many cases per family and root"),
    cache: Path = typer.Option(DEFAULT_CACHE, help="folder of cached features"),
    prevalence: float = typer.Option(0.2, min=0.001, max=0.999, help="for the PPV column"),
    data: Path | None = typer.Option(None, help="evaluate on local cases instead"),
    layout: str = typer.Option("dicom", help="layout of --data: isles or dicom"),
) -> None:
    """Print sensitivity, specificity, PPV, AUC, side accuracy, ECE and abstentions per site
    and negative kind (on local data, the corpus, or leave-one-family-out)."""
    from strokealert.lvo import model as lvo_model
    from strokealert.lvo.evaluate import format_table, score, table
    from strokealert.lvo.train import format_lofo, leave_one_family_out

    if model_path is not None and not model_path.is_file():
        raise InputError(f"no such model file: {model_path}")
    samples = _real(data, layout) if data else _corpus(root, family, cache, limit)
    if not samples:
        raise InputError("no cases to evaluate")
    if lofo:
        typer.echo(f"leave-one-family-out; {len(samples)} cases")
        typer.echo(format_lofo(leave_one_family_out(samples)))
        return
    model = lvo_model.load(model_path) if model_path else lvo_model.shipped()
    typer.echo(f"model {model.name}; {len(samples)} cases")
    typer.echo(format_table(table(score(model, samples), model.threshold, prevalence),
                            prevalence, model.threshold))


@lvo_app.command("corpus")
def corpus(
    families: list[str] = typer.Option(["original", "willis", "grown", "traced"], "--families",
                                       help="generator families (repeat the option)"),
    per_family: int = typer.Option(220, min=1, help="cases per family"),
    first: int = typer.Option(0, min=0, help="skip the plan's first cases (a second corpus "
                              "of other seeds)"),
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
        build(folder, family, per_family, matrix=matrix, workers=workers, first=first)
    typer.echo(f"corpus at {folder}: plan cases {first}-{per_family - 1} of each of "
               f"{', '.join(families)}")


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

"""``strokealert ncct evaluate|train``: the haemorrhage detector on labelled NCCT folders, and
training of its segmentation network."""

from __future__ import annotations

from pathlib import Path

import typer

from strokealert.errors import InputError

ncct_app = typer.Typer(help="Evaluate the NCCT haemorrhage detector and train its segmentation "
                       "network (synthetic or local data).", no_args_is_help=True)
DATA_HELP = "folder of NCCT series with labels.csv (case,ich,kinds,volume_ml); repeatable"


@ncct_app.command("evaluate")
def evaluate(
    data: list[Path] = typer.Option(..., "--data", help=DATA_HELP),
    synthetic: str | None = typer.Option(None, help="first write FAMILY:COUNT synthetic cases "
                                         "(geometric, fields, projected, landmarks, "
                                         "template, laplace, coronal, harmonic, gyral, "
                                         "sectional, folded, voxelised, medial, cellular "
                                         "or metaball) "
                                         "into the single --data folder"),
    method: list[str] = typer.Option([], "--method", help="haemorrhage method(s) to compare: "
                                     "rules, network, veto, fused (repeatable; default: the "
                                     "analysis default)"),
    per_case: bool = typer.Option(False, "--per-case", help="a line per case first: truth, "
                                  "what was found, TP/FN/TN/FP"),
) -> None:
    """Print sensitivity/specificity (truth ≥ 1 mL), volume error and kinds per folder."""
    from strokealert.ncct.analyze import ich_method
    from strokealert.ncct.dataset import write_synthetic
    from strokealert.ncct.evaluate import evaluate as run
    from strokealert.ncct.ich_train import ablation
    from strokealert.phantoms.ncct_families import FAMILIES

    methods = [ich_method(m) for m in method]
    if synthetic:
        family, _, count = synthetic.partition(":")
        if family not in FAMILIES or not count.isdigit() or len(data) != 1:
            raise InputError(f"--synthetic takes FAMILY:N ({', '.join(FAMILIES)}) "
                             "and one --data folder")
        write_synthetic(family, data[0], int(count))
    for folder in data:
        if not folder.is_dir():
            raise InputError(f"no such data folder: {folder}")
        for line in ablation(folder, methods) if methods else run(folder, per_case):
            typer.echo(line)


@ncct_app.command("train")
def train(
    data: list[Path] = typer.Option(..., "--data", help=DATA_HELP + "; needs truth_blood.npz"),
    epochs: int = typer.Option(20, min=1, help="epochs of training patches"),
    steps: int = typer.Option(40, min=1, help="batches of 4 patches per epoch"),
    out: Path = typer.Option(Path("ich-model/ich_net.pt"), "--out", help="weights file to "
                             "write (its training metadata goes beside it as .json)"),
    fine_tune: bool = typer.Option(False, help="start from the shipped weights"),
    seed: int = typer.Option(0, help="random seed of the patches and initial weights"),
    threads: int = typer.Option(1, min=1, help="torch threads"),
) -> None:
    """Train the blood segmentation network; prints loss and validation Dice per epoch."""
    from strokealert.ncct import ich_net
    from strokealert.ncct.ich_train import train as run

    for folder in data:
        if not folder.is_dir():
            raise InputError(f"no such data folder: {folder}")
    meta = run(data, out, epochs, seed=seed, init=ich_net.WEIGHTS_PATH if fine_tune else None,
               threads=threads, steps=steps, log=typer.echo)
    typer.echo(f"wrote {out} (best epoch {meta['best_epoch']}, validation Dice "
               f"{meta['validation']['dice']:.3f})")


def register(app: typer.Typer) -> None:
    app.add_typer(ncct_app, name="ncct")

"""``strokealert ncct evaluate``: the haemorrhage detector on labelled NCCT folders."""

from __future__ import annotations

from pathlib import Path

import typer

from strokealert.errors import InputError

ncct_app = typer.Typer(help="Evaluate the NCCT haemorrhage detector (synthetic or local data).",
                       no_args_is_help=True)


@ncct_app.command("evaluate")
def evaluate(
    data: list[Path] = typer.Option(..., "--data", help="folder of NCCT series with "
                                    "labels.csv (case,ich,kinds,volume_ml); repeatable"),
    synthetic: str | None = typer.Option(None, help="first write FAMILY:COUNT synthetic cases "
                                         "(geometric or fields) into the single --data folder"),
) -> None:
    """Print sensitivity/specificity (truth ≥ 1 mL), volume error and kinds per folder."""
    from strokealert.ncct.dataset import write_synthetic
    from strokealert.ncct.evaluate import evaluate as run

    if synthetic:
        family, _, count = synthetic.partition(":")
        if family not in ("geometric", "fields") or not count.isdigit() or len(data) != 1:
            raise InputError("--synthetic takes geometric:N or fields:N and one --data folder")
        write_synthetic(family, data[0], int(count))
    for folder in data:
        if not folder.is_dir():
            raise InputError(f"no such data folder: {folder}")
        for line in run(folder):
            typer.echo(line)


def register(app: typer.Typer) -> None:
    app.add_typer(ncct_app, name="ncct")

"""``strokealert phantom ctp|cta|study``: synthetic DICOM series with known ground truth."""

from __future__ import annotations

import typer

phantom_app = typer.Typer(
    help="Write synthetic DICOM series with ground truth (truth.json).", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    from strokealert.phantoms.ctp import ctp_command
    from strokealert.phantoms.study import study_command

    phantom_app.command("ctp")(ctp_command)
    phantom_app.command("study")(study_command)
    from strokealert.cli.lvo import phantom_cta

    phantom_app.command("cta")(phantom_cta)
    app.add_typer(phantom_app, name="phantom")

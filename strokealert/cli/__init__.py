"""The ``strokealert`` command line. Each area registers its commands from its own module."""

from __future__ import annotations

import logging
import sys
from importlib import import_module

import click
import typer

from strokealert.errors import InputError

app = typer.Typer(
    name="strokealert",
    help="Stroke alert service: DICOM ingest, perfusion, LVO detection, alerts, audit. "
    "Not a medical device.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Modules under strokealert.cli that expose ``register(app: typer.Typer) -> None``.
COMMAND_MODULES = [
    "strokealert.cli.dicom",
    "strokealert.cli.db",
    "strokealert.cli.phantom",
    "strokealert.cli.analyze",
    "strokealert.cli.web",
    "strokealert.cli.lvo",
    "strokealert.cli.ncct",
    "strokealert.cli.notify",
]

for _name in COMMAND_MODULES:
    import_module(_name).register(app)


@app.callback()
def _main(verbose: bool = typer.Option(False, "--verbose", "-v", help="debug logging")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def main() -> None:
    """Console entry point: input problems exit 2 with a one-line reason, never a traceback."""
    try:
        # Without standalone mode, click returns typer.Exit's code instead of exiting.
        code = app(standalone_mode=False)
    except InputError as exc:
        print(f"strokealert: {exc}", file=sys.stderr)
        sys.exit(2)
    except (click.exceptions.Abort, typer.Abort):
        sys.exit(1)
    except (click.ClickException, typer.TyperException) as exc:  # bad option, missing argument
        exc.show()  # type: ignore[union-attr]
        sys.exit(getattr(exc, "exit_code", 2))
    sys.exit(code if isinstance(code, int) else 0)

"""``strokealert analyze PATH... [--out DIR] [--json]``: offline analysis of DICOM files."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from strokealert.config import load_settings


def analyze(
    paths: list[Path] = typer.Argument(..., help="DICOM files or folders (any mix of series)"),
    out: Path = typer.Option(Path("analysis-out"), "--out", help="where maps and images go"),
    as_json: bool = typer.Option(False, "--json", help="print the strokealert.analysis/1 JSON"),
    config: Path | None = typer.Option(None, "--config", help="TOML settings file"),
) -> None:
    """Run everything that applies (perfusion on CTP, LVO on CTA, haemorrhage and ASPECTS on
    NCCT) and decide the alert level."""
    from strokealert.pipeline.analysis import analyze_paths
    from strokealert.pipeline.jobs import rule_settings
    from strokealert.pipeline.perfusion_settings import perfusion_config

    settings = load_settings(config)
    result = analyze_paths(paths, out, rule_settings(settings), perfusion_config(settings))
    (out / "result.json").write_text(json.dumps(result, indent=2))
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    alert = result["alert"]
    typer.echo(f"alert level: {alert['level']}")
    for reason in alert["reasons"]:
        typer.echo(f"  - {reason}")
    for name in ("perfusion", "lvo", "ncct"):
        block = result[name]
        detail = f" ({block['error']})" if block.get("error") else ""
        typer.echo(f"{name}: {block['status']}{detail}")
    typer.echo(f"outputs in {out}")


def register(app: typer.Typer) -> None:
    app.command("analyze")(analyze)

"""``strokealert phantom study``: a whole stroke study — CTA and CT perfusion of one patient.

The CTA has an occlusion (default: left M1) and the CTP a core and penumbra in the same MCA
territory, both under one Study Instance UID, written as DICOM with a ``truth.json``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer

from strokealert.phantoms.series import SeriesInfo, StudyInfo, new_uid, write_dynamic, write_volume

SITES = ("ICA", "M1", "M2", "basilar")
STUDY_SPAN = timedelta(minutes=5)  # start to last image: CTA at 2 min, CTP 4 min + 40 × 1.5 s


def write_study(out_dir: Path, *, side: str = "left", site: str = "M1", seed: int = 7,
                small: bool = False, noise_hu: float = 10.0,
                started: datetime | None = None) -> dict[str, Any]:
    """Write ``out_dir/cta`` and ``out_dir/ctp`` of one synthetic patient; returns the truth.

    ``started``: the study's start in UTC, the header's wall clock with TimezoneOffsetFromUTC
    +0000 (default: :class:`StudyInfo`'s fixed time); CTA 2 min and CTP 4 min after it.

    Full size: CTA 512×512 at 0.45 mm with 0.625 mm slices, CTP 512×512 × 16 slices × 40
    frames. ``small``: CTA 256×256 at 0.9 mm with 1.25 mm slices, CTP 128×128 × 16 × 40.
    """
    from perfusion import phantoms as ctp_phantoms
    from strokealert.phantoms.cta import FULL, draw_case, render

    if site not in SITES:
        raise ValueError(f"site must be one of {SITES}")
    lesion_side = "none" if site == "basilar" else side
    study = StudyInfo() if started is None else StudyInfo(
        study_datetime=started.astimezone(UTC).replace(tzinfo=None, microsecond=0))

    spec = draw_case(seed, FULL, lvo_site=site, quality="good")
    spacing = (1.25, 0.9, 0.9) if small else (0.625, 0.45, 0.45)
    spec = replace(spec, side=lesion_side, spacing_mm=spacing, motion_mm=0.0, truncated=False)
    rendered = render(spec, matrix=256 if small else 512)
    cta_series = SeriesInfo(series_number=3, description="CTA Head Neck Angio", contrast=True,
                            kernel="Hv40", kvp=100.0)
    cta_study = replace(study, frame_of_reference_uid=new_uid())
    cta_paths = write_volume(rendered.volume_hu, out_dir / "cta", study=cta_study,
                             series=cta_series, spacing_mm=rendered.spacing_mm,
                             origin_mm=rendered.origin_mm, signed=True,
                             acquisition_datetime=study.study_datetime + timedelta(minutes=2))

    matrix = 128 if small else 512
    pixel = 192.0 / matrix
    times = ctp_phantoms.regular_times(40, 1.5)
    head = ctp_phantoms.head_phantom(
        shape=(16, matrix, matrix), spacing=(5.0, pixel, pixel), times=times,
        noise_hu=noise_hu, lesion=lesion_side != "none",
        lesion_side=lesion_side if lesion_side != "none" else "right", seed=seed)
    ctp_series = SeriesInfo(series_number=4, description="CT PERFUSION 4D", contrast=True,
                            protocol_name="Brain Perfusion")
    ctp_study = replace(study, frame_of_reference_uid=new_uid())
    ctp_paths = write_dynamic(head.frames, times, out_dir / "ctp", study=ctp_study,
                              series=ctp_series, spacing_mm=head.spacing,
                              origin_mm=(-96.0, -96.0, -40.0),
                              start=study.study_datetime + timedelta(minutes=4))
    truth = {
        "schema": "strokealert.phantom.study/1",
        "study_instance_uid": study.study_instance_uid,
        "lvo": {"site": site, "side": lesion_side, "series_instance_uid":
                cta_series.series_instance_uid, "images": len(cta_paths)},
        "perfusion": {**head.truth, "series_instance_uid": ctp_series.series_instance_uid,
                      "images": len(ctp_paths)},
        "phi": {"patient_name": study.patient.name, "patient_id": study.patient.patient_id,
                "birth_date": study.patient.birth_date,
                "accession_number": study.accession_number},
    }
    (out_dir / "truth.json").write_text(json.dumps(truth, indent=2, default=str))
    return truth


def study_command(
    out_dir: Path = typer.Argument(..., help="folder for cta/, ctp/ and truth.json"),
    side: str = typer.Option("left", help="side of the occlusion and the lesion"),
    site: str = typer.Option("M1", help="occlusion site: " + ", ".join(SITES)),
    seed: int = typer.Option(7, help="random seed"),
    small: bool = typer.Option(False, "--small", help="reduced matrices (fast tests)"),
    noise: float = typer.Option(10.0, help="CTP noise, HU"),
    now: bool = typer.Option(False, "--now", help="date the study so that its last image is "
                             "acquired now (UTC), instead of the fixed default"),
) -> None:
    """A synthetic stroke study: CTA with an occlusion plus CTP with core and penumbra."""
    from strokealert.errors import InputError

    if side not in ("left", "right"):
        raise InputError("--side must be left or right")
    if site not in SITES:
        raise InputError(f"--site must be one of {', '.join(SITES)}")
    truth = write_study(out_dir, side=side, site=site, seed=seed, small=small, noise_hu=noise,
                        started=datetime.now(UTC) - STUDY_SPAN if now else None)
    typer.echo(f"wrote CTA ({truth['lvo']['images']} images) and CTP "
               f"({truth['perfusion']['images']} images) to {out_dir}")

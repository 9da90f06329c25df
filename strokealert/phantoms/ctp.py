"""CT perfusion phantoms written as real CTP DICOM series, with ``truth.json``.

The arrays and truth come from ``perfusion.phantoms``; this module writes them with the
synthetic CT writer and can reproduce the header conventions scanners use in the field:
reversed or shuffled instance numbers, one constant ContentTime with GE's private per-image
time, shuttle mode (two table positions alternating), signed pixels, irregular sampling.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import typer

from perfusion import phantoms
from strokealert.errors import InputError
from strokealert.phantoms.series import SeriesInfo, StudyInfo, ct_slice, save

CONVENTIONS = ("standard", "reversed", "shuffled", "ge-private-time", "shuttle")


@dataclass
class CtpPhantomOptions:
    """What to write. Times in s, noise in HU, matrix in pixels (field of view stays 192 mm)."""

    kind: str = "head"
    noise_hu: float = 10.0
    motion: bool = False
    matrix: int = 128
    slices: int = 16
    frames: int = 40
    interval_s: float = 1.5
    sampling: str = "regular"
    convention: str = "standard"
    signed: bool = False
    residue: str = "exponential"
    lesion: bool = True
    seed: int = 0


def _times(options: CtpPhantomOptions) -> np.ndarray:
    if options.sampling == "irregular":
        return phantoms.irregular_times()
    return phantoms.regular_times(options.frames, options.interval_s)


def make_phantom(options: CtpPhantomOptions, times: np.ndarray) -> phantoms.Phantom:
    """The phantom arrays sampled at ``times``."""
    if options.kind == "tile":
        return phantoms.tile_phantom(noise_hu=options.noise_hu, times=times,
                                     residue=options.residue, seed=options.seed)
    pixel = 192.0 / options.matrix
    return phantoms.head_phantom(shape=(options.slices, options.matrix, options.matrix),
                                 spacing=(80.0 / options.slices, pixel, pixel), times=times,
                                 noise_hu=options.noise_hu, motion=options.motion,
                                 lesion=options.lesion, residue=options.residue,
                                 seed=options.seed)


def write_ctp_phantom(out_dir: Path, options: CtpPhantomOptions | None = None) -> dict[str, Any]:
    """Write the series under ``out_dir`` and ``out_dir/truth.json``; returns the truth."""
    options = options or CtpPhantomOptions()
    if options.convention not in CONVENTIONS:
        raise ValueError(f"unknown convention {options.convention!r}; one of {CONVENTIONS}")
    times = _times(options)
    shuttle = options.convention == "shuttle"
    if shuttle:
        # Two slabs alternate: the second is imaged half a step after the first.
        half = 0.5 * float(np.median(np.diff(times)))
        sample_times = np.sort(np.concatenate([times, times + half]))
    else:
        sample_times = times
    phantom = make_phantom(options, sample_times)
    n_t, n_z = phantom.frames.shape[:2]
    study = StudyInfo()
    series = SeriesInfo(description="CT PERFUSION 4D", protocol_name="Brain Perfusion",
                        series_number=4, contrast=True,
                        manufacturer="GE MEDICAL SYSTEMS" if options.convention ==
                        "ge-private-time" else "SIEMENS")
    start = study.study_datetime + timedelta(seconds=30)
    rng = np.random.default_rng(options.seed + 11)
    entries = []
    for t in range(n_t):
        for z in range(n_z):
            if shuttle and (t % 2) != (0 if z < n_z // 2 else 1):
                continue
            entries.append((t, z))
    numbers = np.arange(1, len(entries) + 1)
    if options.convention == "reversed":
        numbers = numbers[::-1]
    elif options.convention == "shuffled":
        numbers = rng.permutation(numbers)
    out_dir.mkdir(parents=True, exist_ok=True)
    spacing = phantom.spacing
    for (t, z), number in zip(entries, numbers, strict=True):
        moment = start + timedelta(seconds=float(sample_times[t]))
        extra: dict[str, Any] = {"ImagesInAcquisition": n_z,
                                 "NumberOfTemporalPositions": len(times),
                                 "TemporalPositionIndex": (t // 2 if shuttle else t) + 1}
        private: list[tuple[int, str, Any]] = []
        if options.convention == "ge-private-time":
            stamp = start.strftime("%H%M%S.%f")
            extra.update(AcquisitionDateTime=start.strftime("%Y%m%d%H%M%S.%f"),
                         AcquisitionTime=stamp, ContentTime=stamp)
            private = [(0x00190010, "LO", "GEMS_ACQU_01"),
                       (0x00191024, "DS", f"{float(sample_times[t]):.3f}")]
        ds = ct_slice(
            phantom.frames[t, z], study=study, series=series, instance_number=int(number),
            position_mm=(-96.0, -96.0, -40.0 + z * spacing[0]),
            pixel_spacing_mm=(spacing[1], spacing[2]), slice_thickness_mm=spacing[0],
            acquisition_datetime=moment, signed=options.signed, extra=extra, private=private)
        save(ds, out_dir / f"CT{int(number):05d}.dcm")
    truth = {**phantom.truth, "convention": options.convention, "signed": options.signed,
             "sampling": options.sampling, "images": len(entries),
             "study_instance_uid": study.study_instance_uid,
             "series_instance_uid": series.series_instance_uid}
    (out_dir / "truth.json").write_text(json.dumps(truth, indent=2))
    return truth


def ctp_command(
    out_dir: Path = typer.Argument(..., help="folder for the DICOM files and truth.json"),
    kind: str = typer.Option("head", help="head (anatomical stroke) or tile (Kudo/ASIST grid)"),
    noise: float = typer.Option(10.0, help="noise, HU per voxel and frame"),
    motion: bool = typer.Option(False, help="rigid head motion in later frames"),
    matrix: int = typer.Option(128, help="pixels per row/column (head; field of view 192 mm)"),
    slices: int = typer.Option(16, help="table positions (head; 80 mm coverage)"),
    frames: int = typer.Option(40, help="time points (regular sampling)"),
    interval: float = typer.Option(1.5, help="seconds between frames (regular sampling)"),
    sampling: str = typer.Option("regular", help="regular or irregular (1 s, then 2.5 s)"),
    convention: str = typer.Option("standard", help="header convention: " + ", ".join(CONVENTIONS)),
    signed: bool = typer.Option(False, help="signed int16 pixels (intercept 0)"),
    residue: str = typer.Option("exponential", help="tissue residue function: "
                                + ", ".join(phantoms.RESIDUES)),
    no_lesion: bool = typer.Option(False, "--no-lesion", help="a healthy head"),
    seed: int = typer.Option(0, help="noise seed"),
) -> None:
    """Write a synthetic CT perfusion series with its ground truth (truth.json)."""
    if kind not in ("head", "tile") or sampling not in ("regular", "irregular") \
            or convention not in CONVENTIONS or residue not in phantoms.RESIDUES:
        raise InputError(f"bad option: kind={kind} sampling={sampling} convention={convention} "
                         f"residue={residue}")
    options = CtpPhantomOptions(kind=kind, noise_hu=noise, motion=motion, matrix=matrix,
                                slices=slices, frames=frames, interval_s=interval,
                                sampling=sampling, convention=convention, signed=signed,
                                residue=residue, lesion=not no_lesion, seed=seed)
    truth = write_ctp_phantom(out_dir, options)
    summary = {k: truth[k] for k in ("core_ml", "hypoperfusion_ml", "side", "defuse3_eligible")
               if k in truth}
    typer.echo(f"wrote {truth['images']} images to {out_dir} ({json.dumps(summary)})")

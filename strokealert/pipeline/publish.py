"""Results back to PACS for one finished job: key images (SC), SEG and TID 1500 SR."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import Dataset

from strokealert.config import Settings
from strokealert.contracts.analysis import BLEED_KINDS
from strokealert.results import SendReport, build_results, send_to_pacs

log = logging.getLogger(__name__)


def read_headers(paths: Sequence[Path]) -> list[Dataset]:
    """Headers of the source images (pixel data not read)."""
    return [pydicom.dcmread(p, stop_before_pixels=True) for p in paths]


def load_key_images(out_dir: Path, names: Sequence[str]) -> dict[str, np.ndarray]:
    """The job's key-image PNGs as RGB arrays, keyed by file name."""
    images = {}
    for name in names:
        path = out_dir / name
        if path.suffix.lower() == ".png" and path.is_file():
            images[path.name] = np.asarray(Image.open(path).convert("RGB"))
    return images


def job_datasets(kind: str, headers: Sequence[Dataset], out_dir: Path, block: dict[str, Any],
                 masks: tuple[np.ndarray, np.ndarray] | None = None,
                 blood: np.ndarray | None = None) -> list[Dataset]:
    """The SC, SEG and SR objects of one finished perfusion, LVO or NCCT job (``blood``: the
    NCCT's haemorrhage label map)."""
    key_images = load_key_images(out_dir, block.get("key_images") or [])
    if kind == "perfusion":
        core, hypo = masks if masks is not None else (None, None)
        return build_results(headers, None, core_mask=core, hypoperfusion_mask=hypo,
                             perfusion_block=block, key_images=key_images)
    if kind == "ncct":
        return build_results(None, None, source_datasets_ncct=headers, blood_labels=blood,
                             bleed_kinds=BLEED_KINDS, ncct_block=block, key_images=key_images)
    return build_results(None, headers, lvo_block=block, key_images=key_images)


def publish(settings: Settings, kind: str, paths: Sequence[Path], out_dir: Path,
            block: dict[str, Any], masks: tuple[np.ndarray, np.ndarray] | None = None,
            blood: np.ndarray | None = None) -> SendReport | None:
    """Build and C-STORE the job's result objects; ``None`` when sending is off or not useful."""
    if not settings.pacs_enabled or block.get("status") != "ok":
        return None
    datasets = job_datasets(kind, read_headers(paths), out_dir, block, masks, blood)
    report = send_to_pacs(datasets, settings)
    log.info("results to PACS (%s): %s", kind, report.summary())
    return report


def write_study_results(out_dir: Path, ctp_paths: Sequence[Path] | None,
                        cta_paths: Sequence[Path] | None, perfusion_block: dict[str, Any],
                        lvo_block: dict[str, Any],
                        masks: tuple[np.ndarray, np.ndarray] | None,
                        ncct_paths: Sequence[Path] | None = None,
                        ncct_block: dict[str, Any] | None = None,
                        blood: np.ndarray | None = None) -> list[str]:
    """Write the study's SC, SEG and SR as DICOM files under ``out_dir/dicom``; their names."""
    names = [*(perfusion_block.get("key_images") or []), *(lvo_block.get("key_images") or []),
             *((ncct_block or {}).get("key_images") or [])]
    core, hypo = masks if masks is not None else (None, None)
    datasets = build_results(
        read_headers(ctp_paths) if ctp_paths else None,
        read_headers(cta_paths) if cta_paths else None,
        core_mask=core, hypoperfusion_mask=hypo,
        perfusion_block=perfusion_block, lvo_block=lvo_block,
        key_images=load_key_images(out_dir, names),
        source_datasets_ncct=read_headers(ncct_paths) if ncct_paths else None,
        blood_labels=blood, bleed_kinds=BLEED_KINDS, ncct_block=ncct_block)
    folder = out_dir / "dicom"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for index, ds in enumerate(datasets, start=1):
        name = f"{ds.Modality}{index:03d}.dcm"
        ds.save_as(folder / name, enforce_file_format=True)
        written.append(f"dicom/{name}")
    return written

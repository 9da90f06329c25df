"""Run what applies to a set of DICOM files: perfusion on the CTP, LVO on the CTA,
haemorrhage and ASPECTS on the NCCT.

Used offline by ``strokealert analyze`` and, one series at a time, by the pipeline's jobs.
A stage that raises is reported as ``failed`` with the reason; it never hides the others.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from strokealert.contracts.analysis import (
    SCHEMA,
    AlertBlock,
    AnalysisResult,
    LvoBlock,
    NcctBlock,
    PerfusionBlock,
    SeriesEntry,
    not_run,
)
from strokealert.contracts.outputs import NCCT_BLOOD_FILE
from strokealert.dicom.classify import classify_slices, slice_info
from strokealert.dicom.completeness import Completeness, assess
from strokealert.dicom.geometry import screen_series
from strokealert.dicom.sender import dicom_files
from strokealert.errors import InputError
from strokealert.pipeline.publish import write_study_results
from strokealert.pipeline.rules import RuleSettings, decide

if TYPE_CHECKING:
    from perfusion.config import PerfusionConfig

log = logging.getLogger(__name__)

@dataclass
class SeriesFiles:
    """The usable files of one series with their headers (pixel data not read), its kind,
    the images set aside for their geometry (count per reason) and what the series lacks."""

    series_instance_uid: str
    study_instance_uid: str
    description: str
    paths: list[Path] = field(default_factory=list)
    headers: list[Dataset] = field(default_factory=list)
    kind: str = "other"
    excluded: Counter[str] = field(default_factory=Counter)
    completeness: Completeness | None = None

    @property
    def received(self) -> int:
        """Images of the series found, usable or not."""
        return len(self.paths) + sum(self.excluded.values())


def pixel_digest(path: Path) -> str | None:
    """SHA-256 of an image's pixel data (None when unreadable): tells copies from conflicts."""
    try:
        return hashlib.sha256(pydicom.dcmread(path).PixelData).hexdigest()
    except Exception:  # noqa: BLE001 - an unreadable image is a conflict, not a crash
        return None


def screen(entry: SeriesFiles) -> None:
    """Keep the images whose geometry places them in the series; classify; assess completeness.
    """
    screening = screen_series(entry.headers, lambda i: pixel_digest(entry.paths[i]))
    entry.paths = [entry.paths[i] for i in screening.kept]
    entry.headers = [entry.headers[i] for i in screening.kept]
    entry.excluded = screening.excluded
    slices = [slice_info(h) for h in entry.headers]
    entry.kind = classify_slices(slices)
    entry.completeness = assess(slices, entry.kind == "ctp", screening.excluded)


def discover(paths: Sequence[Path]) -> list[SeriesFiles]:
    """Group readable DICOM files by series, screen and classify each (ctp/cta/ncct/other).

    Raises :class:`InputError` when no file holds a usable image.
    """
    by_series: dict[str, SeriesFiles] = {}
    skipped = 0
    for path in dicom_files(paths):
        try:
            header = pydicom.dcmread(path, stop_before_pixels=True)
            series_uid = str(header.SeriesInstanceUID)
            study_uid = str(header.StudyInstanceUID)
        except (InvalidDicomError, AttributeError, OSError, ValueError, EOFError):
            skipped += 1
            continue
        entry = by_series.setdefault(series_uid, SeriesFiles(
            series_uid, study_uid, str(header.get("SeriesDescription", ""))))
        entry.paths.append(path)
        entry.headers.append(header)
    if not by_series:
        raise InputError("no DICOM series found in the given paths"
                         + (f" ({skipped} file(s) are not readable DICOM)" if skipped else ""))
    for entry in by_series.values():
        screen(entry)
    if not any(entry.paths for entry in by_series.values()):
        excluded = sum((entry.excluded for entry in by_series.values()), Counter())
        reasons = ", ".join(f"{n} {why}" for why, n in sorted(excluded.items()))
        raise InputError(f"no usable image: all {sum(excluded.values())} excluded ({reasons})")
    if skipped:
        log.warning("skipped %d file(s) that are not readable DICOM", skipped)
    for entry in by_series.values():
        if entry.excluded:
            log.warning("series %s: %d image(s) excluded for their geometry: %s",
                        entry.series_instance_uid, sum(entry.excluded.values()),
                        dict(entry.excluded))
    return list(by_series.values())


def note_incomplete(block: dict[str, Any], series: SeriesFiles, label: str) -> dict[str, Any]:
    """Add ``incomplete`` (what the series lacks, in words) to an analysis block that ran."""
    if series.completeness is not None and not series.completeness.complete \
            and block.get("status") != "not_run":
        block["incomplete"] = series.completeness.describe(label)
    return block


def pick(series: Sequence[SeriesFiles], kind: str) -> SeriesFiles | None:
    """The series of ``kind`` with the most images (the main acquisition)."""
    candidates = [s for s in series if s.kind == kind]
    return max(candidates, key=lambda s: len(s.paths), default=None)


def run_stage(name: str, func: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], float]:
    """Run one stage; an exception becomes ``status: failed`` with a readable reason."""
    started = time.perf_counter()
    try:
        block = func()
    except Exception as exc:  # a bug must still give a manual_review, never silence
        log.exception("%s stage raised", name)
        block = {"status": "failed", "error": f"internal error in {name} analysis: {exc}"}
    return block, time.perf_counter() - started


def run_perfusion_with_masks(
    paths: Sequence[Path], out_dir: Path, config: PerfusionConfig | None = None
) -> tuple[dict[str, Any], tuple[np.ndarray, np.ndarray] | None]:
    """The perfusion block, and the (core, Tmax>6) masks for the DICOM SEG when there are any;
    ``config`` as the service sets it (``perfusion_settings``), else the library's defaults."""
    import perfusion

    result = perfusion.analyze_files(list(paths), out_dir, config)
    core, hypo = result.core_mask, result.hypoperfusion_mask
    return result.to_json(), (core, hypo) if core is not None and hypo is not None else None


def run_lvo(paths: Sequence[Path], out_dir: Path) -> dict[str, Any]:
    from strokealert import lvo

    return lvo.analyze_files(list(paths), out_dir)


def run_ncct_with_labels(paths: Sequence[Path], out_dir: Path
                         ) -> tuple[dict[str, Any], np.ndarray | None]:
    """The ncct block, and the haemorrhage label map for the DICOM SEG when the analysis left
    one in ``out_dir`` (:data:`strokealert.contracts.outputs.NCCT_BLOOD_FILE`)."""
    from strokealert import ncct

    block = ncct.analyze_files(list(paths), out_dir)
    labels_file = out_dir / NCCT_BLOOD_FILE
    if block.get("status") != "ok" or not labels_file.is_file():
        return block, None
    with np.load(labels_file, allow_pickle=False) as saved:
        return block, np.asarray(saved["labels"])


def analyze_paths(
    paths: Sequence[Path], out_dir: Path, rules: RuleSettings | None = None,
    perfusion_config: PerfusionConfig | None = None,
) -> dict[str, Any]:
    """The ``strokealert.analysis/1`` result for the DICOM files under ``paths``."""
    started = time.perf_counter()
    series = discover(paths)
    out_dir.mkdir(parents=True, exist_ok=True)
    ctp, cta, ncct = pick(series, "ctp"), pick(series, "cta"), pick(series, "ncct")
    masks: dict[str, tuple[np.ndarray, np.ndarray] | None] = {}
    blood: dict[str, np.ndarray | None] = {}

    def perfusion_stage() -> dict[str, Any]:
        assert ctp is not None
        block, masks["perfusion"] = run_perfusion_with_masks(ctp.paths, out_dir,
                                                             perfusion_config)
        return block

    def lvo_stage() -> dict[str, Any]:
        assert cta is not None
        return run_lvo(cta.paths, out_dir)

    def ncct_stage() -> dict[str, Any]:
        assert ncct is not None
        block, blood["ncct"] = run_ncct_with_labels(ncct.paths, out_dir)
        return block

    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {name: pool.submit(run_stage, name, stage)
                   for name, stage, entry in (("perfusion", perfusion_stage, ctp),
                                              ("lvo", lvo_stage, cta),
                                              ("ncct", ncct_stage, ncct)) if entry is not None}
        done = {name: future.result() for name, future in futures.items()}
    (perfusion_block, perfusion_s), (lvo_block, lvo_s), (ncct_block, ncct_s) = (
        done.get(name, (not_run(), 0.0)) for name in ("perfusion", "lvo", "ncct"))
    for entry, block, label in ((ctp, perfusion_block, "CTP"), (cta, lvo_block, "CTA"),
                                (ncct, ncct_block, "NCCT")):
        if entry is not None:
            note_incomplete(block, entry, label)
    decision = decide(perfusion_block, lvo_block, rules, ncct_block)
    main_series = cta or ctp or ncct or series[0]
    try:
        dicom_results = write_study_results(
            out_dir, ctp.paths if ctp else None, cta.paths if cta else None,
            perfusion_block, lvo_block, masks.get("perfusion"),
            ncct.paths if ncct else None, ncct_block, blood.get("ncct"))
    except Exception:  # the findings above still stand without their DICOM copies
        log.exception("could not write the DICOM results")
        dicom_results = []
    return AnalysisResult(
        schema=SCHEMA,
        study_instance_uid=main_series.study_instance_uid,
        series=[SeriesEntry.model_validate({
            "series_instance_uid": s.series_instance_uid, "kind": s.kind, "images": s.received,
            "excluded": sum(s.excluded.values()), "description": s.description})
            for s in series],
        perfusion=PerfusionBlock.model_validate(perfusion_block),
        lvo=LvoBlock.model_validate(lvo_block),
        ncct=NcctBlock.model_validate(ncct_block),
        alert=AlertBlock.model_validate(decision.to_json()),
        dicom_results=dicom_results,
        timings_s={"total": round(time.perf_counter() - started, 3),
                   "perfusion": round(perfusion_s, 3), "lvo": round(lvo_s, 3),
                   "ncct": round(ncct_s, 3)},
    ).to_json()

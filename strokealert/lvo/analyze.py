"""LVO analysis of one CTA: preprocess → quality gate → asymmetry + CNN → fused call → images.

``analyze_volume`` works on arrays (for the results-to-PACS side, which builds DICOM SC/SEG
from the MIPs and the heat map); ``analyze_files`` reads DICOM files and returns the ``lvo``
block of the ``strokealert.analysis/1`` result.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from strokealert.dicom.volume import largest_series
from strokealert.errors import InputError
from strokealert.lvo import asymmetry, explain, preprocess, quality
from strokealert.lvo.model import LvoModel, Prediction, shipped
from strokealert.lvo.slab import Slab, level_mm, thin_slab_mips

log = logging.getLogger(__name__)

SIDE_CONFIDENCE = 0.75  # network's share of lateral probability needed to overrule asymmetry


@dataclass
class LvoResult:
    """Everything the analysis found; ``to_block`` gives the JSON contract."""

    probability: float
    suspected: bool
    threshold: float
    side: str
    site: str | None
    model: str
    quality: quality.QualityResult
    asymmetry: asymmetry.AsymmetryResult
    cnn_probability: float
    class_probabilities: dict[str, float]
    axial_mip: np.ndarray  # (y, x) 2 mm, normalised vessel signal 0..1.5, patient left = +x
    coronal_mip: np.ndarray  # (z, x), top row superior
    heatmap: np.ndarray | None  # (axial rows + coronal rows, x) 0..1, same layout as the MIPs
    marks: tuple[tuple[int, int], ...] | None  # (row, col) of the suspected segment
    timings_s: dict[str, float] = field(default_factory=dict)
    slab: Slab | None = None  # native axial thin-slab MIPs around the suspected segment

    @property
    def manual_review(self) -> bool:
        return not self.quality.ok

    def caption(self) -> str:
        if self.suspected:
            where = " ".join(p for p in (self.side if self.side != "none" else None, self.site)
                             if p)
            return f"LVO suspected: {where} (p={self.probability:.2f})"
        if self.manual_review:
            return f"Manual review: {self.quality.reason}"
        return f"No LVO detected (p={self.probability:.2f})"

    def to_block(self, key_images: Sequence[str] = ()) -> dict[str, Any]:
        block: dict[str, Any] = {
            "status": "ok", "error": None,
            "probability": round(self.probability, 4), "suspected": self.suspected,
            "threshold": round(self.threshold, 4), "side": self.side, "site": self.site,
            "model": self.model, "key_images": list(key_images),
            "quality": "ok" if self.quality.ok else "insufficient",
            "manual_review": self.manual_review,
            "quality_reason": self.quality.reason,
            "asymmetry": {"side": self.asymmetry.side, "territory": self.asymmetry.territory,
                          "log_ratio": {k: round(v, 3)
                                        for k, v in self.asymmetry.log_ratio.items()}},
        }
        return block


def fuse_side(prediction: Prediction, asym_side: str) -> str:
    """Side of the network when it is sure, else the asymmetry detector's side."""
    if prediction.site == "basilar":
        return "none"
    probs = prediction.class_probabilities
    left = sum(v for k, v in probs.items() if k.endswith("_left"))
    right = sum(v for k, v in probs.items() if k.endswith("_right"))
    share = max(left, right) / max(left + right, 1e-9)
    network_side = "left" if left >= right else "right"
    if share >= SIDE_CONFIDENCE or asym_side == "none":
        return network_side
    return asym_side


def analyze_volume(volume_hu: np.ndarray, spacing_mm: Sequence[float],
                   model: LvoModel | None = None, explain_images: bool = True) -> LvoResult:
    """Analyse a (z, y, x) CTA in HU, z rising to the head, x to patient left, y posterior;
    ``spacing_mm`` is (z, y, x). Raises :class:`InputError` when no head is found."""
    model = model or shipped()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    canon = preprocess.canonicalise(np.asarray(volume_hu), spacing_mm)
    timings["preprocess"] = time.perf_counter() - started
    gate = quality.check(canon)
    asym = asymmetry.analyse(canon.vessel)
    canvas = preprocess.canvas(canon.vessel)
    t = time.perf_counter()
    prediction = model.predict(canvas[None], asym.features()[None])[0]
    timings["model"] = time.perf_counter() - t
    suspected = prediction.probability >= model.threshold
    side = fuse_side(prediction, asym.side) if suspected else "none"
    site = prediction.site if suspected else None
    heat = marks = None
    if explain_images and suspected:
        t = time.perf_counter()
        best = max((k for k in prediction.class_probabilities if k != "none"),
                   key=lambda k: prediction.class_probabilities[k])
        if site != "basilar":
            best = f"{site}_{side}"
        heat = explain.grad_cam(model, canvas, best)
        # Lateral occlusions: mark the missing vessel (mirror minus image) on the suspected
        # side; the basilar has no mirror partner, so the network's attention marks it.
        where = heat if site == "basilar" else explain.vessel_deficit(canvas)
        marks = explain.marker(where, side, site)
        timings["explain"] = time.perf_counter() - t
    axial, coronal = preprocess.mips(canon.vessel)
    t = time.perf_counter()
    slab = thin_slab_mips(volume_hu, spacing_mm, canon.rotation, canon.centre_mm,
                          level_mm(marks))
    timings["slab"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - started
    return LvoResult(prediction.probability, bool(suspected), model.threshold, side, site,
                     model.name, gate, asym, prediction.cnn_probability,
                     prediction.class_probabilities, axial, coronal, heat, marks,
                     {k: round(v, 3) for k, v in timings.items()}, slab)


def cta_files(paths: Sequence[Path]) -> list[Path]:
    """The files of the largest DICOM series found under ``paths`` (files or folders)."""
    return largest_series(paths, what="CTA")


def analyze_files(paths: Sequence[Path], out_dir: Path) -> dict[str, Any]:
    """The ``lvo`` block of ``strokealert.analysis/1`` for the CTA DICOM files ``paths``.

    Writes the key images (``lvo_mip.png``, and ``lvo_heatmap.png`` when an LVO is suspected)
    and the de-identified CTA slab (:data:`~strokealert.contracts.outputs.CTA_SLAB_FILE`, found
    by name beside them: the block does not list it) to ``out_dir``. Input problems give
    ``status: failed`` with a readable ``error``.
    """
    try:
        volume, spacing = preprocess.read_dicom_volume(cta_files([Path(p) for p in paths]))
        result = analyze_volume(volume, spacing)
    except InputError as exc:
        return {"status": "failed", "error": str(exc)}
    except FileNotFoundError as exc:
        return {"status": "failed", "error": str(exc)}
    names = explain.key_images(result.axial_mip, result.coronal_mip, result.heatmap,
                               result.marks, result.caption(), out_dir)
    if result.slab is not None:
        result.slab.save(out_dir)
    return result.to_block(names)


def load_model() -> LvoModel:
    """Load (and cache) the shipped model; the pipeline calls this to warm up workers."""
    return shipped()

"""LVO analysis of one CTA: preprocess → quality gate → vessel features → classifier → gates →
key image.

``analyze_volume`` works on arrays; ``analyze_files`` reads DICOM files and returns the ``lvo``
block of the ``strokealert.analysis/1`` result. A scan that fails the quality gate or lies out
of the training distribution gets ``manual_review: true`` with the reason and no confident
call: ``suspected`` is false and the alert rules raise a manual review instead.
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
from strokealert.lvo import explain, preprocess, quality, vessels
from strokealert.lvo.dataset import context_of
from strokealert.lvo.model import LvoModel, shipped
from strokealert.lvo.slab import Slab, thin_slab_mips

log = logging.getLogger(__name__)

TERRITORY = {"ICA": "{side} MCA and ACA territory", "M1": "{side} MCA territory",
             "M2": "{side} MCA branch territory",
             "basilar": "posterior circulation (brainstem, cerebellum, PCA territories)"}


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
    features: vessels.VesselFeatures
    ood_score: float  # Mahalanobis distance to the training cases
    ood_threshold: float
    class_probabilities: dict[str, float]
    view: explain.KeyView
    hu: np.ndarray  # canonical HU (for the key image)
    tissue_hu: float
    arterial_hu: float
    timings_s: dict[str, float] = field(default_factory=dict)
    slab: Slab | None = None  # native axial thin-slab MIPs around the suspected segment

    @property
    def out_of_distribution(self) -> bool:
        return self.ood_score > self.ood_threshold

    @property
    def manual_review(self) -> bool:
        return not self.quality.ok or self.out_of_distribution

    @property
    def review_reason(self) -> str | None:
        reasons = list(self.quality.reasons)
        if self.out_of_distribution:
            reasons.append(f"scan unlike the training cases (distance {self.ood_score:.1f} > "
                           f"{self.ood_threshold:.1f}): no automatic call")
        return "; ".join(reasons) if reasons else None

    @property
    def segment(self) -> str | None:
        if not self.suspected or self.site is None:
            return None
        return self.site if self.site == "basilar" else f"{self.side} {self.site}"

    @property
    def territory(self) -> str | None:
        if not self.suspected or self.site is None:
            return None
        return TERRITORY[self.site].format(side=self.side)

    def caption(self) -> str:
        if self.suspected:
            return f"LVO suspected: {self.segment} (p={self.probability:.2f})"
        if self.manual_review:
            return "Manual review: no automatic LVO call"
        return f"No LVO detected (p={self.probability:.2f})"

    def to_block(self, key_images: Sequence[str] = ()) -> dict[str, Any]:
        return {
            "status": "ok", "error": None,
            "probability": round(self.probability, 4), "suspected": self.suspected,
            "threshold": round(self.threshold, 4), "side": self.side, "site": self.site,
            "segment": self.segment, "territory": self.territory,
            "model": self.model, "key_images": list(key_images),
            "quality": "ok" if self.quality.ok else "insufficient",
            "manual_review": self.manual_review, "quality_reason": self.review_reason,
            "ood_score": round(self.ood_score, 2),
            "vessel_features": self.features.as_dict(),
        }


def analyze_volume(volume_hu: np.ndarray, spacing_mm: Sequence[float],
                   model: LvoModel | None = None) -> LvoResult:
    """Analyse a (z, y, x) CTA in HU, z rising to the head, x to patient left, y posterior;
    ``spacing_mm`` is (z, y, x). Raises :class:`InputError` when no head is found."""
    model = model or shipped()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    canon = preprocess.canonicalise(np.asarray(volume_hu), spacing_mm)
    timings["preprocess"] = time.perf_counter() - started
    t = time.perf_counter()
    gate = quality.check(canon)
    found = vessels.extract(canon.vessel)
    probs = model.class_probabilities(found.values[None])[0]
    probability = float(1.0 - probs[0])
    site = model.site(found.values[None])[0]
    ood = float(model.gate.distance(np.array(list(found.values)
                                             + context_of(canon, found)))[0])
    timings["features"] = time.perf_counter() - t
    abstain = not gate.ok or ood > model.gate.threshold
    suspected = probability >= model.threshold and not abstain
    side = ("none" if site == "basilar" else found.side) if suspected else "none"
    called_site = site if suspected else None
    view = explain.view_for(called_site, found.mark_mm, found.basilar_mark_mm,
                            explain.willis_level_mm(canon.vessel))
    t = time.perf_counter()
    slab = thin_slab_mips(volume_hu, spacing_mm, canon.rotation, canon.centre_mm,
                          view.centre_mm[2])
    timings["slab"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - started
    return LvoResult(probability, bool(suspected), model.threshold, side, called_site,
                     model.name, gate, found, ood, model.gate.threshold,
                     {c: round(float(p), 4) for c, p in zip(
                         ("none", "ICA", "M1", "M2", "basilar"), probs, strict=True)},
                     view, canon.hu, canon.tissue_hu, canon.arterial_hu,
                     {k: round(v, 3) for k, v in timings.items()}, slab)


def cta_files(paths: Sequence[Path]) -> list[Path]:
    """The files of the largest DICOM series found under ``paths`` (files or folders)."""
    return largest_series(paths, what="CTA")


def analyze_files(paths: Sequence[Path], out_dir: Path) -> dict[str, Any]:
    """The ``lvo`` block of ``strokealert.analysis/1`` for the CTA DICOM files ``paths``.

    Writes the key image (``lvo_mip.png``: the thin-slab MIP with the segment marked) and the
    de-identified CTA slab (:data:`~strokealert.contracts.outputs.CTA_SLAB_FILE`, found by
    name beside it: the block does not list it) to ``out_dir``. Input problems give
    ``status: failed`` with a readable ``error``.
    """
    try:
        volume, spacing = preprocess.read_dicom_volume(cta_files([Path(p) for p in paths]))
        result = analyze_volume(volume, spacing)
    except (InputError, FileNotFoundError) as exc:
        return {"status": "failed", "error": str(exc)}
    name = explain.key_image(result.hu, result.view, result.tissue_hu, result.arterial_hu,
                             result.caption(), out_dir)
    if result.slab is not None:
        result.slab.save(out_dir)
    return result.to_block([name])


def load_model() -> LvoModel:
    """Load (and cache) the shipped model; the pipeline calls this to warm up workers."""
    return shipped()

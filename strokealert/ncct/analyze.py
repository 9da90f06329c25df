"""NCCT analysis of one series: head → blood window → bleeds → kinds, volumes, location,
midline shift → the ``ncct`` block and its key image.

``analyze_volume`` works on arrays (the results-to-PACS side builds the DICOM SEG from
``NcctAnalysis.blood_mask``); ``analyze_files`` reads DICOM files and returns the ``ncct``
block of the ``strokealert.analysis/1`` result.

The bleeds come from one of :data:`ICH_METHODS` (argument ``method``, else the environment
variable ``STROKEALERT_NCCT_ICH_METHOD``, else :data:`DEFAULT_ICH_METHOD`):

* ``rules``: the HU and shape rules of :mod:`strokealert.ncct.ich`;
* ``network``: the components of the segmentation network's mask
  (:mod:`strokealert.ncct.ich_net`, probability ≥ :data:`NETWORK_THRESHOLD`); each takes the
  kind, side and thickness of the blood-window candidate it overlaps most (the rules without
  their mimic rejections), and one that overlaps none is not blood (nothing in the window);
* ``veto``: the rules' bleeds, each kept only where the network agrees (mean probability over
  the bleed ≥ :data:`VETO_PROBABILITY`): the network vetoes mimics;
* ``fused``: ``veto``, then each kept bleed measured on the network's mask (the network
  components it overlaps; the rules' mask where it overlaps none).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from strokealert.contracts.outputs import NCCT_BLOOD_FILE
from strokealert.dicom.volume import largest_series, read_volume
from strokealert.errors import InputError
from strokealert.ncct import brain, ich, keyimage
from strokealert.ncct.aspects import AspectsError, score_aspects, write_aspects_key_image

PROBABILITY_SLOPE = 3.0  # logistic slope on ln(volume / SUSPECT_ML)
ICH_METHODS = ("rules", "network", "veto", "fused")
DEFAULT_ICH_METHOD = "rules"
METHOD_VARIABLE = "STROKEALERT_NCCT_ICH_METHOD"
NETWORK_THRESHOLD = 0.5  # network probability from which a voxel is blood
OPEN_RING_SHARE = 0.2  # share of the intracranial space where the skull ring is open (delimited
# by the surrounding bone only) from which the analysis asks for manual review
VETO_PROBABILITY = 0.3  # fused: least mean network probability over a rules bleed


@dataclass
class NcctAnalysis:
    """What the NCCT analysis found; ``to_block`` gives the JSON contract."""

    suspected: bool
    kinds: list[str]
    volume_ml: float
    volume_by_kind_ml: dict[str, float]
    abc2_ml: float | None
    side: str
    location: str | None
    midline_shift_mm: float
    probability: float
    blood_mask: np.ndarray  # (z, y, x) uint8 on the input grid: 0 none, 1 + index in BLEED_KINDS
    window_hu: tuple[float, float]
    manual_review: bool = False
    reason: str | None = None
    timings_s: dict[str, float] = field(default_factory=dict)
    aspects: Any = None  # strokealert.ncct.aspects result, when that analysis ran

    def caption(self) -> str:
        """One line for the alert and the key image (no PHI)."""
        if self.suspected:
            where = f", {self.location}" if self.location else ""
            return (f"Haemorrhage suspected: {', '.join(self.kinds)}, "
                    f"{self.volume_ml:.0f} mL{where}")
        if self.manual_review:
            return f"Manual review: {self.reason}"
        return "No haemorrhage detected"

    def ich_block(self) -> dict[str, Any]:
        return {"suspected": self.suspected, "kinds": list(self.kinds),
                "volume_ml": round(self.volume_ml, 1),
                "volume_by_kind_ml": {k: round(v, 1) for k, v in self.volume_by_kind_ml.items()},
                "abc2_ml": None if self.abc2_ml is None else round(self.abc2_ml, 1),
                "side": self.side, "location": self.location,
                "midline_shift_mm": round(self.midline_shift_mm, 1),
                "probability": round(self.probability, 4),
                "manual_review": self.manual_review, "reason": self.reason,
                "window_hu": [round(v, 1) for v in self.window_hu]}

    def to_block(self, key_images: Sequence[str] = ()) -> dict[str, Any]:
        block: dict[str, Any] = {"status": "ok", "error": None, "ich": self.ich_block(),
                                 "key_images": list(key_images),
                                 "timings_s": dict(self.timings_s)}
        if self.aspects is not None:
            block["aspects"] = self.aspects.to_block()
        return block


ASPECTS_KEY_IMAGE = "ncct_aspects.png"


def _probability(volume_ml: float) -> float:
    if volume_ml <= 0.0:
        return 0.01
    return 1.0 / (1.0 + math.exp(-PROBABILITY_SLOPE * math.log(volume_ml / ich.SUSPECT_ML)))


def ich_method(method: str | None = None) -> str:
    """The haemorrhage method: ``method``, else the environment setting, else the default;
    raises :class:`InputError` for an unknown name."""
    chosen = method or os.environ.get(METHOD_VARIABLE) or DEFAULT_ICH_METHOD
    if chosen not in ICH_METHODS:
        raise InputError(f"unknown haemorrhage method {chosen!r} (one of {', '.join(ICH_METHODS)})")
    return chosen


def network_probability(head: brain.Head, volume_hu: np.ndarray,
                        spacing_mm: Sequence[float]) -> np.ndarray:
    """The network's blood probability on the working grid of ``head`` (torch is imported
    here, only when a method needs it)."""
    from strokealert.ncct import ich_net

    return brain.reduce_in_plane(ich_net.predict_blood(volume_hu, spacing_mm), head.factor)


def network_bleeds(head: brain.Head, probability: np.ndarray) -> list[ich.Bleed]:
    """Components of the network mask (≥ :data:`ich.MIN_COMPONENT_ML`) inside the skull, with
    kind, side and thickness of the blood-window candidate each overlaps most (largest
    first)."""
    candidates = ich.find_bleeds(head, rules=False)[0]
    owner = np.zeros(head.hu.shape, dtype=np.int32)
    for index, bleed in enumerate(candidates, start=1):
        owner[bleed.mask] = index
    labels, _ = ndimage.label((probability >= NETWORK_THRESHOLD) & head.inside)
    bleeds = []
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:
            continue
        mask = np.zeros(head.hu.shape, dtype=bool)
        mask[box] = labels[box] == index
        volume_ml = float(mask.sum()) * head.voxel_ml
        overlap = np.bincount(owner[mask], minlength=len(candidates) + 1)[1:]
        if volume_ml < ich.MIN_COMPONENT_ML or not overlap.any():
            continue
        like = candidates[int(overlap.argmax())]
        zz, yy, xx = np.nonzero(mask)
        bleeds.append(ich.Bleed(like.kind, volume_ml, float(head.smooth[mask].mean()),
                                (float(zz.mean()), float(yy.mean()), float(xx.mean())),
                                like.side, like.thickness_mm, mask))
    return sorted(bleeds, key=lambda b: -b.volume_ml)


def find_bleeds(head: brain.Head, volume_hu: np.ndarray, spacing_mm: Sequence[float],
                method: str, timings: dict[str, float]
                ) -> tuple[list[ich.Bleed], tuple[float, float], list[ich.Doubt]]:
    """The bleeds (largest first), blood window and the rules' seeds set aside for want of an
    edge (:class:`ich.Doubt`; none for ``network``) by ``method`` (see the module docstring);
    the network's time goes into ``timings['network']``."""
    if method == "rules":
        return ich.find_bleeds(head)
    t = time.perf_counter()
    probability = network_probability(head, volume_hu, spacing_mm)
    timings["network"] = time.perf_counter() - t
    if method == "network":
        return network_bleeds(head, probability), ich.blood_window(head), []
    bleeds, window, doubts = ich.find_bleeds(head)
    kept = [b for b in bleeds if probability[b.mask].mean() >= VETO_PROBABILITY]
    return (refine(head, kept, probability) if method == "fused" else kept), window, doubts


def refine(head: brain.Head, bleeds: list[ich.Bleed], probability: np.ndarray
           ) -> list[ich.Bleed]:
    """Each bleed (largest first) re-measured on the network components
    (probability ≥ :data:`NETWORK_THRESHOLD`, inside the skull) it overlaps, voxels claimed by
    a larger bleed excepted; a bleed that overlaps none keeps its own mask."""
    labels, _ = ndimage.label((probability >= NETWORK_THRESHOLD) & head.inside)
    claimed = np.zeros(head.hu.shape, dtype=bool)
    out = []
    for bleed in bleeds:
        ids = np.unique(labels[bleed.mask])
        ids = ids[ids > 0]
        mask = (np.isin(labels, ids) if ids.size else bleed.mask) & ~claimed
        claimed |= mask
        out.append(dataclasses.replace(bleed, mask=mask,
                                       volume_ml=float(mask.sum()) * head.voxel_ml))
    return out


def analyze_volume(volume_hu: np.ndarray, spacing_mm: Sequence[float],
                   method: str | None = None) -> NcctAnalysis:
    """Analyse a (z, y, x) NCCT in HU on the LPS grid (z towards the vertex, x to patient
    left); ``spacing_mm`` is (z, y, x); ``method`` one of :data:`ICH_METHODS` (default: see
    :func:`ich_method`). Raises :class:`InputError` when no head is found."""
    started = time.perf_counter()
    volume = np.asarray(volume_hu)
    spacing = (float(spacing_mm[0]), float(spacing_mm[1]), float(spacing_mm[2]))
    head = brain.find_head(volume, spacing)
    timings = {"head": time.perf_counter() - started}
    t = time.perf_counter()
    bleeds, window, doubts = find_bleeds(head, volume, spacing, ich_method(method), timings)
    total = sum(b.volume_ml for b in bleeds)
    suspected = total >= ich.SUSPECT_ML
    by_kind: dict[str, float] = {}
    label = np.zeros(head.hu.shape, dtype=np.uint8)
    for b in bleeds if suspected else []:
        by_kind[b.kind] = by_kind.get(b.kind, 0.0) + b.volume_ml
        label[b.mask] = ich.BLEED_KINDS.index(b.kind) + 1
    kinds = sorted(by_kind, key=lambda k: -by_kind[k]) if suspected else []
    iph = [b for b in bleeds if b.kind == "intraparenchymal"]
    abc2 = ich.abc2_ml(iph[0].mask, head.spacing_mm) if suspected and iph else None
    main = (iph or bleeds)[0] if bleeds else None
    shift = brain.midline_shift_mm(head)
    timings["ich"] = time.perf_counter() - t
    sides = {b.side for b in bleeds if b.side != "none"} if suspected else set()
    analysis = NcctAnalysis(
        suspected=suspected, kinds=kinds, volume_ml=total if suspected else 0.0,
        volume_by_kind_ml=by_kind, abc2_ml=abc2,
        side=sides.pop() if len(sides) == 1 else "none",
        location=ich.location(head, main) if suspected and main is not None else None,
        midline_shift_mm=abs(shift), probability=_probability(total),
        blood_mask=brain.expand_in_plane(label, head.factor, volume.shape), window_hu=window)
    reasons = []
    if head.cavity.sum(axis=(1, 2)).max() == head.cavity.sum(axis=(1, 2))[-1]:
        reasons.append("the series stops below the vertex (head not covered)")
    cavity_ml = float(head.cavity.sum()) * head.voxel_ml
    if head.open_ring_ml >= OPEN_RING_SHARE * cavity_ml:
        reasons.append(f"the skull ring is open on some slices (thin or missing bone): "
                       f"{head.open_ring_ml:.0f} mL of intracranial space delimited by the "
                       f"surrounding bone only")
    if doubts:
        reasons.append(_doubt_reason(doubts, head.hu.shape[0]))
    if head.metal_slices is not None and head.metal_slices.any():
        metal = int(head.metal_slices.sum())
        reasons.append(f"metal inside the skull (a clip or a coil) on {metal} "
                       f"slice{'' if metal == 1 else 's'}: its streaks can hide or mimic blood "
                       f"there")
    if reasons:
        analysis.manual_review = True
        analysis.reason = "; ".join(reasons)
    analysis.timings_s = {k: round(v, 3) for k, v in timings.items()}
    analysis.timings_s["total"] = round(time.perf_counter() - started, 3)
    return analysis


def _doubt_reason(doubts: Sequence[ich.Doubt], slices: int) -> str:
    """Why the rules' edgeless seeds need a reader: how much, where, how bright."""
    volume = sum(d.volume_ml for d in doubts)
    first = min(d.slices[0] for d in doubts) + 1
    last = max(d.slices[1] for d in doubts) + 1
    sides = {d.side for d in doubts} - {"none"}
    side = f", {sides.pop()}" if len(sides) == 1 else ""
    hu = max(doubts, key=lambda d: d.volume_ml).median_hu
    where = f"slice {first}" if first == last else f"slices {first}-{last}"
    return (f"a faint bright region ({volume:.1f} mL{side}, {where} of {slices} counted from "
            f"the lowest, median {hu:.0f} HU) with no edge to the brain deeper than it, where "
            f"the skull ring is open or against the table: blood, or the bone's partial "
            f"volume; not counted as blood")


def analyze_files(paths: list[Path], out_dir: Path) -> dict[str, Any]:
    """The ``ncct`` block of ``strokealert.analysis/1`` for one NCCT series.

    Reads the largest series under ``paths``, writes the key image ``ncct_ich.png`` to
    ``out_dir``. Input problems give ``status: failed`` with a readable ``error``.
    """
    try:
        volume, spacing = read_volume(largest_series([Path(p) for p in paths], "NCCT"), "NCCT")
        result = analyze_volume(volume, spacing)
    except (InputError, FileNotFoundError) as exc:
        return {"status": "failed", "error": str(exc)}
    name = keyimage.ich_image(volume, result.blood_mask > 0, result.caption(), out_dir,
                              pixel_aspect=spacing[1] / spacing[2])
    key_images = [name]
    if result.suspected:
        np.savez_compressed(out_dir / NCCT_BLOOD_FILE, labels=result.blood_mask)
    aspects_error = None
    try:
        result.aspects = score_aspects(volume, spacing)
    except AspectsError as exc:
        aspects_error = str(exc)
    if result.aspects is not None:
        write_aspects_key_image(result.aspects, volume, out_dir / ASPECTS_KEY_IMAGE)
        key_images.append(ASPECTS_KEY_IMAGE)
    block = result.to_block(key_images)
    if aspects_error is not None:
        block["aspects"] = {"score": None, "manual_review": True,
                            "reason": f"ASPECTS not scored: {aspects_error}"}
    return block

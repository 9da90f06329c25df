"""Quality gate: poor contrast timing, heavy motion or missing coverage → manual review.

A CTA that fails the gate is still analysed, but its result carries ``quality:
insufficient`` and ``manual_review: true`` with the reason, so a negative is never reported
with confidence on images that cannot show an occlusion.
"""

from __future__ import annotations

from dataclasses import dataclass

from strokealert.lvo.preprocess import Canonical

MIN_ARTERIAL_ENHANCEMENT_HU = 75.0  # brightest lumen (99.9th percentile) above brain tissue
MAX_SLICE_JUMP_MM = 3.0  # head outline jump between neighbouring slices
MAX_CUT_TOP = 0.3  # brain cross-section left in the top slice (fraction of largest)
MAX_CUT_BOTTOM = 0.85  # the same at the bottom: above it the scan starts over the Willis


@dataclass(frozen=True)
class QualityResult:
    """``ok`` is False when any check fails; ``reasons`` says which, in plain words."""

    ok: bool
    reasons: tuple[str, ...]
    arterial_enhancement_hu: float
    slice_jump_mm: float
    cut_top: float
    cut_bottom: float

    @property
    def reason(self) -> str | None:
        return "; ".join(self.reasons) if self.reasons else None


def check(canon: Canonical) -> QualityResult:
    """Apply the gate to a preprocessed CTA."""
    reasons = []
    enhancement = canon.arterial_hu - canon.tissue_hu
    if enhancement < MIN_ARTERIAL_ENHANCEMENT_HU:
        reasons.append(f"poor arterial contrast (vessels {enhancement:.0f} HU above brain; "
                       f"bolus timing?)")
    if canon.slice_jump > MAX_SLICE_JUMP_MM:
        reasons.append(f"patient motion (slices misaligned by {canon.slice_jump:.1f} mm)")
    if canon.cut_top > MAX_CUT_TOP:
        reasons.append("incomplete coverage: the scan stops below the vertex")
    if canon.cut_bottom > MAX_CUT_BOTTOM:
        reasons.append("incomplete coverage: the scan starts above the circle of Willis")
    return QualityResult(not reasons, tuple(reasons), enhancement, canon.slice_jump,
                         canon.cut_top, canon.cut_bottom)

"""Independent families of synthetic head CTA (issue 17: a detector must not learn one generator).

Each family lives in its own module, written from its own anatomical description without sight
of the others, and exposes ``FAMILY`` (its name) and ``render(seed, label, matrix=...)`` returning
a :class:`CtaCase`. :func:`write_case` writes any family's case as a DICOM CTA series with its
``truth.json``. The original generator (:mod:`strokealert.phantoms.cta`) is a family of its own.

Conventions (as everywhere in strokealert): arrays are (z, y, x) in HU, patient LPS, z rising
towards the vertex; spacing in millimetres as (z, y, x).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from strokealert.phantoms.series import SeriesInfo, write_centred_volume

LVO_SITES = ("ICA", "M1", "M2", "basilar")
"""Occlusion sites that count as a large vessel occlusion."""

HARD_NEGATIVES = ("normal", "stenosis", "hypoplastic", "distal_occlusion", "asymmetric_normal")
"""Cases that are not an LVO, some of them built to look like one."""


@dataclass(frozen=True)
class CaseLabel:
    """What a case should contain: an LVO (``site`` and ``side``) or a negative ``kind``.

    ``site`` is one of :data:`LVO_SITES` or None; ``side`` is ``left``, ``right`` or ``none``
    (``none`` for the basilar artery and for negatives); ``kind`` is ``lvo`` or one of
    :data:`HARD_NEGATIVES`.
    """

    kind: str = "normal"
    site: str | None = None
    side: str = "none"

    def __post_init__(self) -> None:
        if self.kind == "lvo":
            if self.site not in LVO_SITES:
                raise ValueError(f"an LVO needs a site in {LVO_SITES}, not {self.site!r}")
            if (self.site == "basilar") != (self.side == "none"):
                raise ValueError("the basilar artery has no side; every other site has one")
            if self.side not in ("left", "right", "none"):
                raise ValueError(f"side must be left, right or none, not {self.side!r}")
        elif self.kind not in HARD_NEGATIVES:
            raise ValueError(f"kind must be 'lvo' or one of {HARD_NEGATIVES}, not {self.kind!r}")


@dataclass
class CtaCase:
    """One rendered case: the volume, its geometry and what is true about it."""

    family: str
    seed: int
    label: CaseLabel
    volume_hu: np.ndarray  # (z, y, x), float32 or int16, HU
    spacing_mm: tuple[float, float, float]  # (z, y, x)
    details: dict[str, Any] = field(default_factory=dict)  # variants, pose, physics drawn

    def truth(self) -> dict[str, Any]:
        """The ``truth.json`` content: label, family, seed and the drawn details."""
        return {"family": self.family, "seed": self.seed, "lvo": self.label.kind == "lvo",
                "kind": self.label.kind, "site": self.label.site, "side": self.label.side,
                "spacing_mm": list(self.spacing_mm), "shape": list(self.volume_hu.shape),
                "details": self.details}


def write_case(case: CtaCase, out_dir: Path) -> dict[str, Any]:
    """Write ``case`` as a DICOM CTA series under ``out_dir/dicom`` plus ``out_dir/truth.json``.

    The volume is centred on the scanner's isocentre; ``details`` may carry ``origin_mm`` (LPS
    position of voxel (0, 0, 0)) to place it otherwise.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    series = SeriesInfo(series_number=4, description=f"CTA Head {case.family}", contrast=True,
                        kernel=str(case.details.get("kernel", "Hv40")), kvp=100.0)
    paths = write_centred_volume(case.volume_hu, out_dir / "dicom", series=series,
                                 spacing_mm=case.spacing_mm,
                                 origin_mm=case.details.get("origin_mm"))
    truth = {"schema": "strokealert.phantom.cta/1", "images": len(paths), **case.truth()}
    (out_dir / "truth.json").write_text(json.dumps(truth, indent=2, default=str))
    return truth

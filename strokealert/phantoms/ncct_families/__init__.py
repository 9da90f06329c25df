"""Independent families of synthetic non-contrast head CT (issue 19: haemorrhage and ASPECTS).

Each family lives in its own module, written from its own anatomical description without sight
of the others, and exposes ``FAMILY`` (its name) and ``render(seed, label, matrix=...)`` returning
an :class:`NcctCase`. :func:`write_case` writes any family's case as a DICOM NCCT series with its
``truth.json`` and the haemorrhage mask (``truth_blood.npz``).

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

BLEED_KINDS = ("intraparenchymal", "intraventricular", "subarachnoid", "subdural", "epidural")
"""Kinds of acute intracranial haemorrhage."""

ASPECTS_REGIONS = ("C", "L", "IC", "I", "M1", "M2", "M3", "M4", "M5", "M6")
"""The ten ASPECTS regions of one MCA territory."""

FAMILIES = ("geometric", "fields", "projected", "landmarks", "template", "laplace", "coronal",
            "harmonic", "gyral", "sectional", "folded", "voxelised", "medial", "cellular",
            "metaball")
"""The generator families: modules of this package, each with ``render`` and
``render_labelled``."""

MIMICS = ("choroid_plexus_calcification", "pineal_calcification", "basal_ganglia_calcification",
          "falx_calcification", "hyperdense_vessel", "streak_artefact", "residual_contrast")
"""Bright things that are not acute blood."""


@dataclass(frozen=True)
class NcctLabel:
    """What a case should contain.

    ``bleeds``: kinds from :data:`BLEED_KINDS` (empty for no haemorrhage); ``ischaemic_regions``:
    ASPECTS regions with early ischaemic change on ``ischaemic_side`` (``left``/``right``, or
    ``none`` when there are none); ``mimics``: names from :data:`MIMICS` to draw.
    """

    bleeds: tuple[str, ...] = ()
    ischaemic_regions: tuple[str, ...] = ()
    ischaemic_side: str = "none"
    mimics: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = [b for b in self.bleeds if b not in BLEED_KINDS]
        if unknown:
            raise ValueError(f"unknown bleed kinds {unknown}; known: {BLEED_KINDS}")
        unknown = [r for r in self.ischaemic_regions if r not in ASPECTS_REGIONS]
        if unknown:
            raise ValueError(f"unknown ASPECTS regions {unknown}; known: {ASPECTS_REGIONS}")
        if bool(self.ischaemic_regions) != (self.ischaemic_side in ("left", "right")):
            raise ValueError("ischaemic regions need a side (left/right), and a side needs regions")
        unknown = [m for m in self.mimics if m not in MIMICS]
        if unknown:
            raise ValueError(f"unknown mimics {unknown}; known: {MIMICS}")

    @property
    def aspects(self) -> int:
        """The true ASPECTS of the affected side: 10 minus the regions with ischaemic change."""
        return 10 - len(set(self.ischaemic_regions))


@dataclass
class NcctCase:
    """One rendered case: the volume, its geometry, the blood mask and what is true about it."""

    family: str
    seed: int
    label: NcctLabel
    volume_hu: np.ndarray  # (z, y, x), float32 or int16, HU
    spacing_mm: tuple[float, float, float]  # (z, y, x)
    blood_mask: np.ndarray  # (z, y, x) uint8: 0 none, 1 + index in BLEED_KINDS
    details: dict[str, Any] = field(default_factory=dict)  # pose, physics, bleed volumes (mL);
    # the ASPECTS evaluation reads "ischaemic_delta_hu" (grey matter's ischaemic drop, HU; None
    # without ischaemia) from every family's but geometric's (its "ischaemia"/"delta_hu")

    def blood_volume_ml(self) -> float:
        """Volume of all blood in the mask, in mL."""
        voxel_ml = float(np.prod(self.spacing_mm)) / 1000.0
        return float(np.count_nonzero(self.blood_mask)) * voxel_ml

    def truth(self) -> dict[str, Any]:
        """The ``truth.json`` content: label, ASPECTS, blood volume, family, seed, details."""
        return {"family": self.family, "seed": self.seed, "ich": bool(self.label.bleeds),
                "bleeds": list(self.label.bleeds), "blood_volume_ml": self.blood_volume_ml(),
                "aspects": self.label.aspects, "ischaemic_side": self.label.ischaemic_side,
                "ischaemic_regions": list(self.label.ischaemic_regions),
                "mimics": list(self.label.mimics), "spacing_mm": list(self.spacing_mm),
                "shape": list(self.volume_hu.shape), "details": self.details}


def write_case(case: NcctCase, out_dir: Path) -> dict[str, Any]:
    """Write ``case`` as a DICOM NCCT series under ``out_dir/dicom``, ``out_dir/truth.json`` and
    the blood mask as ``out_dir/truth_blood.npz``.

    The volume is centred on the scanner's isocentre; ``details`` may carry ``origin_mm`` (LPS
    position of voxel (0, 0, 0)) to place it otherwise.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    series = SeriesInfo(series_number=2, description=f"Head NCCT {case.family}",
                        kernel=str(case.details.get("kernel", "Hr38")), kvp=120.0)
    paths = write_centred_volume(case.volume_hu, out_dir / "dicom", series=series,
                                 spacing_mm=case.spacing_mm,
                                 origin_mm=case.details.get("origin_mm"))
    np.savez_compressed(out_dir / "truth_blood.npz", mask=case.blood_mask.astype(np.uint8))
    truth = {"schema": "strokealert.phantom.ncct/1", "images": len(paths), **case.truth()}
    (out_dir / "truth.json").write_text(json.dumps(truth, indent=2, default=str))
    return truth

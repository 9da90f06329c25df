"""The ``strokealert.analysis/1`` result: typed models, the alert :class:`Level`, JSON Schema.

``strokealert analyze --json``, the pipeline's jobs and the case store all build and read this
one model; ``analysis-1.schema.json`` beside this file is generated from it
(``python -m strokealert.contracts.analysis``) and a test keeps the two equal. Serialised with
:meth:`AnalysisResult.to_json`, only the keys that were given appear, so a block that did not run
stays ``{"status": "not_run", "error": null}``.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

SCHEMA: Final = "strokealert.analysis/1"
SCHEMA_FILE = Path(__file__).with_name("analysis-1.schema.json")

Status = Literal["ok", "failed", "not_run"]
Side = Literal["left", "right", "none"]
SeriesKind = Literal["ctp", "cta", "ncct", "other"]
Site = Literal["ICA", "M1", "M2", "basilar"]
BleedKind = Literal["intraparenchymal", "intraventricular", "subarachnoid", "subdural", "epidural"]
BLEED_KINDS: Final[tuple[str, ...]] = get_args(BleedKind)
"""Kinds of acute intracranial haemorrhage, in the order of the NCCT label map's values
(``1 + index``, see :data:`strokealert.contracts.outputs.NCCT_BLOOD_FILE`)."""


class Level(StrEnum):
    """Alert levels, most urgent first: the order in which the decision rules rank them."""

    CRITICAL = "critical"
    WARNING = "warning"
    MANUAL_REVIEW = "manual_review"  # something could not be analysed: never silent
    NONE = "none"

    @property
    def rank(self) -> int:
        """0 for the most urgent level."""
        return list(Level).index(self)


class Block(BaseModel):
    """What every analysis block carries; producers may add their own detail keys."""

    model_config = ConfigDict(extra="allow")

    status: Status
    error: str | None = None
    incomplete: str | None = Field(
        default=None, description="what the series lacked (images, positions, frames) when it was "
                          "analysed anyway; the alert is then manual_review")
    key_images: list[str] | None = None


class PerfusionBlock(Block):
    """CT perfusion: volumes in mL, ratio and HIR unitless."""

    core_ml: float | None = None
    hypoperfusion_ml: dict[str, float] | None = Field(
        default=None, description="Tmax > 4/6/8/10 s volumes, keys tmax4 … tmax10")
    mismatch_ml: float | None = None
    mismatch_ratio: float | None = None
    hir: float | None = None
    side: Side | None = None
    defuse3_eligible: bool | None = None
    maps: dict[str, str] | None = None


class LvoBlock(Block):
    """Large vessel occlusion on the CTA."""

    probability: float | None = None
    suspected: bool | None = None
    threshold: float | None = None
    side: Side | None = None
    site: Site | None = None
    model: str | None = None
    manual_review: bool | None = None
    quality_reason: str | None = None


class IchFinding(BaseModel):
    """Intracranial haemorrhage on the NCCT: volumes in mL, shift in mm."""

    model_config = ConfigDict(extra="allow")

    suspected: bool | None = None
    kinds: list[BleedKind] | None = None
    volume_ml: float | None = Field(default=None, description="all blood, from the segmentation")
    abc2_ml: float | None = Field(
        default=None, description="ABC/2 of the largest intraparenchymal haematoma")
    side: Side | None = None
    location: str | None = Field(default=None, description="e.g. 'left basal ganglia'")
    midline_shift_mm: float | None = None
    probability: float | None = None
    manual_review: bool | None = None
    reason: str | None = Field(default=None, description="why a manual review is asked for")


class AspectsFinding(BaseModel):
    """ASPECTS of the affected side on the NCCT (10 = no early ischaemic change)."""

    model_config = ConfigDict(extra="allow")

    score: int | None = Field(default=None, ge=0, le=10)
    side: Side | None = None
    regions: list[str] | None = Field(default=None, description="regions with early change")
    manual_review: bool | None = None
    reason: str | None = None


class NcctBlock(Block):
    """Haemorrhage and ASPECTS on the unenhanced CT."""

    ich: IchFinding | None = None
    aspects: AspectsFinding | None = None


class SeriesEntry(BaseModel):
    """One series of the study as received."""

    model_config = ConfigDict(extra="forbid")

    series_instance_uid: str
    kind: SeriesKind
    images: int = Field(description="images of the series received, usable or not")
    excluded: int | None = Field(
        default=None, description="images left out for unreadable or inconsistent geometry")
    description: str


class AlertBlock(BaseModel):
    """The decision: the most urgent level of the rules that fired, and why."""

    model_config = ConfigDict(extra="forbid")

    level: Level
    reasons: list[str]
    rules: list[str]


class AnalysisResult(BaseModel):
    """The ``strokealert.analysis/1`` result of one study."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: Literal["strokealert.analysis/1"] = Field(default=SCHEMA, alias="schema")
    study_instance_uid: str
    series: list[SeriesEntry]
    perfusion: PerfusionBlock
    lvo: LvoBlock
    ncct: NcctBlock | None = None
    alert: AlertBlock
    dicom_results: list[str] | None = Field(
        default=None,
        description="DICOM objects written (SC, SEG, SR), relative to the output folder")
    timings_s: dict[str, float | None]

    def to_json(self) -> dict[str, Any]:
        """The JSON object (only the keys that were set, ``schema`` always first)."""
        body = self.model_dump(mode="json", by_alias=True, exclude_unset=True)
        return {"schema": SCHEMA, **{k: v for k, v in body.items() if k != "schema"}}


def not_run() -> dict[str, Any]:
    """The block of an analysis that did not apply (no such series)."""
    return {"status": "not_run", "error": None}


def _fmt_ml(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} mL"


def perfusion_summary(perfusion: dict[str, Any] | None) -> str:
    """One line of volumes, e.g. ``Core 21 mL, Tmax>6 s 102 mL, mismatch 4.8``."""
    if not perfusion or perfusion.get("status") != "ok":
        return ""
    hypo = (perfusion.get("hypoperfusion_ml") or {}).get("tmax6")
    ratio = perfusion.get("mismatch_ratio")
    ratio_text = "inf" if ratio is None or ratio == float("inf") else f"{ratio:.1f}"
    return (f"Core {_fmt_ml(perfusion.get('core_ml'))}, Tmax>6 s {_fmt_ml(hypo)}, "
            f"mismatch {ratio_text}")


def ich_description(ich: dict[str, Any]) -> str:
    """Kinds, volume and location of a haemorrhage, e.g.
    ``intraparenchymal, 23 mL, left basal ganglia`` (parts that are unknown are left out)."""
    kinds = " + ".join(str(k) for k in ich.get("kinds") or [])
    volume = ich.get("volume_ml")
    where = ich.get("location") or (ich.get("side") if ich.get("side") in ("left", "right")
                                    else None)
    parts = [kinds or None, _fmt_ml(volume) if isinstance(volume, int | float) else None, where]
    return ", ".join(str(p) for p in parts if p) or "kind and volume undetermined"


def ncct_summary(ncct: dict[str, Any] | None) -> str:
    """One line of NCCT findings, e.g. ``Haemorrhage found on the NCCT: intraparenchymal, 23 mL,
    left basal ganglia, midline shift 3.1 mm; ASPECTS 8 (left: M2, I)``; empty when it did not
    run."""
    if not ncct or ncct.get("status") != "ok":
        return ""
    parts = []
    ich = ncct.get("ich") or {}
    if ich.get("suspected"):
        shift = ich.get("midline_shift_mm")
        shift_text = f", midline shift {shift:.1f} mm" if isinstance(shift, int | float) \
            and shift > 0 else ""
        parts.append(f"Haemorrhage found on the NCCT: {ich_description(ich)}{shift_text}")
    elif ich:
        parts.append("No haemorrhage on the NCCT")
    aspects = ncct.get("aspects") or {}
    score = aspects.get("score")
    if isinstance(score, int):
        regions = ", ".join(str(r) for r in aspects.get("regions") or [])
        side = aspects.get("side")
        detail = f" ({side}: {regions})" if regions and side in ("left", "right") else \
            (f" ({regions})" if regions else "")
        parts.append(f"ASPECTS {score}{detail}")
    return "; ".join(parts)


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of :class:`AnalysisResult`."""
    schema = AnalysisResult.model_json_schema(by_alias=True, mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": SCHEMA, **schema}


def schema_text() -> str:
    """The checked-in file's exact text."""
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    SCHEMA_FILE.write_text(schema_text())
    print(f"wrote {SCHEMA_FILE}")

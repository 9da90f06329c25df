"""The ``strokealert.analysis/1`` contract: one typed model, its checked-in JSON Schema, and the
alert levels that the notifications library keeps on its own side of the fence."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from notifications.payload import LEVELS
from strokealert.contracts.analysis import SCHEMA_FILE, AnalysisResult, Level, schema_text

# The example of ../shared/ARCHITECTURE.md, key for key.
EXAMPLE = {
    "schema": "strokealert.analysis/1",
    "study_instance_uid": "1.2.3",
    "series": [{"series_instance_uid": "1.2.3.4", "kind": "ctp", "images": 640,
                "description": "Perfusion"}],
    "perfusion": {
        "status": "ok", "error": None, "core_ml": 21.4,
        "hypoperfusion_ml": {"tmax4": 0, "tmax6": 0, "tmax8": 0, "tmax10": 0},
        "mismatch_ml": 80.1, "mismatch_ratio": 4.7, "hir": 0.35, "side": "left",
        "defuse3_eligible": True,
        "maps": {"cbf": "cbf.nii.gz", "cbv": "cbv.nii.gz", "mtt": "mtt.nii.gz",
                 "tmax": "tmax.nii.gz", "core": "core.nii.gz", "hypoperfusion": "h.nii.gz"},
        "key_images": ["perfusion_summary.png"]},
    "lvo": {"status": "ok", "error": None, "probability": 0.97, "suspected": True,
            "threshold": 0.5, "side": "left", "site": "M1", "model": "name@version",
            "key_images": ["lvo_mip.png"]},
    "ncct": {"status": "ok", "error": None,
             "ich": {"suspected": True, "kinds": ["intraparenchymal"], "volume_ml": 23.0,
                     "side": "left", "midline_shift_mm": 3.1, "probability": 0.98},
             "aspects": {"score": 8, "side": "left", "regions": ["M2", "insula"]},
             "key_images": ["ncct_ich.png", "ncct_aspects.png"]},
    "alert": {"level": "critical", "reasons": ["LVO suspected: left M1 (p=0.97)"],
              "rules": ["lvo_suspected"]},
    "timings_s": {"total": 12.3, "perfusion": 8.1, "lvo": 2.0},
}


def test_the_checked_in_schema_is_the_model_s() -> None:
    assert SCHEMA_FILE.read_text() == schema_text(), \
        "regenerate with: python -m strokealert.contracts.analysis"


def test_the_documented_result_round_trips_key_for_key() -> None:
    assert AnalysisResult.model_validate(EXAMPLE).to_json() == EXAMPLE
    not_run = {**EXAMPLE, "lvo": {"status": "not_run", "error": None}}
    assert AnalysisResult.model_validate(not_run).to_json()["lvo"] == not_run["lvo"]


@pytest.mark.parametrize("change", [
    {"alert": {"level": "urgent", "reasons": [], "rules": []}},
    {"lvo": {"status": "done", "error": None}},
    {"perfusion": {**EXAMPLE["perfusion"], "side": "both"}},
    {"series": [{"series_instance_uid": "1", "kind": "mri", "images": 1, "description": ""}]},
])
def test_values_outside_the_contract_are_refused(change: dict) -> None:
    with pytest.raises(ValidationError):
        AnalysisResult.model_validate(json.loads(json.dumps({**EXAMPLE, **change})))


def test_levels_most_urgent_first_and_the_notifications_copy_agrees() -> None:
    assert [level.value for level in Level] == ["critical", "warning", "manual_review", "none"]
    assert Level.CRITICAL.rank < Level.WARNING.rank < Level.MANUAL_REVIEW.rank
    assert LEVELS == tuple(level.value for level in Level if level is not Level.NONE)

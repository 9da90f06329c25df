"""Decision rules: which rule fires, the level, and PHI-free alert text."""

from __future__ import annotations

from strokealert.pipeline.rules import RuleSettings, decide

LVO_POSITIVE = {"status": "ok", "probability": 0.97, "suspected": True, "threshold": 0.5,
                "side": "left", "site": "M1"}
LVO_NEGATIVE = {"status": "ok", "probability": 0.03, "suspected": False, "threshold": 0.5,
                "side": "none", "site": None}
PERFUSION_MISMATCH = {"status": "ok", "core_ml": 21.4,
                      "hypoperfusion_ml": {"tmax4": 150, "tmax6": 102.0, "tmax8": 60, "tmax10": 30},
                      "mismatch_ml": 80.6, "mismatch_ratio": 4.77, "defuse3_eligible": True}


def test_lvo_alone_is_critical_with_side_and_site() -> None:
    decision = decide(None, LVO_POSITIVE)
    assert decision.level == "critical"
    assert decision.title == "LVO suspected: left M1"
    assert decision.reasons == ["LVO suspected: left M1 (p=0.97)"]
    assert decision.rule_names == ["lvo_suspected"]


def test_lvo_and_mismatch_keep_both_reasons_and_volumes_in_body() -> None:
    decision = decide(PERFUSION_MISMATCH, LVO_POSITIVE)
    assert decision.level == "critical"
    assert decision.rule_names == ["lvo_suspected", "defuse3_mismatch"]
    assert decision.body == "Core 21 mL, Tmax>6 s 102 mL, mismatch 4.8"


def test_large_core_is_a_warning_with_the_volume() -> None:
    perfusion = {**PERFUSION_MISMATCH, "core_ml": 95.0, "defuse3_eligible": False}
    decision = decide(perfusion, LVO_NEGATIVE)
    assert decision.level == "warning"
    assert decision.title == "Large core: 95 mL"
    assert decide(perfusion, LVO_NEGATIVE, RuleSettings(large_core_ml=100)).level == "none"


def test_failed_analysis_is_never_silent() -> None:
    failed = {"status": "failed", "error": "no arterial input function found"}
    decision = decide(failed, LVO_NEGATIVE)
    assert decision.level == "manual_review"
    assert "no arterial input function found" in decision.title
    lvo_failed = {"status": "failed", "error": "no head found in the volume"}
    assert decide(None, lvo_failed).level == "manual_review"


def test_quality_gate_turns_a_negative_into_manual_review() -> None:
    gated = {**LVO_NEGATIVE, "quality": "insufficient", "manual_review": True,
             "quality_reason": "poor arterial contrast (peak 95 HU)"}
    decision = decide(None, gated)
    assert decision.level == "manual_review"
    assert "poor arterial contrast" in decision.reasons[0]


def test_nothing_found_is_level_none() -> None:
    decision = decide({**PERFUSION_MISMATCH, "defuse3_eligible": False}, LVO_NEGATIVE)
    assert decision.level == "none" and decision.reasons == []

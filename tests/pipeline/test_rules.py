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


ICH = {"status": "ok", "ich": {"suspected": True, "kinds": ["intraparenchymal"],
                               "volume_ml": 23.2, "side": "left",
                               "location": "left basal ganglia", "midline_shift_mm": 3.1,
                               "probability": 0.98},
       "aspects": {"score": 8, "side": "left", "regions": ["M2", "I"]}}
NO_ICH = {"status": "ok", "ich": {"suspected": False, "kinds": [], "volume_ml": 0.0},
          "aspects": {"score": 9, "side": "left", "regions": ["M2"]}}


def test_haemorrhage_is_critical_with_its_own_title() -> None:
    decision = decide(None, None, ncct=ICH)
    assert decision.level == "critical"
    assert decision.title == "Haemorrhage suspected: intraparenchymal, 23 mL, left basal ganglia"
    assert decision.rule_names == ["ich_suspected"]
    assert decision.body == ("Haemorrhage found on the NCCT: intraparenchymal, 23 mL, left basal "
                             "ganglia, midline shift 3.1 mm; ASPECTS 8 (left: M2, I)")


def test_lvo_and_perfusion_alerts_say_the_ncct_shows_blood() -> None:
    decision = decide(PERFUSION_MISMATCH, LVO_POSITIVE, ncct=ICH)
    assert decision.rule_names == ["ich_suspected", "lvo_suspected", "defuse3_mismatch"]
    assert decision.title.startswith("Haemorrhage suspected")
    assert all(reason.endswith("; haemorrhage found on the NCCT")
               for reason in decision.reasons[1:])
    assert decision.body.startswith("Haemorrhage found on the NCCT: intraparenchymal")
    assert decision.body.endswith("Core 21 mL, Tmax>6 s 102 mL, mismatch 4.8")


def test_no_blood_and_normal_aspects_is_silent() -> None:
    decision = decide(None, None, ncct={**NO_ICH, "aspects": {"score": 10, "regions": []}})
    assert decision.level == "none" and decision.fired == []
    assert decision.body == "No haemorrhage on the NCCT; ASPECTS 10"


def test_aspects_without_ctp_gives_the_late_window_note_with_an_lvo() -> None:
    decision = decide(None, LVO_POSITIVE, ncct=NO_ICH)
    assert decision.level == "critical" and decision.title == "LVO suspected: left M1"
    assert decision.rule_names == ["lvo_suspected", "aspects_late_window"]
    assert "ASPECTS 9 (>= 6) with LVO and no CT perfusion" in decision.reasons[1]
    low = decide(None, LVO_POSITIVE, RuleSettings(aspects_min=10), ncct=NO_ICH)
    assert low.rule_names == ["lvo_suspected", "aspects_low"]
    # With a CT perfusion result the perfusion rules decide, not ASPECTS.
    assert "aspects_late_window" not in decide(PERFUSION_MISMATCH, LVO_POSITIVE,
                                               ncct=NO_ICH).rule_names


def test_ncct_failure_or_review_is_never_silent() -> None:
    failed = decide(None, None, ncct={"status": "failed", "error": "no brain found"})
    assert failed.level == "manual_review"
    assert failed.title == "NCCT could not be analysed: no brain found"
    review = decide(None, None, ncct={"status": "ok", "ich": {
        "suspected": False, "manual_review": True, "reason": "streak artefacts"}})
    assert review.level == "manual_review"
    assert review.reasons == ["NCCT haemorrhage needs manual review: streak artefacts"]
    incomplete = decide(None, None, ncct={**ICH, "incomplete": "NCCT: 3 of 40 images missing"})
    assert incomplete.level == "manual_review"
    assert incomplete.rule_names == ["ncct_incomplete", "ich_suspected"]

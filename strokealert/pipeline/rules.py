"""Decision rules: analysis blocks -> alert level, reasons, and the rule that fired.

Levels, most urgent first: ``critical``, ``warning``, ``manual_review``, ``none``. Every
rule that fires is kept (and shown); the case takes the most urgent level. Anything that could
not be analysed fires ``manual_review``: the system is never silent about a study it received.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strokealert.contracts.analysis import Level, ich_description, ncct_summary, perfusion_summary

ICH_FOUND = "haemorrhage found on the NCCT"
ICH_RULE = "ich_suspected"


@dataclass(frozen=True)
class RuleSettings:
    """Thresholds of the decision rules (from the service settings)."""

    lvo_critical: bool = True
    defuse3_critical: bool = True
    large_core_ml: float = 70.0
    aspects_min: int = 6  # LVO without CT perfusion: ASPECTS at or above it meets the criterion


@dataclass(frozen=True)
class FiredRule:
    """A rule that fired; ``title`` is the short push headline (defaults to ``reason``)."""

    name: str
    level: Level
    reason: str
    title: str | None = None


@dataclass
class Decision:
    """The outcome: level, the rules that fired, and the PHI-free title/body of an alert."""

    level: Level = Level.NONE
    fired: list[FiredRule] = field(default_factory=list)
    title: str = "No actionable finding"
    body: str = ""

    @property
    def reasons(self) -> list[str]:
        return [rule.reason for rule in self.fired]

    @property
    def rule_names(self) -> list[str]:
        return [rule.name for rule in self.fired]

    @property
    def haemorrhage(self) -> bool:
        """True when the NCCT shows blood: the alert pages along the haemorrhage policy."""
        return ICH_RULE in self.rule_names

    def to_json(self) -> dict[str, Any]:
        """The ``alert`` block of ``strokealert.analysis/1``."""
        return {"level": self.level.value, "reasons": self.reasons, "rules": self.rule_names}


def _side_site(lvo: dict[str, Any]) -> str:
    side = lvo.get("side")
    site = lvo.get("site")
    parts = [p for p in (side if side in ("left", "right") else None, site) if p]
    return " ".join(parts) if parts else "site undetermined"


def decide(
    perfusion: dict[str, Any] | None,
    lvo: dict[str, Any] | None,
    rules: RuleSettings | None = None,
    ncct: dict[str, Any] | None = None,
) -> Decision:
    """Apply the decision rules to the ``perfusion``, ``lvo`` and ``ncct`` blocks (any may be
    absent). A haemorrhage heads the list; the LVO and perfusion reasons then say so too."""
    rules = rules or RuleSettings()
    ich_fired = _ich_rules(ncct)
    bleeding = any(rule.name == ICH_RULE for rule in ich_fired)
    lvo_fired = _with_ich_note(_lvo_rules(lvo, rules) + _aspects_rules(lvo, perfusion, ncct,
                                                                       rules), bleeding)
    perfusion_fired = _with_ich_note(_perfusion_rules(perfusion, rules), bleeding)
    fired = (on_complete_data("ncct", ncct, ich_fired)
             + on_complete_data("lvo", lvo, lvo_fired)
             + on_complete_data("perfusion", perfusion, perfusion_fired))
    body = "; ".join(part for part in (ncct_summary(ncct), perfusion_summary(perfusion)) if part)
    if not fired:
        return Decision(body=body)
    fired.sort(key=lambda rule: rule.level.rank)
    return Decision(level=fired[0].level, fired=fired, title=fired[0].title or fired[0].reason,
                    body=body)


def on_complete_data(name: str, block: dict[str, Any] | None,
                     fired: list[FiredRule]) -> list[FiredRule]:
    """The block's rules as they stand when its series was whole; otherwise a manual review
    that says what was missing first, and every finding kept as a reason at that level."""
    if not block or not block.get("incomplete"):
        return fired
    capped = [FiredRule(rule.name, Level.MANUAL_REVIEW, f"{rule.reason} (on incomplete data)")
              if rule.level.rank < Level.MANUAL_REVIEW.rank else rule for rule in fired]
    return [FiredRule(f"{name}_incomplete", Level.MANUAL_REVIEW, str(block["incomplete"])),
            *capped]


def _lvo_rules(lvo: dict[str, Any] | None, rules: RuleSettings) -> list[FiredRule]:
    fired: list[FiredRule] = []
    if lvo and lvo.get("status") == "ok":
        if lvo.get("suspected") and rules.lvo_critical:
            probability = lvo.get("probability")
            p_text = f" (p={probability:.2f})" if isinstance(probability, int | float) else ""
            headline = f"LVO suspected: {_side_site(lvo)}"
            fired.append(FiredRule("lvo_suspected", Level.CRITICAL, headline + p_text, headline))
        if lvo.get("manual_review"):
            why = lvo.get("quality_reason") or lvo.get("reason") or "image quality insufficient"
            fired.append(FiredRule("lvo_quality", Level.MANUAL_REVIEW,
                                   f"CTA needs manual review: {why}"))
    elif lvo and lvo.get("status") == "failed":
        fired.append(FiredRule("lvo_failed", Level.MANUAL_REVIEW,
                               f"CTA could not be analysed: {lvo.get('error') or 'unknown error'}"))
    return fired


def _perfusion_rules(perfusion: dict[str, Any] | None, rules: RuleSettings) -> list[FiredRule]:
    fired: list[FiredRule] = []
    if perfusion and perfusion.get("status") == "ok":
        core = perfusion.get("core_ml")
        if perfusion.get("defuse3_eligible") and rules.defuse3_critical:
            fired.append(FiredRule("defuse3_mismatch", Level.CRITICAL,
                                   f"Target mismatch (DEFUSE 3): {perfusion_summary(perfusion)}"))
        if isinstance(core, int | float) and core >= rules.large_core_ml:
            fired.append(FiredRule("large_core", Level.WARNING, f"Large core: {core:.0f} mL"))
    elif perfusion and perfusion.get("status") == "failed":
        fired.append(FiredRule(
            "perfusion_failed", Level.MANUAL_REVIEW,
            f"Perfusion could not be analysed: {perfusion.get('error') or 'unknown error'}"))
    return fired


def _with_ich_note(fired: list[FiredRule], bleeding: bool) -> list[FiredRule]:
    """The critical LVO/perfusion findings, saying that the NCCT shows haemorrhage."""
    if not bleeding:
        return fired
    return [FiredRule(rule.name, rule.level, f"{rule.reason}; {ICH_FOUND}",
                      f"{rule.title or rule.reason}; {ICH_FOUND}")
            if rule.level is Level.CRITICAL else rule for rule in fired]


def _ich_rules(ncct: dict[str, Any] | None) -> list[FiredRule]:
    fired: list[FiredRule] = []
    if ncct and ncct.get("status") == "ok":
        ich = ncct.get("ich") or {}
        if ich.get("suspected"):
            headline = f"Haemorrhage suspected: {ich_description(ich)}"
            probability = ich.get("probability")
            p_text = f" (p={probability:.2f})" if isinstance(probability, int | float) else ""
            fired.append(FiredRule(ICH_RULE, Level.CRITICAL, headline + p_text, headline))
        for name, finding, what in (("ich_review", ich, "haemorrhage"),
                                    ("aspects_review", ncct.get("aspects") or {}, "ASPECTS")):
            if finding.get("manual_review"):
                why = finding.get("reason") or "image quality insufficient"
                fired.append(FiredRule(name, Level.MANUAL_REVIEW,
                                       f"NCCT {what} needs manual review: {why}"))
    elif ncct and ncct.get("status") == "failed":
        why = ncct.get("error") or "unknown error"
        fired.append(FiredRule("ncct_failed", Level.MANUAL_REVIEW,
                               f"NCCT could not be analysed: {why}"))
    return fired


def _aspects_rules(lvo: dict[str, Any] | None, perfusion: dict[str, Any] | None,
                   ncct: dict[str, Any] | None, rules: RuleSettings) -> list[FiredRule]:
    """LVO without a CT perfusion result: the NCCT's ASPECTS against the late-window imaging
    criterion (ASPECTS >= ``aspects_min``, as in the trials that selected on NCCT + CTA)."""
    score = ((ncct or {}).get("aspects") or {}).get("score")
    if not (lvo and lvo.get("status") == "ok" and lvo.get("suspected")) \
            or (perfusion and perfusion.get("status") == "ok") \
            or (ncct or {}).get("status") != "ok" or not isinstance(score, int):
        return []
    if score >= rules.aspects_min:
        return [FiredRule("aspects_late_window", Level.WARNING,
                          f"ASPECTS {score} (>= {rules.aspects_min}) with LVO and no CT "
                          "perfusion: meets the late-window thrombectomy imaging criterion")]
    return [FiredRule("aspects_low", Level.WARNING,
                      f"ASPECTS {score} (< {rules.aspects_min}) with LVO: extensive early "
                      "ischaemic change, outside the late-window ASPECTS criterion")]

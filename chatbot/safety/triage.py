"""The model's structured triage, and its combination with the rules: final level = max(rules, model).

Why bounded fields: small models run out of tokens mid-JSON when a free-text field has no limit, so every string
and list in the schema has a ``maxLength``/``maxItems``; llama.cpp turns the schema into a grammar. Why a tolerant
parser: the grammar fixes the shape, not always the content (a deadline can cut it short), and a malformed answer
must become "no model opinion", never an exception.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator

from chatbot.answer import CareFloor, Triage, TriageLevel
from chatbot.config.settings import LevelThresholds
from chatbot.safety.floors import FLOOR_RULE_PREFIX, FiredFloor
from chatbot.safety.screen import ScreenResult

# (max items, max characters). Tight: every token costs ~0.15 s on a 2-core CPU.
_LIMITS = {"reasons": (2, 100), "red_flags": (2, 60), "possible_conditions": (2, 50), "follow_up_questions": (2, 100)}
_LEVEL = re.compile(r'"level"\s*:\s*"(emergency|urgent|routine|self_care)"')
LEVEL_TRIGGER = re.compile(r'"level"\s*:\s*"$')  # the model is about to write the level
LEVELS: tuple[str, ...] = tuple(level.value for level in TriageLevel)
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.M)
_FALLBACK_REASON = {
    "en": "See a doctor if you are unsure or if things get worse.",
    "zh": "如果您不确定或情况变差，请去看医生。",
}
_RULE_REASON = {"en": "Warning sign: {title}", "zh": "危险信号：{title}"}


class ModelTriage(BaseModel):
    """What the LLM returns. Over-long items are cut rather than rejected: a long reason is still a reason."""

    level: TriageLevel
    reasons: list[str] = Field(default_factory=list)
    red_flags: list[str] = Field(default_factory=list)
    possible_conditions: list[str] = Field(default_factory=list)
    follow_up_questions: list[str] = Field(default_factory=list)
    probabilities: dict[str, float] = Field(default_factory=dict, description="the model's level probabilities")

    @field_validator("level", mode="before")
    @classmethod
    def _level(cls, value: Any) -> Any:
        return str(value).strip().lower().replace("-", "_").replace(" ", "_") if value is not None else value

    @field_validator(*_LIMITS, mode="before")
    @classmethod
    def _bounded(cls, value: Any, info: Any) -> list[str]:
        max_items, max_len = _LIMITS[info.field_name]
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            return []
        items = [str(v).strip()[:max_len] for v in value if str(v).strip()]
        return items[:max_items]


def _schema() -> dict[str, Any]:
    strings = {
        name: {"type": "array", "maxItems": n, "items": {"type": "string", "maxLength": length}}
        for name, (n, length) in _LIMITS.items()
    }
    return {
        "type": "object",
        "properties": {"level": {"type": "string", "enum": [lvl.value for lvl in TriageLevel]}, **strings},
        "required": ["level", "reasons", "red_flags", "possible_conditions", "follow_up_questions"],
    }


MODEL_TRIAGE_SCHEMA: dict[str, Any] = _schema()


def decide_level(probabilities: dict[str, float], thresholds: LevelThresholds) -> TriageLevel:
    """The model's level from its probabilities of the four levels, most urgent cut-off first.

    Why not the most probable level: the small default model spreads its belief and almost never puts "emergency"
    first, even for crushing chest pain, yet the probability it gives "emergency" ranks emergencies above other
    cases well. Cut-offs fitted on our own vignettes turn that ranking into a level; they lean towards the more
    urgent level because under-triage costs more than over-triage.
    """
    p = {level: probabilities.get(level, 0.0) for level in LEVELS}
    if p["emergency"] >= thresholds.emergency:
        return TriageLevel.emergency
    if p["emergency"] + p["urgent"] >= thresholds.urgent:
        return TriageLevel.urgent
    if p["self_care"] >= thresholds.self_care:
        return TriageLevel.self_care
    return TriageLevel.routine


def parse_model_triage(raw: str | None) -> ModelTriage | None:
    """Parse the model's JSON (code fences and surrounding chatter tolerated); None when it is unusable."""
    if not raw or not isinstance(raw, str):
        return None
    text = _FENCE.sub("", raw.strip())
    start, end = text.find("{"), text.rfind("}")
    try:
        data = json.loads(text[start : end + 1]) if 0 <= start < end else None
        if isinstance(data, dict):
            return ModelTriage.model_validate(data)
    except (json.JSONDecodeError, ValidationError):
        pass
    return _level_only(text)


def _level_only(text: str) -> ModelTriage | None:
    """JSON cut short (a deadline, a token limit) still carries its first field, the level: keep that much."""
    match = _LEVEL.search(text)
    return ModelTriage(level=match.group(1)) if match else None


def combine_triage(
    screen: ScreenResult, model: ModelTriage | None, lang: str, floors: Sequence[FiredFloor] = ()
) -> Triage:
    """Final level = the most urgent of rules, care floors and model; without any, "routine" with a see-a-doctor
    reason.

    Reasons come in that order: fired rules, then the floors (each quoting the fact the patient gave), then the
    model's. When no layer gave a reason (no rule or floor, the model's JSON held only its level), the
    see-a-doctor reason is added: a patient never sees a level without one.
    """
    rules_level = screen.level
    floor_level = TriageLevel.highest(*(f.level for f in floors))
    model_level = model.level if model is not None else None
    level = TriageLevel.highest(rules_level, floor_level, model_level) or TriageLevel.routine
    reasons = [_RULE_REASON.get(lang, _RULE_REASON["en"]).format(title=h.title or h.id) for h in screen.hits]
    shown = {h.id for h in screen.hits}  # an emergency floor already joined the red flags (with_emergency_floors)
    reasons += [f.reason_in(lang) for f in floors
                if FLOOR_RULE_PREFIX + f.id not in shown and f.reason_in(lang) not in reasons]
    if model is not None:
        reasons += [r for r in model.reasons if r not in reasons]
    # a level is never shown without a reason (a cut-short JSON has only a level); the "see a doctor if unsure" line
    # is only added when no layer gave one, or without the model below same-day: under an emergency it contradicts
    if not reasons or (model is None and level.rank < TriageLevel.urgent.rank):
        reasons.append(_FALLBACK_REASON.get(lang, _FALLBACK_REASON["en"]))
    return Triage(
        level=level,
        decided_by=decided_by(rules_level, model_level, floor_level),
        reasons=reasons,
        red_flags=list(screen.hits),
        care_floors=[CareFloor(id=f.id, level=f.level, title=f.title_in(lang), reason=f.reason_in(lang),
                               quote=f.quote) for f in floors],
        possible_conditions=list(model.possible_conditions) if model else [],
        follow_up_questions=list(model.follow_up_questions) if model else [],
        rules_level=rules_level,
        floor_level=floor_level,
        model_level=model_level,
    )


def decided_by(rules: TriageLevel | None, model: TriageLevel | None, floor: TriageLevel | None = None,
               signs: TriageLevel | None = None) -> str:
    """Which layer set the final level: rules, facts (a care floor above every rule), model, both when the model
    agrees with the deterministic layers, or signs (a sign the model read, above every other layer)."""
    if signs is not None and all(signs.rank > x.rank for x in (rules, model, floor) if x is not None):
        return "signs"
    deterministic = TriageLevel.highest(rules, floor)
    own = "facts" if floor is not None and (rules is None or floor.rank > rules.rank) else "rules"
    if model is None:
        return own
    if deterministic is None:
        return "model"
    if deterministic == model:
        return "both"
    return own if deterministic.rank > model.rank else "model"

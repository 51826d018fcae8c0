import json

import pytest

from chatbot.answer import RedFlag, TriageLevel
from chatbot.safety.messages import escalation_message
from chatbot.safety.screen import FiredRule, ScreenResult
from chatbot.safety.triage import MODEL_TRIAGE_SCHEMA, ModelTriage, combine_triage, parse_model_triage


def _screen(level: str | None, crisis: bool = False, rule_id: str = "rf.cardiac.test") -> ScreenResult:
    if level is None:
        return ScreenResult()
    fired = FiredRule(id=rule_id, level=TriageLevel(level), crisis=crisis,
                      title={"en": "Possible heart attack", "zh": "可能是心脏病发作"},
                      message={"en": "These can be signs of a heart attack.", "zh": "这可能是心脏病发作的征兆。"})
    result = ScreenResult(fired=[fired], level=TriageLevel(level))
    result.hits = result.hits_in("en")
    return result


def _model(level: str) -> ModelTriage:
    return ModelTriage(level=level, reasons=["model reason"], possible_conditions=["viral infection"])


def test_model_self_care_cannot_lower_rules_emergency():
    triage = combine_triage(_screen("emergency"), _model("self_care"), "en")
    assert triage.level == TriageLevel.emergency and triage.decided_by == "rules"
    assert triage.red_flags[0].id == "rf.cardiac.test"
    assert triage.reasons[0].startswith("Warning sign")


@pytest.mark.parametrize(
    ("rules", "model", "level", "by"),
    [
        (None, "urgent", "urgent", "model"),
        ("urgent", "urgent", "urgent", "both"),
        ("urgent", "emergency", "emergency", "model"),
        ("emergency", "routine", "emergency", "rules"),
    ],
)
def test_final_level_is_the_max_and_decided_by_says_who(rules, model, level, by):
    triage = combine_triage(_screen(rules), _model(model), "en")
    assert triage.level == TriageLevel(level) and triage.decided_by == by


def test_no_model_falls_back_to_rules_or_routine_with_a_reason():
    nothing = combine_triage(_screen(None), None, "en")
    assert nothing.level == TriageLevel.routine and nothing.decided_by == "rules"
    assert "doctor" in nothing.reasons[-1]
    zh = combine_triage(_screen("urgent"), None, "zh")
    # at same-day or above the rule's reason stands alone: "see a doctor if unsure" would contradict the level
    assert zh.level == TriageLevel.urgent and zh.reasons == ["危险信号：Possible heart attack"]


@pytest.mark.parametrize(
    "raw",
    [None, "", "garbage", "{broken", '{"level": "panic"}', "[1, 2]", '{"reasons": ["no level"]}'],
)
def test_malformed_model_output_is_none(raw):
    assert parse_model_triage(raw) is None


def test_parser_tolerates_fences_chatter_and_over_long_fields():
    raw = "Here you go:\n```json\n" + json.dumps({
        "level": "Self-care", "reasons": ["x" * 500, "b", "c", "d"], "red_flags": "single string",
        "possible_conditions": [], "follow_up_questions": [1, None, "q"]}) + "\n```"
    parsed = parse_model_triage(raw)
    assert parsed.level == TriageLevel.self_care
    assert len(parsed.reasons) == 2 and len(parsed.reasons[0]) == 100
    assert parsed.red_flags == ["single string"]


def test_schema_bounds_every_free_text_field():
    props = MODEL_TRIAGE_SCHEMA["properties"]
    assert props["level"]["enum"] == ["self_care", "routine", "urgent", "emergency"]
    for name in ("reasons", "red_flags", "possible_conditions", "follow_up_questions"):
        assert props[name]["maxItems"] <= 3 and props[name]["items"]["maxLength"] <= 160
    assert list(props)[0] == "level"  # generated first, so a cut-short answer still has it


def test_json_cut_short_still_yields_its_level():
    parsed = parse_model_triage('{"level": "urgent", "reasons": ["pain is getting wor')
    assert parsed.level == TriageLevel.urgent and parsed.reasons == []


@pytest.mark.parametrize(("locale", "number"), [("US", "911"), ("GB", "999"), ("CN", "120"), ("AU", "000"),
                                                ("uk", "999"), ("nowhere", "emergency number")])
def test_emergency_escalation_names_the_locale_number_first(locale, number):
    text = escalation_message(_screen("emergency"), "en", locale)
    assert number in text.splitlines()[0]
    assert "heart attack" in text and "do not drive yourself" in text


def test_escalation_follows_the_patient_language():
    text = escalation_message(_screen("emergency"), "zh", "CN")
    assert "120" in text and "心脏病" in text and "不要自己开车" in text


def test_crisis_message_is_supportive_and_has_the_crisis_line():
    us = escalation_message(_screen("emergency", crisis=True, rule_id="rf.mental.suicidal_intent"), "en", "US")
    assert "988" in us and "911" in us and "sorry" in us.lower()
    gb = escalation_message(_screen("emergency", crisis=True, rule_id="rf.mental.suicidal_intent"), "en", "GB")
    assert "116 123" in gb and "Samaritans" in gb


def test_urgent_only_message_says_today_and_the_local_service():
    gb = escalation_message(_screen("urgent"), "en", "GB")
    assert gb.startswith("Please get medical help today") and "NHS 111" in gb and "999" in gb
    us = escalation_message(_screen("urgent"), "en", "US")
    assert "urgent care" in us


def test_poison_rules_add_the_poison_centre_where_one_exists():
    text = escalation_message(_screen("emergency", rule_id="rf.poison.overdose"), "en", "US")
    assert "1-800-222-1222" in text


def test_no_hits_no_message():
    assert escalation_message(ScreenResult(), "en", "US") is None


def test_redflag_hits_without_fired_records_still_render():
    result = ScreenResult(hits=[RedFlag(id="rf.x.y", level=TriageLevel.emergency, message="Act now.")],
                          level=TriageLevel.emergency)
    assert "Act now." in escalation_message(result, "en", "US")

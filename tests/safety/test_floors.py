"""Care floors: stated facts lift the level, quote the patient, and never fire on general questions."""

from __future__ import annotations

import pytest

from chatbot.answer import TriageLevel
from chatbot.safety.facts import extract_facts
from chatbot.safety.floors import (
    CareFloors,
    FloorsError,
    default_floors,
    read_measurements,
    with_emergency_floors,
)
from chatbot.safety.screen import default_screen
from chatbot.safety.text import normalize
from chatbot.safety.triage import combine_triage


def _floors(*messages: str) -> dict[str, tuple[str, str]]:
    facts = extract_facts(" ".join(messages))
    return {f.id: (f.level.value, f.quote) for f in default_floors().evaluate(list(messages), facts)}


@pytest.mark.parametrize(
    ("message", "floor", "level"),
    [
        ("My home blood pressure readings have been about 165/100 for a few weeks", "bp_high", "routine"),
        ("bp 185/122 this morning and a bit of a headache", "bp_very_high", "urgent"),
        ("I've had reflux most days for over a month", "long_duration", "routine"),
        ("my knees have ached for months", "long_duration", "routine"),
        ("cough for 6 weeks now", "long_duration", "routine"),
        ("I keep getting headaches, it keeps coming back", "recurring", "routine"),
        ("so thirsty and I've lost 6kg without trying", "weight_loss", "routine"),
        ("my 2 year old has diarrhoea and is peeing much less than usual", "dehydration_child_or_older", "urgent"),
        ("孩子两岁，拉肚子，一上午都没尿", "dehydration_child_or_older", "urgent"),
        ("my 6 week old has a temperature of 38.2", "fever_young_infant", "urgent"),
        ("我在化疗，今天发烧38.4度", "immunosuppressed_fever", "emergency"),
        ("on chemo and I've got a temperature of 38.1", "immunosuppressed_fever", "emergency"),
        ("my oxygen sats are 89% on the finger monitor", "spo2_very_low", "emergency"),
        ("blood sugar 2.9 and shaky", "glucose_low", "urgent"),
        ("glucose 25 mmol and so thirsty", "glucose_very_high", "urgent"),
        ("on gliclazide and had two hypos today, 3.1 and 2.8 mmol/L", "glucose_low", "urgent"),
        ("back from Kenya last week and now a fever", "travel_fever", "urgent"),
        ("had my gallbladder removed 5 days ago, now the wound is red and oozing", "post_surgery_warning", "urgent"),
        ("我爸75岁，发烧了", "fever_older", "urgent"),
        ("my mum is 83 and has had 3 falls in the last 6 months", "fall_older", "routine"),
        ("Dad is 79 and since yesterday he is suddenly confused", "confusion_older", "urgent"),
        ("咳嗽三个多星期了", "long_duration", "routine"),
        ("血压180/110，头有点晕", "bp_very_high", "urgent"),
    ],
)
def test_a_stated_fact_sets_its_floor_and_quotes_the_patient(message: str, floor: str, level: str) -> None:
    fired = _floors(message)
    assert floor in fired, fired
    assert fired[floor][0] == level
    assert fired[floor][1] and (normalize(fired[floor][1]) in normalize(message) or fired[floor][1] in message)


@pytest.mark.parametrize(
    "message",
    [
        "What are the warning signs of a stroke?",
        "I have a cold, runny nose since yesterday",
        "no weight loss, no fever, just a sore throat for 2 days",
        "I'm trying to lose weight and I've lost 5kg on my diet, any tips for energy?",
        "if my cough lasts 3 weeks should I see someone?",
        "my 3 month old baby is doing well, how often should she feed?",
        "我想减肥，已经瘦了五斤了",
        "my cholesterol was 7.5 mmol/L at the check-up, what should I eat?",
        "嗓子疼两天了",
        "怀孕26周，最近腰有点酸",
        "宝宝8个月，屁股有点红",
    ],
)
def test_no_floor_without_a_stated_fact(message: str) -> None:
    assert _floors(message) == {}


def test_higher_floor_replaces_the_lower_one_it_covers() -> None:
    fired = _floors("bp 190/125 at home")
    assert "bp_very_high" in fired and "bp_high" not in fired


def test_fahrenheit_and_chinese_units_are_read() -> None:
    readings = read_measurements([normalize("temp 102.2F"), normalize("体温39度")])
    assert readings.temp_c is not None and readings.temp_c[0] == pytest.approx(39.0, abs=0.05)
    mg = read_measurements([normalize("my sugar was 300 mg/dl")])
    assert mg.glucose_high is not None and mg.glucose_high[0] == pytest.approx(16.7, abs=0.1)


def test_facts_across_turns_count() -> None:
    fired = _floors("my baby is 5 weeks old", "she feels hot, temperature 38.3")
    assert fired.get("fever_young_infant", ("",))[0] == "urgent"


def test_emergency_floor_joins_the_red_flags_so_it_escalates() -> None:
    messages = ["I'm on chemotherapy and now I have a fever of 38.5"]
    screen = default_screen().screen(messages)
    floors = default_floors().evaluate(messages, screen.facts)
    merged = with_emergency_floors(screen, floors)
    assert merged.level == TriageLevel.emergency
    assert "floor.immunosuppressed_fever" in [h.id for h in merged.hits]
    triage = combine_triage(merged, None, "en", floors)
    assert triage.level == TriageLevel.emergency
    # the floor's reason is shown once, as a red flag, not repeated as a floor reason
    assert sum("chemotherapy" in r for r in triage.reasons) <= 1


def test_floor_lifts_but_never_lowers() -> None:
    from chatbot.safety.triage import ModelTriage

    messages = ["I've had a cough for two months"]
    screen = default_screen().screen(messages)
    floors = default_floors().evaluate(messages, screen.facts)
    low = combine_triage(screen, ModelTriage(level="self_care"), "en", floors)
    assert low.level == TriageLevel.routine and low.decided_by == "facts"
    assert any("two months" in r for r in low.reasons)
    high = combine_triage(screen, ModelTriage(level="urgent"), "en", floors)
    assert high.level == TriageLevel.urgent and high.decided_by == "model"


def test_reasons_follow_the_patients_language() -> None:
    messages = ["咳嗽两个月了"]
    screen = default_screen().screen(messages)
    floors = default_floors().evaluate(messages, screen.facts)
    triage = combine_triage(screen, None, "zh", floors)
    assert any("两个月" in r and "医生" in r for r in triage.reasons)


def test_unknown_condition_in_the_floor_file_is_an_error(tmp_path) -> None:
    bad = tmp_path / "floors.yaml"
    bad.write_text(
        "facts: {x: {en: ['a']}}\nfloors:\n  f:\n    level: routine\n    when: [fact:nope]\n"
        "    title: {en: t, zh: t}\n    reason: {en: r, zh: r}\n",
        encoding="utf-8",
    )
    with pytest.raises(FloorsError, match="unknown condition"):
        CareFloors.from_path(bad)

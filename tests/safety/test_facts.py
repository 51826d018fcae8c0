"""Deterministic extraction of intake facts (age, sex, pregnancy, duration, severity, conditions, medicines) in
English and Chinese, and how facts from several messages merge."""

from __future__ import annotations

import pytest

from chatbot.safety.facts import PatientFacts, en_number, extract_ages, extract_facts, zh_number


# ---- ages ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "years"), [
    ("I'm 34", 34.0),
    ("I am 34 years old", 34.0),
    ("34yo with a cough", 34.0),
    ("34 y/o female", 34.0),
    ("34M chest pain", 34.0),
    ("aged 52", 52.0),
    ("my 3 month old", 0.25),
    ("6 week old", 0.115),
    ("my six week old has a cold", 0.115),
    ("my baby is 5 weeks old", 0.096),
    ("she is 8 months", 0.667),
    ("my son is 4", 4.0),
    ("my 2 day old", 0.005),
    ("my dad is 80", 80.0),
    ("my mum's 85", 85.0),
    ("我今年45岁", 45.0),
    ("宝宝两个月", 0.167),
    ("孩子3个月大", 0.25),
    ("孩子3岁半", 3.5),
    ("宝宝出生10天", 0.027),
    ("宝宝才40天", 0.11),
    ("婴儿3周大", 0.057),
    ("我爸爸八十岁了", 80.0),
])
def test_ages(text, years):
    facts = extract_facts(text)
    assert facts.age_years == pytest.approx(years, abs=0.002)


@pytest.mark.parametrize("text", [
    "I'm 45 weeks into the project", "I am 6 feet tall", "I've been married 10 years", "coughing for 3 days",
    "I'm 28 weeks pregnant", "孩子3天没大便", "my friends 3 kids", "发烧三天了", "took 2 tablets at 8:30",
])
def test_numbers_that_are_not_ages(text):
    assert extract_facts(text).age_years is None


def test_newborn_counts_as_days_old():
    assert extract_facts("my newborn has a rash").age_years == pytest.approx(0.04)
    assert extract_facts("新生儿黄疸").age_years == pytest.approx(0.04)


def test_the_dependant_is_the_patient_but_every_age_is_kept():
    text = "I'm 28, my daughter is 3"
    ages = extract_ages(text)
    assert [(a.years, a.whose) for a in ages] == [(28.0, "self"), (3.0, "other")]
    facts = extract_facts(text)
    assert facts.age_years == 3.0 and facts.sex == "female"


def test_whose_age():
    assert extract_ages("I'm 34")[0].whose == "self"
    assert extract_ages("my 3 month old")[0].whose == "other"
    assert extract_ages("我爸爸80岁了")[0].whose == "other"
    assert extract_ages("34yo")[0].whose == "unknown"


@pytest.mark.parametrize(("text", "value"), [("四十五", 45), ("十一", 11), ("两", 2), ("一百零五", 105), ("38", 38),
                                             ("二十", 20), ("", None), ("abc", None)])
def test_zh_number(text, value):
    assert zh_number(text) == value


def test_en_number():
    assert en_number("six") == 6 and en_number("a") == 1 and en_number("12") == 12 and en_number("lots") is None


# ---- sex and pregnancy ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "sex"), [
    ("I am a 34 year old woman", "female"), ("I'm a man", "male"), ("34 y/o female", "female"), ("34M", "male"),
    ("我是女的，30岁", "female"), ("男，45岁", "male"), ("my son is 4", "male"), ("I have a cough", None),
])
def test_sex(text, sex):
    assert extract_facts(text).sex == sex


@pytest.mark.parametrize(("text", "pregnant"), [
    ("I'm 28 weeks pregnant", True),
    ("I'm pregnant with twins", True),
    ("pregnancy test came back positive", True),
    ("my wife is pregnant", True),
    ("我怀孕了", True),
    ("怀孕8周", True),
    ("孕28周", True),
    ("验孕棒两条杠", True),
    ("I am not pregnant", False),
    ("pregnancy test was negative", False),
    ("我没有怀孕", False),
    ("I might be pregnant", None),
    ("could I be pregnant?", None),
    ("我是不是怀孕了", None),
    ("we are trying to get pregnant", None),
    ("I have a headache", None),
])
def test_pregnancy(text, pregnant):
    assert extract_facts(text).pregnant is pregnant


def test_pregnancy_implies_female():
    assert extract_facts("I'm 12 weeks pregnant").sex == "female"


# ---- duration and severity ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "duration"), [
    ("coughing for 3 days", "3 days"),
    ("I've had it for a few weeks", "a few weeks"),
    ("since yesterday", "since yesterday"),
    ("it started this morning", "this morning"),
    ("two days ago it began", "two days"),
    ("发烧三天了", "三天"),
    ("咳嗽两个星期了", "两个星期"),
    ("从昨天开始拉肚子", "从昨天开始"),
    ("I have a cough", None),
])
def test_duration(text, duration):
    assert extract_facts(text).duration == duration


@pytest.mark.parametrize(("text", "severity"), [
    ("pain is 8/10", "8/10"),
    ("about 7 out of 10", "7/10"),
    ("7分疼", "7/10"),
    ("the worst pain", "severe"),
    ("疼得受不了", "severe"),
    ("pretty bad headache", "moderate"),
    ("mild headache", "mild"),
    ("有点头疼", "mild"),
    ("I have a headache", None),
])
def test_severity(text, severity):
    assert extract_facts(text).severity == severity


# ---- conditions and medicines -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "conditions"), [
    ("I have diabetes and asthma", ["diabetes", "asthma"]),
    ("I'm diabetic", ["diabetes"]),
    ("my dad is 80 and has heart failure", ["heart disease"]),
    ("我有高血压", ["high blood pressure"]),
    ("患有癫痫", ["epilepsy"]),
    ("I don't have diabetes", []),
    ("what is diabetes?", []),
])
def test_conditions(text, conditions):
    assert extract_facts(text).conditions == conditions


@pytest.mark.parametrize(("text", "medicines"), [
    ("I take warfarin and metformin", ["warfarin", "metformin"]),
    ("I'm on blood thinners", ["blood thinner"]),
    ("I'm 70 and on blood thinners", ["blood thinner"]),
    ("在吃氨氯地平", ["amlodipine"]),
    ("我在服用华法林", ["warfarin"]),
    ("can I take ibuprofen?", []),
    ("should I take paracetamol or ibuprofen", []),
    ("I don't take any aspirin", []),
])
def test_medicines(text, medicines):
    assert extract_facts(text).medicines == medicines


def test_one_message_can_state_everything():
    facts = extract_facts("I'm a 67 year old man with diabetes, I take metformin, chest pain for 2 hours, 8/10")
    assert facts.age_years == 67 and facts.sex == "male"
    assert facts.conditions == ["diabetes"] and facts.medicines == ["metformin"]
    assert facts.duration == "2 hours" and facts.severity == "8/10"


# ---- merging ----------------------------------------------------------------------------------------------------
def test_merge_newer_values_win_and_lists_are_united():
    older = PatientFacts(age_years=0.4, sex="female", duration="2 days", conditions=["asthma"],
                         medicines=["salbutamol"])
    newer = PatientFacts(age_years=0.115, severity="mild", conditions=["eczema", "asthma"])
    merged = older.merge(newer)
    assert merged.age_years == 0.115  # "10 weeks, not 10 months"
    assert merged.sex == "female" and merged.duration == "2 days" and merged.severity == "mild"
    assert merged.conditions == ["asthma", "eczema"] and merged.medicines == ["salbutamol"]


def test_merge_keeps_known_values_when_the_newer_message_is_silent():
    older = PatientFacts(pregnant=True, age_years=30)
    assert older.merge(PatientFacts()).pregnant is True
    assert older.merge(PatientFacts(pregnant=False)).pregnant is False  # an explicit correction wins


def test_merge_with_none_copies_and_does_not_alias():
    facts = PatientFacts(conditions=["asthma"])
    copy = facts.merge(None)
    assert copy == facts and copy is not facts
    copy.conditions.append("eczema")
    assert facts.conditions == ["asthma"]


def test_merge_across_a_conversation():
    merged = PatientFacts()
    for message in ["my baby has a fever", "she's 7 weeks old", "it's been since yesterday"]:
        merged = merged.merge(extract_facts(message))
    assert merged.age_years == pytest.approx(0.134, abs=0.002)
    assert merged.duration == "since yesterday"


def test_is_empty():
    assert PatientFacts().is_empty() and not PatientFacts(sex="male").is_empty()

"""Intake: symptom reports get a few nurse-style questions (in the patient's language, skipping what is known);
information questions get none."""

from __future__ import annotations

import re

import pytest

from chatbot.safety.facts import PatientFacts, extract_facts
from chatbot.safety.intake import describes_symptoms, intake_questions, load_intake_table
from chatbot.safety.language import has_cjk

REPORTS = [
    "I have a headache",
    "my son has been vomiting",
    "my chest hurts",
    "I've had a rash for 3 days",
    "chest pain since this morning",
    "been coughing all night",
    "fever 39.2 and chills",
    "she's been really floppy today",
    "I feel awful, sore throat and temperature",
    "my 3 year old has a rash on his tummy",
    "I think I have a UTI",
    "I can't sleep and I feel hopeless",
    "My knee is swollen after football",
    "my baby won't feed and is very sleepy",
    "I'm 34 and I keep getting dizzy",
    "I fell and hurt my wrist",
    "my period is late and I feel sick",
    "I've had diarrhoea since Monday",
    "no fever but my throat is killing me",
    "Can I take ibuprofen? My back is killing me",
    "我头疼",
    "宝宝发烧了",
    "头疼三天了",
    "发烧38度5",
    "我最近情绪很低落",
    "孩子拉肚子两天了",
    "我妈妈头晕",
    "我肚子疼得厉害",
    "老公胸口闷",
    "嗓子疼，咳嗽，有点发烧",
    "我怀孕8周，下面出血了",
]
QUESTIONS = [
    "what is asthma?",
    "how does paracetamol work",
    "how do I know if I'm depressed?",
    "what are the symptoms of flu",
    "can I take ibuprofen with food",
    "is it safe to take ibuprofen when pregnant?",
    "I have diabetes, can I eat bananas?",
    "how long does a cold last",
    "what causes migraines",
    "what's the difference between a cold and flu",
    "how do I find a GP",
    "is it normal for babies to have a fever after vaccines",
    "how can I prevent back pain at work",
    "I don't have a fever, I just want to know about vaccines",
    "what are the warning signs of a stroke",
    "how is diabetes diagnosed",
    "when should I worry about a headache",
    "how much water should I drink a day",
    "flu vaccine side effects",
    "what is the best diet for weight loss",
    "什么是糖尿病",
    "糖尿病有哪些症状",
    "我能吃布洛芬吗",
    "怎么预防感冒",
    "为什么会头疼",
    "感冒会传染吗",
    "我想了解高血压",
    "孕妇可以吃布洛芬吗",
    "布洛芬一次吃几片",
    "高血压患者饮食要注意什么",
]


def _facts(messages: list[str], base: PatientFacts | None = None) -> PatientFacts:
    facts = base or PatientFacts()
    for message in messages:
        facts = facts.merge(extract_facts(message))
    return facts


def _ask(messages: list[str], lang: str = "en", base: PatientFacts | None = None, n: int = 3) -> list[str]:
    return intake_questions(_facts(messages, base), messages, lang, n)


# A relative or the writer described without a symptom word: a state, or a person with a time course or an age.
STORIES = [
    "he seems a bit muddled",
    "found my nan on the bathroom floor this morning and she won't wake up properly",
    "my brother has been saying odd things since yesterday and keeps pacing",
    "my husband is 81 and since lunch he hasn't been himself",
    "my daughter swallowed one of those magnet balls an hour ago",
    "I'm 66 and I keep having to get up three times a night",
    "爷爷今天下午开始说胡话，家里人都不认识了",
    "孩子3岁，刚才把洗衣凝珠咬破了",
]
NOT_STORIES = [
    "I'm writing an essay on diabetes, what causes it?",
    "what should I do if my dad ever collapses?",
    "how do you tell if a baby is breathing properly?",
    "is it normal for a 3 year old to stutter?",
    "我想了解一下老年痴呆的早期信号有哪些",
]


# ---- describes_symptoms -------------------------------------------------------------------------------------------
def test_example_lists_are_big_enough():
    for examples in (REPORTS, QUESTIONS):
        assert sum(has_cjk(t) for t in examples) >= 10
        assert sum(not has_cjk(t) for t in examples) >= 20


@pytest.mark.parametrize("text", REPORTS + STORIES)
def test_symptom_reports_are_recognised(text):
    assert describes_symptoms(text)


@pytest.mark.parametrize("text", QUESTIONS + NOT_STORIES)
def test_information_questions_are_not_reports(text):
    assert not describes_symptoms(text)


# ---- intake_questions --------------------------------------------------------------------------------------------
def test_general_question_gets_no_questions():
    assert _ask(["what is asthma?"]) == []
    assert _ask(["什么是糖尿病"], "zh") == []
    assert _ask([]) == []


def test_only_the_last_message_decides_whether_to_ask():
    assert _ask(["I have a headache", "thanks, what is migraine exactly?"]) == []


def test_unknown_age_comes_first():
    questions = _ask(["I have a headache"])
    assert questions[0] == "How old are you?"
    assert any("suddenly" in q for q in questions), "the headache red-flag question should make the cut"


def test_known_age_is_not_asked_again():
    questions = _ask(["I'm 34 and I have a headache"])
    assert questions and not any("old" in q.lower() for q in questions)
    assert not any("old" in q.lower() for q in _ask(["I have a headache"], base=PatientFacts(age_years=34)))


def test_known_duration_and_severity_are_not_asked_again():
    questions = _ask(["I'm 40, had a cough for 5 days, it's about 4/10"], n=10)
    assert questions
    assert not any("how long" in q.lower() or "scale of 1 to 10" in q for q in questions)


def test_answered_complaint_questions_are_skipped():
    questions = _ask(["I'm 30, sudden headache this morning, no stiff neck or fever"], n=10)
    assert not any("suddenly" in q or "stiff neck" in q for q in questions)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5])
def test_max_questions_is_respected(n):
    questions = _ask(["my chest hurts"], n=n)
    assert len(questions) <= n
    assert len(questions) == n or n > 3


def test_chinese_gets_chinese_questions():
    questions = _ask(["宝宝发烧了"], "zh")
    assert questions and all(has_cjk(q) for q in questions)
    assert questions[0] == "宝宝多大了？"


def test_english_gets_english_questions_even_for_mixed_text():
    questions = _ask(["I have a headache"], "en")
    assert questions and not any(has_cjk(q) for q in questions)


def test_pregnancy_question_for_young_woman_with_lower_abdominal_pain():
    questions = _ask(["I'm a 28 year old woman with lower abdominal pain"])
    assert any("pregnant" in q for q in questions)
    facts = PatientFacts(age_years=28, sex="female")
    assert any("pregnant" in q for q in intake_questions(facts, ["I have lower tummy pain"], "en"))
    zh = intake_questions(facts, ["我小腹疼"], "zh")
    assert any("怀孕" in q for q in zh)


@pytest.mark.parametrize(
    "facts",
    [
        PatientFacts(age_years=28, sex="male"),
        PatientFacts(age_years=70, sex="female"),
        PatientFacts(age_years=28, sex="female", pregnant=False),
        PatientFacts(age_years=28, sex="female", pregnant=True),
    ],
)
def test_no_pregnancy_question_when_irrelevant_or_known(facts):
    questions = intake_questions(facts, ["I have lower tummy pain"], "en", 10)
    assert not any("pregnant" in q for q in questions)


def test_pregnancy_question_for_a_medicine_question():
    facts = PatientFacts(age_years=25, sex="female")
    questions = intake_questions(facts, ["I've had a headache for 2 days, can I take ibuprofen?"], "en")
    assert any("pregnant" in q for q in questions)


def test_child_wording_for_my_son():
    questions = _ask(["my son has been vomiting"])
    assert questions[0] == "How old is your son?"
    assert not any(re.search(r"\bare you\b|\byou have\b", q) for q in questions)


def test_child_questions_when_age_is_known():
    questions = _ask(["my 4 year old son has had a fever since yesterday"], n=10)
    assert any("your son" in q and ("alert" in q or "drinking" in q) for q in questions)
    assert not any("old" in q for q in questions)


def test_mental_health_asks_the_safety_question_first():
    questions = _ask(["I've been feeling really low and hopeless for weeks"])
    assert "harming yourself" in questions[0]
    assert not any("harming" in q for q in _ask(["I feel hopeless and I have thought about suicide"], n=10))


def test_nothing_missing_gives_no_questions():
    messages = [
        "I'm 40, I've had a sore throat for 3 days, it's mild and getting better.",
        "No fever, swallowing is fine, otherwise fit and well",
    ]
    assert _ask(messages, n=10) == []


def test_conditions_and_medicines_only_fill_spare_room():
    messages = ["I'm 40, I've had a sore throat for 3 days, it's mild", "No fever, swallowing is fine"]
    assert _ask(messages, n=10) == []
    questions = _ask(["I'm 40 and I've had a sore throat for 3 days"], n=10)
    assert questions[-1].startswith("Do you have any long-term")


def test_the_table_has_both_languages_everywhere():
    table = load_intake_table()
    questions = list(table.core.values()) + [q for c in table.complaints for q in c.questions]
    for question in questions:
        for variant in question.texts.values():
            assert variant["en"] and has_cjk(variant["zh"]), question.id
    assert {c.id for c in table.complaints} >= {"fever", "headache", "abdominal_pain", "chest_pain", "breathing",
                                                  "rash", "gastro", "urinary", "back_pain", "dizziness",
                                                  "mental_health", "child"}


@pytest.mark.parametrize(("text", "lang"), [
    ("I have pain in my lower right belly and a fever of 38.5", "en"),
    ("fever of 38.5 since this morning and now pain in my lower right belly", "en"),
    ("右下腹疼 发烧38度5", "zh"),
])
def test_the_site_complaint_leads_and_a_fever_does_not_bring_meningitis_questions(text, lang):
    questions = intake_questions(extract_facts(text), [text], lang)
    joined = " ".join(questions)
    assert "glass" not in joined and "玻璃杯" not in joined  # the fever block's rash question
    assert any("belly button" in q or "肚脐" in q for q in questions)


def test_a_fever_alone_still_gets_its_own_questions():
    questions = intake_questions(extract_facts("my son has a fever"), ["my son has a fever"], "en")
    assert any("glass" in q for q in questions)

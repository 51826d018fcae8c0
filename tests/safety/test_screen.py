"""The red-flag screen over the shipped rulebook: negation, clause scope, misspellings, mixed language, context
carried across messages, the language of the hits, and the two evaluation sets (benign and emergency)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatbot.answer import TriageLevel
from chatbot.safety.facts import PatientFacts
from chatbot.safety.language import has_cjk
from chatbot.safety.screen import RedFlagScreen, ScreenResult, default_screen

EVAL_DATA = Path(__file__).resolve().parents[2] / "evals" / "data"


@pytest.fixture(scope="module")
def screen() -> RedFlagScreen:
    return default_screen()


def _level(result: ScreenResult) -> str | None:
    return result.level.value if result.level else None


def _read(name: str) -> list[dict]:
    with open(EVAL_DATA / name, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


# ---- negation ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "no chest pain, just a cough",
    "没有胸痛，只是咳嗽",
    "denies shortness of breath",
    "I don't have chest pain or sweating",
    "she is not confused and has no fever",
    "没有发烧，也没有呼吸困难",
    "no blood in my vomit",
    "he isn't choking, he coughed it out",
    "my face is not drooping",
    "no rash, no stiff neck",
    "我没有想自杀，只是压力大",
    "I'm not suicidal",
])
def test_negated_symptoms_do_not_fire(screen, text):
    result = screen.screen([text])
    assert result.level is None, [f.id for f in result.fired]


def test_negation_is_scoped_to_its_clause(screen):
    result = screen.screen(["no fever but my chest hurts and I'm sweating"])
    assert "rf.cardiac.chest_pain_plus" in {f.id for f in result.fired}
    assert result.level == TriageLevel.emergency
    zh = screen.screen(["没有发烧，但是胸口疼，出冷汗"])
    assert "rf.cardiac.chest_pain_plus" in {f.id for f in zh.fired}


def test_a_negation_cue_far_before_the_symptom_does_not_cancel_it(screen):
    result = screen.screen(["I didn't think much of it at first yesterday after dinner, now crushing chest pain"])
    assert result.level == TriageLevel.emergency


def test_past_and_hypothetical_mentions_do_not_fire(screen):
    for text in ["I had a seizure 10 years ago", "what are the signs of a stroke?", "how can I prevent a heart attack",
                 "爷爷以前中风过", "what should I do if someone has a seizure?",
                 "my dad had a seizure when he was a child",
                 "I panicked that I was having a stroke but my foot had just gone numb", "如果宝宝噎住了怎么办"]:
        assert screen.screen([text]).level != TriageLevel.emergency, text


# ---- spelling, lay words and mixed language ---------------------------------------------------------------------
@pytest.mark.parametrize(("text", "rule_id"), [
    ("cheast pian and im sweating", "rf.cardiac.chest_pain_plus"),
    ("i cant breath", "rf.breathing.severe"),
    ("i think my dad is having a stoke", "rf.stroke.stated"),
    ("she had a siezure and wont wake up", "rf.neuro.seizure_not_waking"),
    ("her face looks lopsided", "rf.stroke.face_droop"),
    ("his words came out wrong", "rf.stroke.speech"),
    ("feels like an elephant is sitting on my chest", "rf.cardiac.crushing_chest_pain"),
    ("嘴歪了", "rf.stroke.face_droop"),
    ("说话不清", "rf.stroke.speech"),
    ("一边手没力", "rf.stroke.arm_weakness"),
    ("喉咙肿起来了，舌头也肿了", "rf.allergy.airway_swelling"),
    ("喘不上气，嘴唇发紫", "rf.breathing.blue_lips"),
    ("叫不醒", "rf.neuro.unconscious"),
])
def test_misspellings_and_lay_words(screen, text, rule_id):
    assert rule_id in screen.fired_ids([text])


def test_benign_look_alikes(screen):
    for text in ["my chest of drawers fell over", "I had a stroke of luck", "my heart is broken after the breakup",
                 "I'm dying to know if coffee is bad", "killing time before my appointment",
                 "I'm 84 and drank some tea", "my son won't wake up for school", "I'm drowning in paperwork",
                 "热得想死", "想死你了"]:
        assert screen.screen([text]).level is None, text


def test_mixed_english_and_chinese_in_one_message(screen):
    result = screen.screen(["胸口好闷 and sweating a lot"])
    assert "rf.cardiac.chest_pain_plus" in {f.id for f in result.fired}
    result = screen.screen(["my dad 胸口很痛, sweating a lot"])
    assert result.level == TriageLevel.emergency


# ---- context carried across the conversation --------------------------------------------------------------------
def test_infant_age_then_fever(screen):
    assert screen.screen(["she has a fever of 38.5"]).level is None  # no age: not the infant rule
    result = screen.screen(["my baby is 5 weeks old", "she has a fever of 38.5"])
    assert "rf.child.infant_fever" in {f.id for f in result.fired}
    assert result.level == TriageLevel.emergency


def test_fever_then_infant_age(screen):
    result = screen.screen(["my baby feels hot, 38.2", "he's 7 weeks old"])
    assert "rf.child.infant_fever" in {f.id for f in result.fired}


def test_older_child_fever_is_not_infant_fever(screen):
    result = screen.screen(["my son is 4", "he has a fever of 38.5"])
    assert "rf.child.infant_fever" not in {f.id for f in result.fired}


def test_facts_held_by_the_session_count(screen):
    result = screen.screen(["temperature 38.1 this morning"], facts=PatientFacts(age_years=0.1))
    assert "rf.child.infant_fever" in {f.id for f in result.fired}


def test_pregnancy_then_bleeding(screen):
    assert screen.screen(["I've noticed some spotting"]).level is None
    result = screen.screen(["I'm 10 weeks pregnant", "I've noticed some spotting"])
    assert result.level == TriageLevel.urgent and "rf.pregnancy.bleeding" in {f.id for f in result.fired}
    heavy = screen.screen(["我怀孕了", "现在大出血"])
    assert heavy.level == TriageLevel.emergency and "rf.pregnancy.heavy_bleeding" in {f.id for f in heavy.fired}
    assert heavy.facts.pregnant is True


def test_terms_may_come_from_different_messages(screen):
    result = screen.screen(["my dad has had chest pain for a while", "now he's grey and sweaty"])
    assert "rf.cardiac.chest_pain_plus" in {f.id for f in result.fired}


def test_within_message_rules_need_every_term_in_one_message(screen):
    assert "rf.poison.household_chemical" in screen.fired_ids(["my toddler drank bleach"])
    assert "rf.poison.household_chemical" not in screen.fired_ids(["I cleaned with bleach", "then I drank tea"])


# ---- levels and crisis ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "rule_id"), [
    ("I've had chest pain on and off since yesterday", "rf.cardiac.chest_pain"),
    ("my right calf is swollen and really tender", "rf.vascular.dvt"),
    ("pain moved from my belly button to the lower right side", "rf.gi.appendicitis"),
    ("I haven't felt the baby move today", "rf.pregnancy.reduced_movements"),
    ("I can't keep any fluids down", "rf.dehydration.adult"),
    ("我有尿路感染，现在发烧了", "rf.urinary.kidney_infection"),
])
def test_urgent_only_rules_give_urgent(screen, text, rule_id):
    result = screen.screen([text])
    assert rule_id in {f.id for f in result.fired}
    assert result.level == TriageLevel.urgent
    assert all(f.level == TriageLevel.urgent for f in result.fired)


def test_most_urgent_hit_comes_first(screen):
    result = screen.screen(["chest pain and I'm sweating"])
    assert result.fired[0].level == TriageLevel.emergency
    assert [h.id for h in result.hits] == [f.id for f in result.fired]


@pytest.mark.parametrize("text", ["I want to kill myself", "我不想活了", "I've been cutting myself again"])
def test_self_harm_is_a_crisis(screen, text):
    result = screen.screen([text])
    assert result.crisis and result.level == TriageLevel.emergency


def test_a_physical_emergency_is_not_a_crisis(screen):
    result = screen.screen(["crushing chest pain"])
    assert result.level == TriageLevel.emergency and not result.crisis


# ---- language of the hits ---------------------------------------------------------------------------------------
def test_hits_follow_the_conversation_language(screen):
    zh = screen.screen(["胸口疼，出了一身冷汗"])
    assert zh.language == "zh"
    assert all(has_cjk(h.message) for h in zh.hits)
    en = screen.screen(["chest pain and I'm sweating"])
    assert en.language == "en"
    assert all(h.message.isascii() for h in en.hits)


def test_latest_message_sets_the_language(screen):
    result = screen.screen(["chest pain for an hour", "现在出冷汗"])
    assert result.language == "zh"
    assert result.hits_in("en")[0].message != result.hits[0].message


def test_explicit_language_wins(screen):
    result = screen.screen(["胸口疼，出冷汗"], language="en")
    assert result.language == "en" and result.hits[0].message.isascii()


def test_matched_text_quotes_the_patient(screen):
    result = screen.screen(["My baby is GRUNTING with every breath"])
    hit = next(h for h in result.hits if h.id == "rf.breathing.child_working_hard")
    assert hit.matched == "grunting"


def test_empty_and_blank_messages(screen):
    for messages in ([], [""], ["   "], ["38.5"]):
        result = screen.screen(messages)
        assert result.level is None and result.hits == [] and result.language == "en"


def test_screen_is_fast(screen):
    result = screen.screen(["my chest hurts and my left arm is numb " * 50])
    assert result.elapsed_ms < 1000  # generous: the benchmark reports the real figures


def test_default_screen_is_cached():
    assert default_screen() is default_screen()


# ---- the evaluation sets ----------------------------------------------------------------------------------------
def test_benign_set_has_no_emergency_hit(screen):
    rows = _read("safety_benign.jsonl")
    assert len(rows) >= 150 and sum(r["language"] == "zh" for r in rows) >= 30
    emergencies = [(r["id"], r["text"], [f.id for f in res.fired]) for r in rows
                   if (res := screen.screen([r["text"]])).level == TriageLevel.emergency]
    assert emergencies == []
    urgent = [r["id"] for r in rows if screen.screen([r["text"]]).level == TriageLevel.urgent]
    assert len(urgent) <= len(rows) // 50, urgent  # rare: at most 2%


def test_emergency_set_is_all_escalated(screen):
    rows = _read("safety_emergency.jsonl")
    assert len(rows) >= 80 and sum(r["language"] == "zh" for r in rows) >= 25
    assert any(len(r["messages"]) > 1 for r in rows)
    missed = [(r["id"], r["messages"]) for r in rows
              if screen.screen(r["messages"]).level != TriageLevel.emergency]
    assert missed == []


def test_eval_rows_are_well_formed():
    ids = set()
    for row in _read("safety_benign.jsonl"):
        assert set(row) == {"id", "text", "language"} and row["language"] in {"en", "zh"} and row["text"].strip()
        ids.add(row["id"])
    for row in _read("safety_emergency.jsonl"):
        assert set(row) == {"id", "messages", "expected_level", "language"}
        assert row["expected_level"] == "emergency" and row["language"] in {"en", "zh"}
        assert row["messages"] and all(m.strip() for m in row["messages"])
        ids.add(row["id"])
    assert len(ids) == len(_read("safety_benign.jsonl")) + len(_read("safety_emergency.jsonl"))


# ---- triage-vignette gaps: general phrasings that must escalate ------------------------------------------------
@pytest.mark.parametrize(("text", "rule_id", "level"), [
    ("sudden right-sided weakness", "rf.stroke.arm_weakness", "emergency"),
    ("weakness of the left arm and leg since this morning", "rf.stroke.arm_weakness", "emergency"),
    ("left arm paralysis", "rf.stroke.arm_weakness", "emergency"),
    ("she is having difficulty speaking", "rf.stroke.speech", "emergency"),
    ("he has trouble understanding what people say", "rf.stroke.speech", "emergency"),
    ("her words are all jumbled", "rf.stroke.speech", "emergency"),
    ("爷爷半边身子没力气", "rf.stroke.arm_weakness", "emergency"),
    ("妈妈突然听不懂别人说话", "rf.stroke.speech", "emergency"),
    ("wheezing and not responsive to inhalers", "rf.breathing.reliever_not_working", "emergency"),
    ("more frequent use of my salbutamol inhaler and worsening breathlessness",
     "rf.breathing.reliever_overuse", "emergency"),
    ("disoriented and increasingly drowsy", "rf.neuro.confusion_drowsy", "emergency"),
    ("爸爸糊涂又嗜睡", "rf.neuro.confusion_drowsy", "emergency"),
    ("I've been taking more acetaminophen than the label says for a week", "rf.poison.paracetamol", "emergency"),
    ("cut my foot on a nail and now my jaw is stiff", "rf.infection.tetanus", "emergency"),
    ("returned from Ghana last week with fever and chills", "rf.infection.malaria_travel", "urgent"),
    ("去过非洲回来发烧", "rf.infection.malaria_travel", "urgent"),
    ("terrible pain in my right flank going down to my groin and I keep vomiting", "rf.urinary.kidney_stone", "urgent"),
    ("pain in my back radiating to the groin with a fever of 39", "rf.urinary.kidney_stone_fever", "emergency"),
    ("my toddler has diarrhoea with blood in it", "rf.child.bloody_diarrhoea", "urgent"),
])
def test_vignette_gap_phrasings_fire(screen, text, rule_id, level):
    result = screen.screen([text])
    assert rule_id in {f.id for f in result.fired}, [f.id for f in result.fired]
    assert _level(result) in ("emergency", level) and (level != "emergency" or _level(result) == "emergency")


@pytest.mark.parametrize("text", [
    "I use my inhaler twice a week",
    "I'm going to Kenya next month, what should I pack for a fever?",
    "I'm confused about my appointment time",
    "my jaw clicks when I chew",
    "my son has diarrhoea but no blood",
])
def test_vignette_gap_benign_phrasings_do_not_escalate_to_emergency(screen, text):
    assert _level(screen.screen([text])) != "emergency"

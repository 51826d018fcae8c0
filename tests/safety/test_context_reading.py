"""Context the screen must read before a pattern counts: negated lists, a cue that overlaps the match, and everyday
situations that share words with a warning sign (sunburn is red and hot, teething is about teeth, yellow crust on
the lashes is not jaundice, a negative pregnancy test is not a pregnancy, falling asleep is not a fall).

Each case pairs the benign reading with the dangerous one it must not hide, so a fix that over-reaches fails.
These are our own paraphrases, written as kinds of case; blind sets judge the rules.
"""

from __future__ import annotations

import pytest

from chatbot.answer import TriageLevel
from chatbot.safety.screen import RedFlagScreen, default_screen
from chatbot.safety.text import Scoped


@pytest.fixture(scope="module")
def screen() -> RedFlagScreen:
    return default_screen()


def _negated(text: str, phrase: str) -> bool:
    scoped = Scoped.of(text)
    start = scoped.text.index(phrase)
    return scoped.is_negated(start, start + len(phrase))


@pytest.mark.parametrize(("text", "phrase"), [
    ("No dysuria, haematuria or fever.", "haematuria"),
    ("No dysuria, haematuria or fever.", "fever"),
    ("no bleeding, discharge or fever", "discharge"),
    ("without chest pain, sweating or breathlessness", "sweating"),
    ("没有发烧、咳嗽、呕吐", "呕吐"),
    ("无发热、咳痰或胸痛", "胸痛"),
    ("不过没有想伤害自己", "想伤害自己"[1:]),
])
def test_a_negated_list_negates_every_item(text: str, phrase: str) -> None:
    assert _negated(text, phrase)


@pytest.mark.parametrize(("text", "phrase"), [
    ("no fever, vomiting all night", "vomiting"),          # no final "or": the comma ends the cue's reach
    ("not feeding, is floppy or is hard to wake", "floppy"),  # separate statements, not a noun list
    ("not feeding, is floppy or is hard to wake", "hard to wake"),
    ("no fever, but chest pain or sweating", "chest pain"),
    ("没发烧 胸口剧痛", "胸口剧痛"),
])
def test_what_is_not_a_negated_list_still_counts(text: str, phrase: str) -> None:
    assert not _negated(text, phrase)


@pytest.mark.parametrize("message", [
    "67 year old. Leaking urine when I cough for a year. No dysuria, haematuria or fever.",
    "I fell asleep in the garden and now my shoulders and back are red, hot and sore. No blisters, no fever.",
    "周末去海边没涂防晒 肩膀和后背晒得通红 摸着发烫有点疼 没有起泡",
    "4 year old, both eyes red with yellow crusting on the lashes this morning, no pain, sees fine",
    "宝宝8个月 口水流个不停 逮啥咬啥 我妈说出牙都会发烧",
    "孕18周 嗓子疼 咽东西有点疼 没发烧",
    "dad has a skin tear on his shin, still a bit weepy, the district nurse doesnt come to him",
    "最近提不起劲 觉得自己没用 不过没有想伤害自己",
])
def test_everyday_situations_fire_no_warning_sign(screen: RedFlagScreen, message: str) -> None:
    result = screen.screen([message])
    assert [f.id for f in result.fired] == []


def test_a_negative_pregnancy_test_is_not_a_pregnancy(screen: RedFlagScreen) -> None:
    message = ("pain low in my pelvis on both sides, temperature 38, smelly discharge. "
               "I did a pregnancy test today and it was negative")
    ids = [f.id for f in screen.screen([message]).fired]
    assert not any("pregnan" in i for i in ids)
    assert any("pelvic" in i for i in ids)  # the pelvic infection is still read


@pytest.mark.parametrize(("message", "level"), [
    ("my baby is not feeding, is floppy or is hard to wake", TriageLevel.emergency),
    ("my skin and the whites of my eyes have turned yellow", TriageLevel.urgent),
    ("my leg is red hot and swollen and the redness is spreading", TriageLevel.urgent),
    ("he wont come to, hes not responding", TriageLevel.emergency),
    ("I did a pregnancy test and it was positive, now severe pain on one side and I feel faint", TriageLevel.emergency),
    ("I cant swallow anything, not even water", TriageLevel.urgent),
    ("my adult front tooth got knocked out playing rugby", TriageLevel.urgent),
    ("fell off a ladder and my shoulder really hurts", TriageLevel.urgent),
    ("sunburnt yesterday, now big blisters, fever and I feel confused", TriageLevel.emergency),
])
def test_the_dangerous_reading_still_escalates(screen: RedFlagScreen, message: str, level: TriageLevel) -> None:
    result = screen.screen([message])
    assert result.level is not None and result.level.rank >= level.rank, [f.id for f in result.fired]


@pytest.mark.parametrize("message", [
    "my eyesight has been getting misty for a year or so, headlights dazzle me at night. im 77, both eyes, no pain",
    "34F, tired for 3 months, heavy periods, occasional dizziness on standing, brittle nails",
    "这半年每次来月经量都特别多 一晚上要换好几次夜用的 还有血块 经期拖到八九天",
    "passing big blood clots with my period and bad cramps",
])
def test_a_long_standing_or_menstrual_problem_is_not_a_same_day_sign(screen: RedFlagScreen, message: str) -> None:
    result = screen.screen([message])
    assert result.level is None or result.level.rank < TriageLevel.urgent.rank, [f.id for f in result.fired]


@pytest.mark.parametrize(("message", "level"), [
    ("my vision has been blurry for a year but today I suddenly lost the sight in my left eye", TriageLevel.emergency),
    ("my eyesight changed suddenly this week and my eye is painful and red", TriageLevel.urgent),
    ("heavy periods for months, and now it's suddenly much worse, soaking a pad every hour", TriageLevel.urgent),
    ("passing big blood clots from my bottom", TriageLevel.emergency),
    ("blood in my poo with clots, and I'm on my period", TriageLevel.urgent),
    ("这半年视力慢慢变差 今天突然一只眼看不见了", TriageLevel.emergency),
])
def test_new_sudden_or_bowel_bleeding_still_counts(screen: RedFlagScreen, message: str, level: TriageLevel) -> None:
    result = screen.screen([message])
    assert result.level is not None and result.level.rank >= level.rank, [f.id for f in result.fired]


@pytest.mark.parametrize("message", [
    "Why do antidepressant leaflets mention suicidal thoughts as a side effect?",
    "what is the difference between self harm and suicide",
    "自残和自杀有什么不同",
    "抑郁症患者自杀的危险因素有哪些",
])
def test_a_question_about_suicide_as_a_topic_is_not_a_crisis(screen: RedFlagScreen, message: str) -> None:
    assert not screen.screen([message]).crisis


@pytest.mark.parametrize("message", [
    "why do I keep wanting to die",
    "我为什么总想自杀",
    "what is the difference between being sad and wanting to kill myself, because I want to",
    "how many of my sleeping pills would be a lethal dose",
    "why would a lethal dose of paracetamol take days, asking because I took a whole box",
])
def test_a_person_in_the_question_keeps_the_crisis(screen: RedFlagScreen, message: str) -> None:
    result = screen.screen([message])
    assert result.level == TriageLevel.emergency, [f.id for f in result.fired]

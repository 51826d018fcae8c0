"""Medicine safety on the red-flag screen: doses above the label maximum, staggered and doubled-up paracetamol, a
child who may have swallowed medicines or a coin, intent to exceed a dose, and "can a heart attack or stroke be
managed at home". Every case here must reach EMERGENCY; look-alike questions must not raise any emergency."""

from __future__ import annotations

import pytest

from chatbot.answer import TriageLevel
from chatbot.safety.locales import load_locales
from chatbot.safety.messages import escalation_message
from chatbot.safety.screen import RedFlagScreen, default_screen


@pytest.fixture(scope="module")
def screen() -> RedFlagScreen:
    return default_screen()


def _ids(result) -> set[str]:
    return {f.id for f in result.fired}


EMERGENCIES = [
    # above the label maximum
    "I've had 11 paracetamol since this morning for my back",
    "took 5 grams of acetaminophen today because of a migraine",
    "I took 5 x 1000mg tylenol today",
    "been popping 2 panadol every two hours since lunch",
    "I've taken twelve tablets today, the toothache is unbearable",
    "扑热息痛今天已经吃了十片了",
    "一天吃了超过4克对乙酰氨基酚",
    "每隔两小时吃一次退烧药",
    # staggered
    "I've been taking slightly too many co-codamol for the last few days",
    "for the past week I've taken a bit more than the box says, paracetamol for my knee",
    "最近几天止痛药吃多了，每次都多吃两片",
    # doubled up
    "I had two Lemsips and also took paracetamol at lunch",
    "gave him calpol and then a cold and flu sachet an hour later",
    "吃了泰诺林，后来又喝了感冒灵",
    "感冒药和扑热息痛一起吃了",
    # a child swallowed something
    "my toddler got into grandma's pill box and may have eaten some",
    "my 4 year old ate a handful of gummy vitamins",
    "my daughter might have swallowed a button battery",
    "I think my son swallowed a dishwasher pod",
    "she drank some bleach when I wasn't looking, she is 2",
    "my baby may have swallowed a coin",
    "孩子误吞了纽扣电池",
    "宝宝可能误服了降压药",
    "我儿子把硬币吞下去了",
    "孩子喝了消毒液",
    # intent to exceed
    "I already took the maximum today, can I take a couple more?",
    "can I double the dose so it works faster?",
    "going to double up on my ibuprofen tonight",
    "今天的量已经吃够了，还能再吃一片吗",
    "想加倍吃药，快点好",
    # heart attack / stroke at home
    "can I manage a heart attack at home with aspirin?",
    "is it ok to just rest at home if I think I'm having a stroke",
    "can a stroke be treated at home without going to hospital?",
    "心梗在家吃阿司匹林能扛过去吗",
    "中风了可以在家休息吗",
]

LOOK_ALIKES = [
    "what is the maximum dose of paracetamol per day?",
    "how often can I take ibuprofen?",
    "I take 2 paracetamol every 4 to 6 hours when I need them",
    "is it safe to take paracetamol with a cold and flu sachet?",
    "how do I know if my child overdosed on vitamins?",
    "my son takes his tablets with water now, so proud",
    "my doctor increased my dose of sertraline",
    "what happens if you take too much paracetamol?",
    "how do I recover after a stroke at home?",
    "does aspirin prevent a heart attack?",
    "we found 20p on the floor and bought sweets",
    "一天最多能吃几片布洛芬",
    "感冒药和退烧药能一起吃吗",
    "医生让我把药量加倍",
    "中风以后在家怎么做康复训练",
    "孩子喜欢玩硬币",
    "每天按说明书吃两次药",
]


@pytest.mark.parametrize("text", EMERGENCIES)
def test_medicine_emergencies_escalate(screen, text):
    result = screen.screen([text])
    assert result.level == TriageLevel.emergency, (text, _ids(result))


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_medicine_look_alikes_do_not_raise_emergency(screen, text):
    result = screen.screen([text])
    assert result.level != TriageLevel.emergency, (text, _ids(result))


def test_dose_rules_fire_by_kind(screen):
    assert "rf.poison.dose_over_label" in _ids(screen.screen(["took 6g of paracetamol since this morning"]))
    assert "rf.poison.staggered_overdose" in _ids(screen.screen(
        ["I've been taking a bit too much paracetamol for the past few days"]))
    assert "rf.poison.double_paracetamol" in _ids(screen.screen(["I took paracetamol and then a Lemsip"]))
    assert "rf.poison.child_medicine" in _ids(screen.screen(["my toddler got into my sleeping pills"]))
    assert "rf.injury.swallowed_coin" in _ids(screen.screen(["I think my toddler swallowed a coin"]))
    doubled = screen.screen(["I'm going to double the dose to make it work faster"])
    assert "rf.medicine.exceed_dose_intent" in _ids(doubled)
    assert "rf.cardiac.home_management" in _ids(screen.screen(["can a heart attack be managed at home with aspirin?"]))


def test_context_from_an_earlier_message_counts(screen):
    """Doubled-up paracetamol told over two messages."""
    result = screen.screen(["I've been taking paracetamol every 4 hours", "and I also had two Lemsips today"])
    assert "rf.poison.double_paracetamol" in _ids(result)


def test_the_child_rule_needs_a_child(screen):
    assert "rf.poison.child_medicine" not in _ids(screen.screen(["I got into the medicine cabinet to find a plaster"]))
    assert "rf.injury.swallowed_coin" in _ids(screen.screen(["she is 18 months", "she may have swallowed a penny"]))


def test_overdose_message_names_the_poison_service(screen):
    locales = load_locales()
    result = screen.screen(["my toddler got into my blood pressure pills"])
    text = escalation_message(result, "en", "US", locales)
    assert text and "911" in text and "1-800-222-1222" in text
    zh = escalation_message(screen.screen(["吃了感冒药，又吃了退烧药"]), "zh", "AU", locales)
    assert zh and "000" in zh and "毒物信息中心" in zh


@pytest.mark.parametrize("rule_id", [
    "rf.poison.dose_over_label", "rf.poison.tablets_today", "rf.poison.staggered_overdose",
    "rf.poison.double_paracetamol", "rf.poison.child_medicine", "rf.injury.swallowed_coin",
    "rf.medicine.exceed_dose_intent", "rf.cardiac.home_management",
])
def test_medicine_rules_are_emergency_level(screen, rule_id):
    rules = {r.id: r for r in screen.rulebook.rules}
    assert rules[rule_id].level == "emergency"

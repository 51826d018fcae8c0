"""The self-harm intent classifier adds a crisis escalation the rules missed, at emergency level, and only adds."""

from __future__ import annotations

import json
from functools import lru_cache

import pytest

from chatbot.answer import TriageLevel
from chatbot.config import load_settings
from chatbot.safety.crisis import CRISIS_RULE_ID, CrisisClassifier, CrisisModelError, read_examples
from chatbot.safety.language import has_cjk
from chatbot.safety.messages import escalation_message
from chatbot.safety.screen import default_screen


@lru_cache(maxsize=1)
def _classifier() -> CrisisClassifier:
    cfg = load_settings().safety
    return CrisisClassifier.from_path(load_settings().path(cfg.crisis_examples), cfg.crisis_threshold)


@pytest.mark.parametrize(
    "message",
    [
        "I've stockpiled my meds and written goodbye letters",
        "everyone would honestly be better off if I just wasn't around any more",
        "我把安眠药都攒起来了，遗书也写好了",
    ],
)
def test_crisis_in_words_no_rule_was_written_for_is_escalated(message):
    screen = _classifier().screen(default_screen().screen([message]), [message])
    assert screen.crisis and screen.level == TriageLevel.emergency
    text = escalation_message(screen, "zh" if has_cjk(message) else "en", "US")
    assert text is not None and ("988" in text or "911" in text)


@pytest.mark.parametrize(
    "message",
    ["I have a verruca on the bottom of my foot", "this headache is killing me", "热死了，空调坏了",
     "what is the maximum dose of paracetamol in a day?",
     # accidents share words with self-harm ("cut", "burnt", "broke"): an injury is not a crisis
     "I'm 30 and I think I broke my wrist, it looks bent", "I cut my finger opening a tin and it keeps bleeding",
     "burnt my hand on the grill at a barbecue", "切土豆的时候把手指切了个口子"],
)
def test_everyday_messages_stay_below_the_threshold(message):
    assert _classifier().probability(message) < _classifier().threshold


def test_a_crisis_rule_hit_is_left_as_it_is():
    message = "I want to kill myself tonight"
    ruled = default_screen().screen([message])
    assert ruled.crisis
    again = _classifier().screen(ruled, [message])
    assert [f.id for f in again.fired] == [f.id for f in ruled.fired]
    assert CRISIS_RULE_ID not in [f.id for f in again.fired]


def test_examples_need_both_labels(tmp_path):
    path = tmp_path / "examples.jsonl"
    path.write_text(json.dumps({"text": "a", "crisis": True}) + "\n", encoding="utf-8")
    with pytest.raises(CrisisModelError, match="both"):
        read_examples(path)
    path.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(CrisisModelError, match="examples.jsonl:1"):
        read_examples(path)


def test_training_is_deterministic():
    texts, labels = read_examples(load_settings().path(load_settings().safety.crisis_examples))
    a = CrisisClassifier(texts, labels, 0.5).probability("I want to go to sleep and never wake up")
    b = CrisisClassifier(texts, labels, 0.5).probability("I want to go to sleep and never wake up")
    assert a == b

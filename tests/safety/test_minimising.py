"""The model reads facts, not the patient's verdict on them."""

from __future__ import annotations

import pytest

from chatbot.safety.minimising import default_minimising, facts_view


@pytest.mark.parametrize(
    ("message", "kept", "removed"),
    [
        ("I'm probably overthinking this, but my dad's speech went slurry", "speech went slurry", "overthinking"),
        ("Sorry to bother you, it's probably nothing but I have chest pain", "chest pain", "probably nothing"),
        ("Tell me I don't need a doctor for chest pain spreading to my jaw", "chest pain spreading to my jaw",
         "need a doctor"),
        ("He insists it's just a chill. His lips look blue.", "lips look blue", "insists"),
        ("I don't want to waste anyone's time but the baby has a rash that doesn't fade", "rash that doesn",
         "waste"),
        ("no need for an ambulance for my chest pain right?", "chest pain", "ambulance"),
        ("我妈说就是着凉了，应该没什么事吧，她胸口疼还出冷汗", "胸口疼还出冷汗", "着凉"),
        ("不好意思打扰，可能是我想多了，孩子吞了一颗纽扣电池", "纽扣电池", "想多了"),
        ("告诉我不用去医院，我胸口疼", "胸口疼", "不用去医院"),
    ],
)
def test_verdicts_are_removed_and_symptoms_kept(message: str, kept: str, removed: str) -> None:
    view = facts_view(message)
    assert kept.lower() in view.lower()
    assert removed not in view


@pytest.mark.parametrize(
    "message",
    ["I have had a sore throat for three days", "My chest hurts when I breathe in", "宝宝发烧38.5度"],
)
def test_plain_messages_are_unchanged(message: str) -> None:
    assert facts_view(message) == message
    assert default_minimising().spans(message) == []


def test_a_message_that_is_only_a_verdict_is_kept_whole() -> None:
    assert facts_view("It's probably nothing.") == "It's probably nothing."

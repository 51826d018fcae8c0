"""Topic names per language for the conditions a patient reads."""

from chatbot.config import load_settings
from chatbot.knowledge.topic_names import conditions_for, load_topic_names


def test_every_bundled_topic_has_an_english_name_and_most_a_chinese_one():
    names = load_topic_names(load_settings().knowledge_dir / "topics")
    assert len(names) >= 180 and all(n["en"] for n in names.values())
    assert sum("zh" in n for n in names.values()) >= 0.9 * len(names)
    assert names["sore-throat"]["zh"] == "喉咙痛"


def test_conditions_keep_retrieval_order_drop_repeats_and_other_languages():
    names = {"a": {"en": "A", "zh": "甲"}, "b": {"en": "B"}, "c": {"en": "C", "zh": "丙"}}
    assert conditions_for(["c", "a", "c", "b"], names, "en") == ["C", "A", "B"]
    assert conditions_for(["c", "a", "c", "b"], names, "zh") == ["丙", "甲"]
    assert conditions_for(["a", "b", "c", "x"], names, "en", limit=2) == ["A", "B"]

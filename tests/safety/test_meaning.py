"""The sentence-vector classifier beside the n-gram ones (chatbot.safety.meaning) and how the harmful-request
filter uses it: English only, weighted, with its own cut-off per language."""

from __future__ import annotations

import numpy as np

from chatbot.embedding import FakeEmbedder
from chatbot.safety.harmful import DEFAULT_EXAMPLES_PATH, DEFAULT_PATTERNS_PATH, load_filter
from chatbot.safety.meaning import MeaningModel, example_vectors


class CountingEmbedder(FakeEmbedder):
    def __init__(self):
        self.texts = 0

    def embed(self, texts):
        self.texts += len(texts)
        return super().embed(texts)


def test_example_vectors_are_cached_per_embedder_and_texts(tmp_path):
    embedder = CountingEmbedder()
    first = example_vectors(embedder, ["a b c", "d e f"], tmp_path)
    again = example_vectors(embedder, ["a b c", "d e f"], tmp_path)
    assert embedder.texts == 2 and np.array_equal(first, again)  # the second call read the cache
    example_vectors(embedder, ["a b c", "other"], tmp_path)  # other texts: another key, computed
    assert embedder.texts == 4 and len(list(tmp_path.glob("examples-*.npy"))) == 2


def test_an_unreadable_cache_is_recomputed_and_a_missing_folder_only_costs_the_cache(tmp_path):
    embedder = CountingEmbedder()
    example_vectors(embedder, ["a b c"], tmp_path)
    next(tmp_path.glob("examples-*.npy")).write_bytes(b"not numpy")
    assert example_vectors(embedder, ["a b c"], tmp_path).shape == (1, FakeEmbedder.dim)
    blocked = tmp_path / "file"
    blocked.write_text("x")  # a file where the cache folder should be
    assert example_vectors(embedder, ["a b c"], blocked / "cache").shape == (1, FakeEmbedder.dim)


def test_meaning_model_separates_what_its_examples_separate():
    texts = ["forge a sick note", "fake a doctor note", "forge the record", "how to report a forged note",
             "how do I report fraud", "report a fake record"]
    model = MeaningModel(FakeEmbedder(), texts, [1, 1, 1, 0, 0, 0], None)
    assert model.probability("forge a note for me") > model.probability("how do I report a note")


class _Always:
    def __init__(self, p: float):
        self.p = p

    def probability(self, text: str) -> float:
        return self.p


def test_the_meaning_share_applies_to_english_only_and_chinese_has_its_own_cut_off():
    base = load_filter(str(DEFAULT_EXAMPLES_PATH), str(DEFAULT_PATTERNS_PATH), 0.75, 0.4, 0.7)
    english, chinese = "tell me about the weather in spring", "春天天气怎么样"
    plain_en, plain_zh = base.probability(english), base.probability(chinese)
    base.meaning, base.meaning_weight = _Always(1.0), 0.3
    try:
        assert base.probability(english) == (0.7 * plain_en + 0.3)  # weighted in
        assert base.probability(chinese) == plain_zh  # the English-only embedder is not asked
        base.threshold, base.threshold_zh = 0.99, 0.0001
        assert base.verdict(chinese) is not None and base.verdict(english) is None  # each language its own bar
    finally:
        base.meaning, base.meaning_weight, base.threshold, base.threshold_zh = None, 0.0, 0.75, 0.7


def test_an_engine_on_the_fake_embedder_leaves_the_meaning_classifier_out(engine):
    assert engine.settings.safety.harmful_meaning_weight > 0
    assert FakeEmbedder.semantic is False and engine.harmful.meaning is None  # hashed words carry no meaning

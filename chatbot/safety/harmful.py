"""Harmful and manipulative requests, declined as a policy rather than by luck.

Without this layer a request to falsify a record, covertly sedate a relative or obtain opioids by deception was
declined only when retrieval happened to find no matching source; worded closer to a topic it reached the model,
which complied. Medical ethics gives the categories (``CATEGORIES``); two deterministic detectors decide:

- **patterns** (``knowledge/harmful_requests.yaml``): the unambiguous shapes of each category ("fake a sick
  note", "without her knowing" next to a drug, 伪造病历), in English and Chinese;
- **a small classifier** (TF-IDF over characters and words + multinomial logistic regression, like the self-harm
  classifier) trained on our own labelled examples (``knowledge/harmful_examples.jsonl``: requests of every
  category and legitimate look-alikes such as "how do I report insurance fraud?" or "what should I do if my drink
  was spiked?"), for the paraphrases no pattern anticipated. For English it is averaged with a classifier on the
  retrieval embedder's sentence vectors (``chatbot.safety.meaning``), which reads requests that share few words
  with any example; Chinese has its own cut-off (the bundled embedder reads English only).

A refusal never lowers a triage level: the red-flag screen has already run and its level stands in the reply.
Training takes about a second, once per process, and is deterministic (no pickled model ships).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from chatbot.safety.crisis import read_labelled
from chatbot.safety.language import has_cjk
from chatbot.safety.meaning import MeaningModel
from chatbot.safety.text import normalize

_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_EXAMPLES_PATH = _ROOT / "knowledge" / "harmful_examples.jsonl"
DEFAULT_PATTERNS_PATH = _ROOT / "knowledge" / "harmful_requests.yaml"
NONE = "none"
# Most severe first: a request that matches two categories is named by the graver one.
CATEGORIES = ("harming_others", "unethical_treatment", "controlled_drugs", "dangerous_self_treatment", "fraud",
              "privacy", "discrimination")


class HarmfulModelError(ValueError):
    """The examples or patterns file cannot be used; the message says why."""


@dataclass(frozen=True)
class HarmfulVerdict:
    """Why a request is declined: its category, what decided (``pattern`` or ``classifier``) and how sure."""

    category: str
    by: str
    probability: float


def read_examples(path: str | Path = DEFAULT_EXAMPLES_PATH) -> tuple[list[str], list[str]]:
    """Texts and labels (a category or ``none``) from the JSONL examples file."""
    texts, labels = read_labelled(path, lambda row: str(row["label"]), HarmfulModelError, "text and label")
    unknown = sorted(set(labels) - {*CATEGORIES, NONE})
    if unknown:
        raise HarmfulModelError(f"{path}: unknown labels {unknown}; use {', '.join(CATEGORIES)} or none")
    if NONE not in labels or len(set(labels)) < 2:
        raise HarmfulModelError(f"{path}: needs harmful and legitimate ('none') examples")
    return texts, labels


@dataclass(frozen=True)
class PatternTable:
    """Compiled patterns: per category, and the shared ``covert`` and ``protective`` cues."""

    categories: dict[str, list[re.Pattern[str]]]
    covert: list[re.Pattern[str]]
    protective: list[re.Pattern[str]]


def _compile(where: str, spec: dict[str, list[str]] | None) -> list[re.Pattern[str]]:
    patterns = [p for lang in ("en", "zh") for p in (spec or {}).get(lang, [])]
    try:
        return [re.compile(p) for p in patterns]
    except re.error as exc:
        raise HarmfulModelError(f"{where}: bad pattern: {exc}") from exc


def read_patterns(path: str | Path = DEFAULT_PATTERNS_PATH) -> PatternTable:
    """The pattern table (English and Chinese together: patients mix languages)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise HarmfulModelError(f"cannot read {path}: {exc}") from exc
    categories = data.get("categories") or {}
    unknown = set(categories) - set(CATEGORIES)
    if unknown:
        raise HarmfulModelError(f"{path}: unknown categories {sorted(unknown)}")
    cues = data.get("cues") or {}
    return PatternTable({c: _compile(f"{path}: {c}", spec) for c, spec in categories.items()},
                        _compile(f"{path}: covert", cues.get("covert")),
                        _compile(f"{path}: protective", cues.get("protective")))


def build_pipeline() -> Any:
    """Character n-grams (Chinese has no spaces; typos keep most n-grams) plus word n-grams, logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    features = FeatureUnion([
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True)),
        ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), token_pattern=r"(?u)\b\w+\b",
                                  sublinear_tf=True)),
    ])
    return Pipeline([("features", features),
                     ("model", LogisticRegression(C=4.0, class_weight="balanced", max_iter=3000))])


class HarmfulRequestFilter:
    """A request for secrecy ("without her knowing") overrides everything else; otherwise a protective frame (how
    to report, protect, know one's rights) lets the request through. Then patterns decide alone, and the
    classifier above ``threshold`` (``covert_threshold`` when the request asks for secrecy).

    Two models: P(harmful) from harmful-vs-legitimate examples, and the category from the harmful ones.
    """

    def __init__(self, texts: Sequence[str], labels: Sequence[str], patterns: PatternTable,
                 threshold: float, covert_threshold: float, threshold_zh: float | None = None,
                 meaning: MeaningModel | None = None, meaning_weight: float = 0.0) -> None:
        self.threshold = threshold
        self.threshold_zh = threshold if threshold_zh is None else threshold_zh
        self.covert_threshold = covert_threshold
        self.meaning = meaning if meaning_weight > 0 else None
        self.meaning_weight = meaning_weight
        self.patterns = patterns
        norm = [normalize(t) for t in texts]
        self.harm = build_pipeline().fit(norm, [int(label != NONE) for label in labels])
        harmful = [(n, label) for n, label in zip(norm, labels) if label != NONE]
        self.kind = build_pipeline().fit([n for n, _ in harmful], [label for _, label in harmful])

    def pattern_category(self, norm: str) -> str | None:
        """The first category (in ``CATEGORIES`` order) with a pattern that matches the normalised text."""
        for category in CATEGORIES:
            if any(p.search(norm) for p in self.patterns.categories.get(category, ())):
                return category
        return None

    def probability(self, text: str) -> float:
        """P(harmful) for one message from the classifiers alone (n-grams; and meaning, for English)."""
        p = float(self.harm.predict_proba([normalize(text)])[0][1])
        if self.meaning is None or has_cjk(text):
            return p
        return (1 - self.meaning_weight) * p + self.meaning_weight * self.meaning.probability(text)

    def verdict(self, text: str) -> HarmfulVerdict | None:
        """Why ``text`` must be declined, or None when it is a legitimate request."""
        if not isinstance(text, str) or not text.strip():
            return None
        norm = normalize(text)
        covert = any(c.search(norm) for c in self.patterns.covert)
        protective = not covert and any(p.search(norm) for p in self.patterns.protective)
        category = None if protective else self.pattern_category(norm)
        if category is not None:
            return HarmfulVerdict(category, "pattern", 1.0)
        if protective:
            return None
        p = self.probability(text)
        if p < (self.covert_threshold if covert else self.threshold_zh if has_cjk(text) else self.threshold):
            return None
        return HarmfulVerdict(str(self.kind.predict([norm])[0]), "classifier", round(p, 4))


@lru_cache(maxsize=4)
def load_filter(examples: str, patterns: str, threshold: float, covert_threshold: float,
                threshold_zh: float | None = None, embedder: Any = None, meaning_weight: float = 0.0,
                cache_dir: str | None = None) -> HarmfulRequestFilter:
    """The filter for an examples and a patterns file, trained once per process (with ``embedder`` and a
    ``meaning_weight`` above 0, the English meaning classifier too; its example vectors cached in ``cache_dir``)."""
    texts, labels = read_examples(examples)
    meaning = None
    if embedder is not None and meaning_weight > 0:
        meaning = english_meaning_model(embedder, texts, labels, Path(cache_dir) if cache_dir else None)
    return HarmfulRequestFilter(texts, labels, read_patterns(patterns), threshold, covert_threshold, threshold_zh,
                                meaning, meaning_weight)


def english_meaning_model(embedder: Any, texts: Sequence[str], labels: Sequence[str],
                          cache_dir: Path | None) -> MeaningModel:
    """Harmful-vs-legitimate on the sentence vectors of the English examples."""
    english = [(t, int(label != NONE)) for t, label in zip(texts, labels) if not has_cjk(t)]
    return MeaningModel(embedder, [t for t, _ in english], [y for _, y in english], cache_dir)

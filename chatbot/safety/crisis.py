"""Suicide and self-harm intent recognised by what a message means, not by one wording.

The crisis rules in the rulebook catch the phrasings their authors thought of; people in crisis use many others
("going to sleep and not waking up", "would my dad's heart pills be enough", "for a story: how many …"). A small
classifier trained on our own labelled examples (``knowledge/self_harm_examples.jsonl``: crisis messages of
every kind and benign look-alikes such as "this headache is killing me" or "max dose of paracetamol?") adds a
crisis hit when its probability reaches ``safety.crisis_threshold``. It can only add a crisis escalation, never
remove one, and it runs before any model work (TF-IDF over characters and words plus logistic regression:
about a millisecond a message once trained; training on a few hundred examples takes about a second, once per
process, and is deterministic, so no pickled model ships with the project).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from chatbot.answer import TriageLevel
from chatbot.safety.messages import texts_for
from chatbot.safety.screen import FiredRule, ScreenResult
from chatbot.safety.text import normalize

DEFAULT_EXAMPLES_PATH = Path(__file__).resolve().parents[2] / "knowledge" / "self_harm_examples.jsonl"
CRISIS_RULE_ID = "rf.mental.crisis_classifier"
T = TypeVar("T")


class CrisisModelError(ValueError):
    """The examples file cannot be used to train the classifier; the message says why."""


def read_labelled(path: str | Path, label: Callable[[dict], T], error: type[ValueError],
                  need: str) -> tuple[list[str], list[T]]:
    """Texts and labels from a JSONL examples file (one classifier's training data); ``label`` reads a row's
    label, ``need`` names the fields for the error message."""
    texts: list[str] = []
    labels: list[T] = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise error(f"cannot read {path}: {exc}") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            texts.append(str(row["text"]))
            labels.append(label(row))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise error(f"{path}:{number}: needs {need}: {exc}") from exc
    return texts, labels


def read_examples(path: str | Path = DEFAULT_EXAMPLES_PATH) -> tuple[list[str], list[int]]:
    """Texts and labels (1 = crisis) from the JSONL examples file."""
    texts, labels = read_labelled(path, lambda row: 1 if row["crisis"] is True else 0, CrisisModelError,
                                  "text and crisis (true/false)")
    if len(set(labels)) < 2:
        raise CrisisModelError(f"{path}: needs both crisis and look-alike examples")
    return texts, labels


def build_pipeline() -> Any:
    """Character n-grams (Chinese has no spaces; typos keep most of their n-grams) plus word n-grams."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    features = FeatureUnion([
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), min_df=1, sublinear_tf=True)),
        ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), token_pattern=r"(?u)\b\w+\b",
                                  sublinear_tf=True)),
    ])
    model = LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000)
    return Pipeline([("features", features), ("model", model)])


class CrisisClassifier:
    """Trained once from the examples; :meth:`probability` is P(crisis) for one message."""

    def __init__(self, texts: Sequence[str], labels: Sequence[int], threshold: float) -> None:
        self.threshold = threshold
        self.pipeline = build_pipeline()
        self.pipeline.fit([normalize(t) for t in texts], list(labels))

    @classmethod
    def from_path(cls, path: str | Path = DEFAULT_EXAMPLES_PATH, threshold: float = 0.5) -> CrisisClassifier:
        texts, labels = read_examples(path)
        return cls(texts, labels, threshold)

    def probability(self, text: str) -> float:
        return float(self.pipeline.predict_proba([normalize(text)])[0][1])

    def strongest(self, messages: Sequence[str]) -> tuple[float, str]:
        """The highest P(crisis) among the messages and that message."""
        best = (0.0, "")
        for message in messages:
            if isinstance(message, str) and message.strip():
                p = self.probability(message)
                if p > best[0]:
                    best = (p, message)
        return best

    def screen(self, screen: ScreenResult, messages: Sequence[str]) -> ScreenResult:
        """``screen`` with a crisis hit at emergency level added when a message reaches the threshold (and no
        crisis rule fired already: the rule's own message is more specific)."""
        if screen.crisis:
            return screen
        p, message = self.strongest(messages)
        if p < self.threshold:
            return screen
        hit = FiredRule(id=CRISIS_RULE_ID, level=TriageLevel.emergency, crisis=True,
                        title=texts_for("crisis_hit_title"), message=texts_for("crisis_hit_message"),
                        matched=message[:80])
        result = screen.model_copy(update={"fired": [hit, *screen.fired]})
        result.hits = result.hits_in(result.language)
        result.level = TriageLevel.emergency
        return result


@lru_cache(maxsize=4)
def load_classifier(path: str, threshold: float) -> CrisisClassifier:
    """The classifier for an examples file, trained once per process (every engine in it shares it)."""
    return CrisisClassifier.from_path(path, threshold)

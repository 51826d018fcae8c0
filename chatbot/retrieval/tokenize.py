"""One tokenizer for BM25 indexing and queries, English and Chinese.

Why jieba: Chinese has no spaces; word segmentation lets a Chinese question match the Chinese synonyms that
each topic lists in its front matter, the cross-lingual route while the bundled embedder is English-only.
"""

from __future__ import annotations

import logging
import re
import threading

from chatbot.safety.language import CJK, CJK_CHAR

_WORD = re.compile(rf"[a-z0-9]+|[{CJK}]+")
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "could",
        "do",
        "does",
        "did",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "she",
        "he",
        "so",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "am",
        "im",
        "ive",
        "id",
        "about",
        "after",
        "again",
        "also",
        "any",
        "because",
        "before",
        "being",
        "both",
        "each",
        "few",
        "further",
        "get",
        "got",
        "just",
        "more",
        "most",
        "no",
        "nor",
        "not",
        "now",
        "off",
        "once",
        "only",
        "other",
        "out",
        "over",
        "own",
        "same",
        "should",
        "some",
        "such",
        "than",
        "too",
        "under",
        "until",
        "up",
        "very",
        "while",
        "during",
        "below",
        "above",
        "between",
        "through",
        "doesnt",
        "dont",
        "isnt",
        "wasnt",
        "what's",
        "it's",
        "i'm",
    ]
)
_jieba_lock = threading.Lock()
_jieba = None


def _segment_chinese(text: str) -> list[str]:
    global _jieba
    with _jieba_lock:
        if _jieba is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            _jieba = jieba
    return [w for w in _jieba.lcut_for_search(text) if w.strip()]


def _stem(word: str) -> str:
    """A light English stemmer: enough to match 'headaches'/'headache' and 'vomiting'/'vomit'."""
    for suffix, keep in (("ies", "y"), ("ing", ""), ("s", "")):
        if word.endswith(suffix) and not word.endswith("ss") and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)] + keep
    return word


def tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    for piece in _WORD.findall(text.lower().replace("'", "")):
        if CJK_CHAR.match(piece):
            tokens.extend(_segment_chinese(piece))
        elif piece not in _STOPWORDS:
            tokens.append(_stem(piece))
    return tokens

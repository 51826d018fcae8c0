"""Chinese -> English expansion of a question through our own glossary (``knowledge/glossary_zh_en.yaml``).

Why: the bundled embedder (MiniLM) is English-only and most passages are English, so a Chinese question would find
little. Longest-match lookup of the patient words in the glossary gives English search terms in microseconds,
with no model call; the original Chinese still goes to BM25, which matches the topics' Chinese synonyms.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

_CJK = re.compile(r"[\u3400-\u9fff]")


class Glossary:
    def __init__(self, terms: dict[str, list[str]]) -> None:
        self.terms = {k: v for k, v in terms.items() if k and v}
        self.longest = max((len(k) for k in self.terms), default=0)

    @classmethod
    def load(cls, path: Path) -> Glossary:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        terms = {
            str(k): [str(x) for x in (v if isinstance(v, list) else [v])] for k, v in (data.get("terms") or {}).items()
        }
        return cls(terms)

    def expand(self, text: str) -> str:
        """English terms for the Chinese words in ``text`` (longest match first, each term once, in order)."""
        found: list[str] = []
        i = 0
        while i < len(text):
            if not _CJK.match(text[i]):
                i += 1
                continue
            for size in range(min(self.longest, len(text) - i), 0, -1):
                english = self.terms.get(text[i : i + size])
                if english:
                    found.extend(english)
                    i += size
                    break
            else:
                i += 1
        return " ".join(dict.fromkeys(found))


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))

"""Chinese -> English expansion of a question through our own glossary (``knowledge/glossary_zh_en.yaml``).

Why: the bundled embedder (MiniLM) is English-only and most passages are English, so a Chinese question would find
little. Longest-match lookup of the patient words in the glossary gives English search terms in microseconds,
with no model call; the original Chinese still goes to BM25, which matches the topics' Chinese synonyms.

The English terms stand only for the words the glossary knows. ``understood`` says how much of the question that
is, so the relevance floor can tell "胸口疼" (all read) from "狗狗偷吃了巧克力怎么办", where only "怎么办" is read
and the English terms ("what to do") would match any topic.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from chatbot.safety.language import CJK_CHAR

_LATIN = re.compile(r"[A-Za-z]+")
# Grammar particles, pronouns and auxiliaries: they carry no subject, so an unread one does not count against
# the question ("我", "了", "吗" are in few glossary terms, and a question is no less understood without them).
_PARTICLES = frozenset("了吗呢啊吧呀哦的地得是也还都就又才很太更我你他她它们这那个些在有和与跟把被给让要会能一")


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
        found, _ = self._scan(text)
        return " ".join(dict.fromkeys(english for term in found for english in term))

    def terms_in(self, text: str) -> list[list[str]]:
        """The English alternatives of each glossary term in ``text``, one list per Chinese term, in order: lets a
        Chinese sentence be compared word by word with an English passage (chatbot.generation.citations)."""
        return self._scan(text)[0]

    def understood(self, text: str) -> float:
        """Share of the question the retriever can read: 1.0 without Chinese; else, of the Chinese characters
        (particles aside) plus any Latin letters, the share inside glossary terms or in Latin script."""
        content = [c for c in CJK_CHAR.findall(text) if c not in _PARTICLES]
        if not content:
            return 1.0
        latin = sum(len(w) for w in _LATIN.findall(text))
        _, unread = self._scan(text)
        return 1.0 - sum(1 for c in unread if c not in _PARTICLES) / (len(content) + latin)

    def _scan(self, text: str) -> tuple[list[list[str]], list[str]]:
        """Longest-match walk over the Chinese characters: (English terms of each match, characters not matched)."""
        found: list[list[str]] = []
        unread: list[str] = []
        i = 0
        while i < len(text):
            if not CJK_CHAR.match(text[i]):
                i += 1
                continue
            for size in range(min(self.longest, len(text) - i), 0, -1):
                english = self.terms.get(text[i : i + size])
                if english:
                    found.append(english)
                    i += size
                    break
            else:
                unread.append(text[i])
                i += 1
        return found, unread


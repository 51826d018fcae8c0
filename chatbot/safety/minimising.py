"""The facts view of a message: the patient's words without their own verdict on how serious it is.

Why: the small model takes "probably nothing", "I'm likely overthinking this" or "he insists it's only a chill"
as evidence and calls an emergency self-care. Facts decide the level, so the text the model reads for triage and
for the answer has those verdicts removed (the phrases are data: ``knowledge/minimising.yaml``). The symptom that
follows a care-seeking verdict is kept: "tell me I don't need a doctor for chest pain" becomes "chest pain".
The red-flag screen and care floors read the original message; this only changes what the model sees.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

DEFAULT_MINIMISING_PATH = Path(__file__).resolve().parents[2] / "knowledge" / "minimising.yaml"
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})
_SPACES = re.compile(r"[ \t]{2,}")
_ORPHAN_PUNCT = re.compile(r"(?:(?<=^)|(?<=[.!?。！？]))\s*[,，;；]+\s*|\s+([,.;!?，。！？])")
_PUNCT_RUN = re.compile(r"([.!?。！？,，;；])(?:\s*[.,;!?。，；！？])+")
_LEADING_CONJ = re.compile(r"(?:^|(?<=[.!?。！？] ))(?:(?:but|and|so|though|although|yet)\b[ ,]*)+", re.I)


_REST = {
    "en": r"(?:(?!\b(?:but|and|so|because|though|although|however|except)\b)[^,.;!?])*",
    "zh": r"(?:(?!但是|但|可是|不过|而且|因为|所以)[^，。！？；,.;!?])*",
}


class Minimising:
    """Compiled verdict patterns for English and Chinese."""

    def __init__(self, patterns: dict[str, list[str]]) -> None:
        self._en = _compile(patterns.get("en", []), "en", re.I)
        self._zh = _compile(patterns.get("zh", []), "zh", 0)

    @classmethod
    def from_path(cls, path: str | Path = DEFAULT_MINIMISING_PATH) -> Minimising:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        return cls({"en": list(data.get("en") or []), "zh": list(data.get("zh") or [])})

    def spans(self, text: str) -> list[str]:
        """The verdict phrases found in ``text`` (for tests and for showing what was set aside)."""
        text = text.translate(_APOSTROPHES)
        return [m.group(0) for p in (self._en, self._zh) if p is not None for m in p.finditer(text) if m.group(0)]

    def facts_view(self, text: str) -> str:
        """``text`` without the verdict phrases; the text itself when nothing but verdicts would be left."""
        cleaned = text.translate(_APOSTROPHES)
        for pattern in (self._en, self._zh):
            if pattern is not None:
                cleaned = pattern.sub(" ", cleaned)
        cleaned = _ORPHAN_PUNCT.sub(lambda m: m.group(1) or " ", cleaned)
        cleaned = _PUNCT_RUN.sub(r"\1", _SPACES.sub(" ", cleaned)).strip(" ,;，；")
        cleaned = _LEADING_CONJ.sub("", cleaned)
        cleaned = cleaned[:1].upper() + cleaned[1:] if cleaned != text else cleaned
        return cleaned if re.search(r"\w", cleaned) else text


def _compile(patterns: list[str], lang: str, flags: int) -> re.Pattern[str] | None:
    """One alternation; ``%REST%`` is the rest of the clause, stopping at punctuation or a conjunction."""
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{p.replace('%REST%', _REST[lang])})" for p in patterns), flags)


@lru_cache(maxsize=4)
def default_minimising(path: str | None = None) -> Minimising:
    """The bundled patterns, compiled once per process."""
    return Minimising.from_path(path or DEFAULT_MINIMISING_PATH)


def facts_view(text: str) -> str:
    """Shortcut for :meth:`Minimising.facts_view` with the bundled patterns."""
    return default_minimising().facts_view(text)

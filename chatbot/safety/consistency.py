"""Answers that cannot contradict the decided level or name another country's services.

The level is decided before the answer and the answer's prompt states it, but a 1.5B model still writes "book a
GP appointment" under a "call 911 now" banner, or "a 111-style service" for a patient in the US. Before an
answer is final, every sentence is checked: advice below the decided level (patterns per level in
``knowledge/consistency.yaml``) and service names or numbers that belong to another locale
(``knowledge/locales.yaml``) remove the sentence, and the level's fixed advice is added once, in the patient's
language. Deterministic and cheap: regular expressions over a few sentences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from chatbot.answer import TriageLevel
from chatbot.safety.language import detect_language
from chatbot.safety.locales import LocaleTable
from chatbot.safety.messages import texts_for

DEFAULT_CONSISTENCY_PATH = Path(__file__).resolve().parents[2] / "knowledge" / "consistency.yaml"
_SENTENCE = re.compile(r"[^.!?。！？\n]+(?:[.!?。！？]+|\n|$)")
_NUMBER_EDGE = r"(?<![\d/.:,-]){}(?![\d/:]|[.,]\d|\s*(?:mg|ml|g\b|kg|mmhg|%|mmol|words|minutes|mins|hours|days))"


@dataclass
class Checked:
    """The answer after the check, and what was taken out (for the log and the tests)."""

    text: str
    removed: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.removed)


class ConsistencyCheck:
    """Compiled level and locale checks; one per process."""

    def __init__(self, data: dict, locales: LocaleTable, locale: str) -> None:
        self._lower = _inherited(data.get("lower_care") or {})
        self._foreign = _foreign_services(locales, locale)
        self._place = locales.get(locale)

    @classmethod
    def from_path(cls, locales: LocaleTable, locale: str, path: str | Path = DEFAULT_CONSISTENCY_PATH
                  ) -> ConsistencyCheck:
        return cls(yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}, locales, locale)

    def contradicts(self, sentence: str, level: TriageLevel | None) -> bool:
        """Advice below ``level`` ("book a GP" under an emergency) or another locale's service in one sentence."""
        lower = self._lower.get(level.value, {}) if level is not None else {}
        pattern = lower.get("zh" if detect_language(sentence) == "zh" else "en")
        return bool((pattern is not None and pattern.search(sentence))
                    or (self._foreign is not None and self._foreign.search(sentence)))

    def check(self, text: str, level: TriageLevel | None, lang: str) -> Checked:
        """``text`` with contradicting sentences removed and the level's advice added when anything was."""
        kept, removed = [], []
        for sentence in _SENTENCE.findall(text):
            if self.contradicts(sentence, level):
                removed.append(sentence.strip())
            else:
                kept.append(sentence)
        if not removed:
            return Checked(text)
        advice = texts_for(f"consistent_{level.value}").get(lang) if level is not None else None
        if advice:
            advice = advice.format(emergency=self._place.emergency_for(lang))
        body = "".join(kept).strip()
        if advice:
            body = f"{body}\n\n{advice}" if body else advice
        return Checked(body, removed)


def _inherited(lower_care: dict) -> dict[str, dict[str, re.Pattern[str]]]:
    """One pattern per level and language: its own list plus those of every less urgent level.

    Why: advice too low for "urgent" ("no need to go to hospital") is too low for "emergency" as well; listing it
    twice let the lists drift apart (a Chinese "不需要去医院" passed under an emergency banner).
    """
    order = [level.value for level in sorted(TriageLevel, key=lambda lv: lv.rank)]
    compiled: dict[str, dict[str, re.Pattern[str]]] = {}
    for i, level in enumerate(order):
        langs: dict[str, list[str]] = {}
        for lower in order[: i + 1]:
            for lang, patterns in (lower_care.get(lower) or {}).items():
                langs.setdefault(lang, []).extend(patterns or [])
        compiled[level] = {lang: re.compile("|".join(f"(?:{p})" for p in patterns), re.I)
                           for lang, patterns in langs.items() if patterns}
    return compiled


def _foreign_services(locales: LocaleTable, locale: str) -> re.Pattern[str] | None:
    """Numbers and service names of every other locale that the patient's own locale does not share."""
    own = locales.get(locale)
    mine = {own.emergency, *(s.number for s in (own.urgent, own.crisis, own.poison) if s)}
    mine_names = {n for s in (own.urgent, own.crisis, own.poison) if s for n in (s.name.en, s.name.zh)}
    numbers: set[str] = set()
    names: set[str] = set()
    for code, place in locales.locales.items():
        if code == locales.default or place is own:
            continue
        numbers |= {place.emergency, *(s.number for s in (place.urgent, place.crisis, place.poison) if s)}
        names |= {n for s in (place.urgent, place.crisis, place.poison) if s for n in (s.name.en, s.name.zh)}
    numbers -= mine
    names = {n for n in names - mine_names if not any(n in m or m in n for m in mine_names)}
    parts = [_NUMBER_EDGE.format(re.escape(n)) for n in sorted(numbers, key=len, reverse=True)]
    parts += [re.escape(n) for n in sorted(names, key=len, reverse=True) if len(n) >= 4]
    parts.append(r"\b\d{3}-style service\b")
    return re.compile("|".join(parts), re.I) if parts else None

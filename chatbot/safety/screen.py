"""The deterministic red-flag screen: rulebook patterns over the whole conversation, in milliseconds.

It runs before any model work on every turn. An emergency hit produces the escalation message at once and sets a
floor on the final triage level that no model output can lower. Everything is compiled once per rulebook; a
screen call normalises each message, finds each concept the rules need (lazily, once), drops negated matches
("no chest pain") and evaluates the rules' AND/OR terms and context (age, pregnancy) against what the whole
conversation has said so far, so "my baby is 5 weeks old" then "she has a fever of 38.5" fires infant fever.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field

from chatbot.answer import RedFlag, TriageLevel
from chatbot.safety.facts import AgeMention, PatientFacts, extract_ages, facts_from_scoped
from chatbot.safety.language import detect_language, has_cjk
from chatbot.safety.rulebook import DEFAULT_RULEBOOK_PATH, Atom, PatternSet, Rule, Rulebook, load_rulebook
from chatbot.safety.text import Scoped, normalize

_CHILD_MAX_YEARS = 16.0
_INFANT_MAX_YEARS = 1.0
_MATCHED_MAX_CHARS = 80
_HAS_ALNUM = re.compile(r"[a-z0-9]")
class FiredRule(BaseModel):
    """A rule that fired, with its texts in every language so the escalation can follow the patient's language."""

    id: str
    level: TriageLevel
    crisis: bool = False
    title: dict[str, str]
    message: dict[str, str]
    matched: str = ""


class ScreenResult(BaseModel):
    """What the screen found. ``hits`` are in the detected ``language``; ``fired`` keeps both languages."""

    hits: list[RedFlag] = Field(default_factory=list)
    level: TriageLevel | None = None
    elapsed_ms: float = 0.0
    language: str = "en"
    facts: PatientFacts = Field(default_factory=PatientFacts)
    fired: list[FiredRule] = Field(default_factory=list)

    @property
    def crisis(self) -> bool:
        """True when a self-harm/suicide rule fired: the escalation must be a crisis message."""
        return any(f.crisis for f in self.fired)

    def hits_in(self, lang: str) -> list[RedFlag]:
        """The hits with title and message in ``lang`` (the conversation may switch language)."""
        if not self.fired:
            return list(self.hits)
        return [
            RedFlag(id=f.id, level=f.level, message=f.message.get(lang, f.message["en"]),
                    title=f.title.get(lang, f.title["en"]), matched=f.matched)
            for f in self.fired
        ]


@dataclass(frozen=True)
class _Facts:
    """Context for one screen call: merged facts plus every age mentioned anywhere in the conversation."""

    merged: PatientFacts
    ages: tuple[float, ...]

    def has(self, atom: str) -> bool:
        """Whether a ``ctx:`` atom holds. Age atoms hold if any age mentioned qualifies (errs towards firing)."""
        if atom == "ctx:pregnant":
            return self.merged.pregnant is True
        if atom == "ctx:child":
            return any(a < _CHILD_MAX_YEARS for a in self.ages)
        if atom == "ctx:infant":
            return any(a < _INFANT_MAX_YEARS for a in self.ages)
        if atom in ("ctx:female", "ctx:male"):
            return self.merged.sex == atom[4:]
        if atom.startswith("ctx:cond:"):
            return atom[9:] in self.merged.conditions
        if atom.startswith("ctx:med:"):
            return atom[8:] in self.merged.medicines
        return False


@dataclass(frozen=True)
class _Compiled:
    """A concept's English and Chinese patterns, each one alternation; a message is only searched with the
    patterns its script can match (English patterns need Latin letters or digits, Chinese ones CJK)."""

    en: re.Pattern[str] | None
    zh: re.Pattern[str] | None


class _Call:
    """State of one screen call: scanned messages and a cache of where each concept was found (unnegated)."""

    def __init__(self, screen: RedFlagScreen, scoped: list[Scoped], facts: _Facts) -> None:
        self.screen = screen
        self.scoped = scoped
        self.facts = facts
        self._found: dict[str, dict[int, str]] = {}
        self._scripts = [(bool(_HAS_ALNUM.search(s.text)), has_cjk(s.text)) for s in scoped]

    def found(self, atom: str) -> dict[int, str]:
        """Message index -> matched text for an atom; context atoms count as present in every message."""
        if atom.startswith("ctx:"):
            return dict.fromkeys(range(max(1, len(self.scoped))), "") if self.facts.has(atom) else {}
        if atom not in self._found:
            self._found[atom] = self._scan(self.screen.pattern(atom))
        return self._found[atom]

    def found_firm(self, atom: str) -> bool:
        """Whether an atom is found, unnegated, with no hedge before it in its clause (a stated fact, not a
        guess): how exclusions of emergency rules are read."""
        if not self.found(atom):
            return False
        if atom.startswith("ctx:"):
            return True
        compiled = self.screen.pattern(atom)
        for index in self.found(atom):
            scoped = self.scoped[index]
            latin, cjk = self._scripts[index]
            for pattern in (compiled.en if latin else None, compiled.zh if cjk else None):
                for m in pattern.finditer(scoped.text) if pattern is not None else ():
                    lo, _ = scoped.clause_bounds(m.start(), m.end())
                    if not scoped.is_negated(m.start(), m.end()) and not self.screen.hedged(scoped.text, lo, m.start()):
                        return True
        return False

    def _scan(self, compiled: _Compiled) -> dict[int, str]:
        hits: dict[int, str] = {}
        for index, scoped in enumerate(self.scoped):
            latin, cjk = self._scripts[index]
            for pattern in (compiled.en if latin else None, compiled.zh if cjk else None):
                if pattern is None:
                    continue
                for m in pattern.finditer(scoped.text):
                    if not scoped.is_negated(m.start(), m.end()):
                        hits.setdefault(index, m.group(0)[:_MATCHED_MAX_CHARS])
                        break
        return hits


class RedFlagScreen:
    """Compiled rulebook. Build once per process (:func:`default_screen` caches the bundled one)."""

    def __init__(self, rulebook: Rulebook) -> None:
        self.rulebook = rulebook
        self.compiled: dict[str, _Compiled] = {}
        self._sets: dict[str, PatternSet] = dict(rulebook.concepts)
        self._terms: dict[str, list[list[str]]] = {}
        self._none: dict[str, list[str]] = {}
        for rule in rulebook.rules:
            self._terms[rule.id] = [self._atoms(rule, t if isinstance(t, list) else [t]) for t in rule.match.all]
            self._none[rule.id] = self._atoms(rule, list(rule.match.none))
        for name in self._sets:  # compile everything now, so no patient's turn pays for it
            self.pattern(name)
        self._hedge = self._hedges(rulebook.hedges)

    @staticmethod
    def _hedges(words: PatternSet) -> re.Pattern[str] | None:
        """The rulebook's guess words as one pattern: English ones whole words, Chinese ones anywhere."""
        parts = [rf"\b(?:{'|'.join(words.en)})\b"] if words.en else []
        parts += words.zh
        return re.compile("|".join(parts)) if parts else None

    def hedged(self, text: str, start: int, end: int) -> bool:
        """Whether a guess word ("probably", "估计") sits in ``text[start:end]``.

        Why: a guess is not a fact. "It's probably indigestion" must not veto an emergency rule the way "my GP said
        it's reflux" may; urgent and routine rules keep every veto (there a false alarm weighs more)."""
        return self._hedge is not None and self._hedge.search(text, start, end) is not None

    @classmethod
    def from_path(cls, path: str | Path = DEFAULT_RULEBOOK_PATH) -> RedFlagScreen:
        return cls(load_rulebook(path))

    def _compile(self, pset: PatternSet) -> _Compiled:
        """One alternation per concept and language: a single pass over the text finds any of its phrasings."""

        def one(patterns: list[str]) -> re.Pattern[str] | None:
            if not patterns:
                return None
            return re.compile("|".join(f"(?:{self.rulebook.expand(p)})" for p in patterns))

        return _Compiled(one(pset.en), one(pset.zh))

    def pattern(self, name: str) -> _Compiled:
        """The compiled patterns of a concept or inline pattern set (compiled once)."""
        compiled = self.compiled.get(name)
        if compiled is None:
            compiled = self.compiled[name] = self._compile(self._sets[name])
        return compiled

    def _atoms(self, rule: Rule, atoms: list[Atom]) -> list[str]:
        """Concept names for a term; inline pattern sets get a private name."""
        names: list[str] = []
        for i, atom in enumerate(atoms):
            if isinstance(atom, PatternSet):
                name = f"{rule.id}#{len(self._sets)}.{i}"
                self._sets[name] = atom
                atom = name
            names.append(atom)
        return names

    # ---- screening ----------------------------------------------------------------------------------------------
    def screen(self, messages: Sequence[str], facts: PatientFacts | None = None,
               language: str | None = None) -> ScreenResult:
        """Screen the patient's messages so far (oldest first). ``facts`` are those the session already holds."""
        started = time.perf_counter()
        texts = [m for m in messages if isinstance(m, str) and m.strip()]
        scoped = [Scoped.of(normalize(m), normalized=True) for m in texts]
        context = _context(scoped, facts)
        call = _Call(self, scoped, context)
        fired = [self._fire(rule, call) for rule in self.rulebook.rules]
        fired_rules = sorted((f for f in fired if f is not None), key=lambda f: -f.level.rank)
        lang = language or _language(texts)
        result = ScreenResult(language=lang, facts=context.merged, fired=fired_rules)
        result.hits = result.hits_in(lang)
        result.level = TriageLevel.highest(*(f.level for f in fired_rules))
        result.elapsed_ms = (time.perf_counter() - started) * 1000
        return result

    def fired_ids(self, messages: Sequence[str], facts: PatientFacts | None = None) -> list[str]:
        """Ids of the rules that fire (used by the rulebook checker and tests)."""
        return [hit.id for hit in self.screen(messages, facts).hits]

    def _fire(self, rule: Rule, call: _Call) -> FiredRule | None:
        """Evaluate one rule: context, every AND term (in one message if ``within: message``), then exclusions."""
        if not _context_ok(rule, call.facts):
            return None
        # Terms in order, stopping at the first that fails: later terms and exclusions are only searched for
        # when they could change the answer (most rules fail on their first term).
        per_term: list[dict[int, str]] = []
        common: set[int] | None = None
        for term in self._terms[rule.id]:
            found = _union(call.found(atom) for atom in term)
            if rule.match.within == "message":
                common = set(found) if common is None else common & set(found)
                if not common:
                    return None
            elif not found:
                return None
            per_term.append(found)
        firm = rule.triage_level == TriageLevel.emergency
        if any(call.found_firm(atom) if firm else call.found(atom) for atom in self._none[rule.id]):
            return None
        if rule.match.within == "message" and common:
            texts = [t[min(common)] for t in per_term]
        else:
            texts = [t[min(t)] for t in per_term]
        # Context atoms match with no text: report the first term that quotes the patient's words.
        matched = next((t for t in texts if t), "")
        return FiredRule(id=rule.id, level=rule.triage_level, crisis=rule.crisis,
                         title=rule.title.model_dump(), message=rule.message.model_dump(), matched=matched)


def _union(found: object) -> dict[int, str]:
    """OR of atoms: a message counts when any atom was found in it (first atom's text kept)."""
    merged: dict[int, str] = {}
    for hits in found:  # type: ignore[attr-defined]
        for index, text in hits.items():
            merged.setdefault(index, text)
    return merged


def _context(scoped: list[Scoped], facts: PatientFacts | None) -> _Facts:
    """Facts from every message (later win), then the session's facts on top; all ages kept for age rules."""
    merged = PatientFacts()
    ages: list[float] = []
    for item in scoped:
        mentions: list[AgeMention] = extract_ages(item.text, normalized=True)
        ages += [a.years for a in mentions]
        merged = merged.merge(facts_from_scoped(item, mentions))
    if facts is not None:
        merged = merged.merge(facts)
    if merged.age_years is not None:
        ages.append(merged.age_years)
    return _Facts(merged, tuple(ages))


def _context_ok(rule: Rule, facts: _Facts) -> bool:
    """A rule's ``context:`` block: every stated condition must be known and hold."""
    ctx = rule.context
    if ctx.age_max_years is not None and not any(a <= ctx.age_max_years for a in facts.ages):
        return False
    if ctx.age_min_years is not None and not any(a >= ctx.age_min_years for a in facts.ages):
        return False
    if ctx.pregnant is not None and facts.merged.pregnant is not ctx.pregnant:
        return False
    return ctx.sex is None or facts.merged.sex == ctx.sex


def _language(texts: list[str]) -> str:
    """The language of the latest message that has letters in it (a bare "38.5" says nothing)."""
    for text in reversed(texts):
        if re.search(r"[^\W\d_]", text):
            return detect_language(text)
    return "en"


@lru_cache(maxsize=4)
def default_screen(path: str | None = None) -> RedFlagScreen:
    """The bundled rulebook, compiled once per process."""
    return RedFlagScreen.from_path(path or DEFAULT_RULEBOOK_PATH)

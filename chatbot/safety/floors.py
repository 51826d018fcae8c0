"""Care floors: the level a nurse would not go below, given facts the patient stated.

Red-flag rules recognise dangerous *signs*. Many patients who need a doctor show none: a cough for six weeks,
reflux most days, thirst with weight loss, home blood pressure of 165/100, a toddler passing much less urine. The
small model reads such messages as self-care, especially when the patient adds "probably nothing". A care floor
turns a stated fact into a minimum level with a reason that quotes the patient's own words, so the level the
patient sees follows facts, never the patient's verdict and never the model alone.

The facts and floors are data (``knowledge/care_floors.yaml``); this module reads numbers (temperature, blood
pressure, blood sugar, oxygen saturation) and evaluates each floor's conditions. Pure Python, microseconds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from chatbot.answer import TriageLevel
from chatbot.safety.facts import PatientFacts
from chatbot.safety.intake import describes_symptoms
from chatbot.safety.screen import FiredRule, ScreenResult
from chatbot.safety.text import CJK, Scoped, normalize

DEFAULT_FLOORS_PATH = Path(__file__).resolve().parents[2] / "knowledge" / "care_floors.yaml"
_QUOTE_MAX = 60
_HAS_CJK = re.compile(f"[{CJK}]")
_HAS_LATIN = re.compile(r"[a-z0-9]")


class FloorsError(ValueError):
    """The care-floor file cannot be used; the message says why."""


class FiredFloor(BaseModel):
    """A care floor that holds for this conversation, with the patient's words that stated the fact."""

    id: str
    level: TriageLevel
    title: dict[str, str]
    reason: dict[str, str]
    quote: str = ""

    def reason_in(self, lang: str) -> str:
        """The reason in ``lang`` (English when missing), with the patient's words filled in."""
        text = self.reason.get(lang) or self.reason["en"]
        return text.replace("{quote}", self.quote)

    def title_in(self, lang: str) -> str:
        return self.title.get(lang) or self.title["en"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Texts(_Strict):
    en: str
    zh: str


class _Patterns(_Strict):
    en: list[str] = Field(default_factory=list)
    zh: list[str] = Field(default_factory=list)


class Floor(_Strict):
    level: TriageLevel
    when: list[Any] = Field(..., min_length=1)
    title: _Texts
    reason: _Texts
    covers: list[str] = Field(default_factory=list, description="lower floors this one makes redundant")


class FloorBook(_Strict):
    version: int = 1
    facts: dict[str, _Patterns]
    floors: dict[str, Floor]


# ---- numbers the patient reports ------------------------------------------------------------------------------------
_BP = re.compile(r"(?<![\d.])(\d{2,3})\s*(?:/|over|\\)\s*(\d{2,3})(?![\d.])")
_BP_CONTEXT = re.compile(r"(?:\bbp\b|blood pressure|pressure|reading|readings|monitor|血压|高压|低压|mmhg)")
_BP_ZH = re.compile(r"高压\s*(\d{2,3})\D{0,6}低压\s*(\d{2,3})")
_BP_SINGLE = re.compile(r"(?:\bbp\b|blood pressure|血压)\D{0,20}?(\d{3})(?![\d/.])")
_TEMP = re.compile(
    r"(?<![\d.])(\d{2,3}(?:\.\d{1,2})?)\s*(?:°\s*[cf]?|degrees?(?: ?[cf]\b| celsius| fahrenheit)?|度|c\b|f\b)"
    r"|(?:temp\w*|fever|体温|发烧|发热|烧到|高烧|低烧|烧了)\D{0,16}?(?<![\d.])(\d{2,3}(?:\.\d{1,2})?)(?![\d/])"
)
_GLUCOSE = re.compile(r"(?:\bsugars?\b|glucose|\bbgl?\b|\bbms?\b|\bcbg\b|\bhypos?\b|血糖)\D{0,20}?"
                      r"(\d{1,3}(?:\.\d{1,2})?)(?![\d/])\s*(mmol|mg)?"
                      r"|(?<![\d.])(\d{1,2}(?:\.\d{1,2})?)\s*(mmol)\s*/\s*l\b")  # "2.8 mmol/L" is a sugar reading
_OTHER_LAB = re.compile(r"cholesterol|\bldl\b|\bhdl\b|triglyceride|potassium|sodium|creatinine|calcium|urea"
                        r"|胆固醇|血脂|血钾|血钠")  # other blood tests also reported in mmol/L
_SPO2 = re.compile(r"(?:spo2|sp02|\bsats?\b|saturations?|oxygen(?: level| sat\w*| reading)?|\bo2\b|pulse ox\w*"
                   r"|血氧(?:饱和度)?)\D{0,16}?(\d{2,3})(?![\d.])\s*%?")


@dataclass(frozen=True)
class Readings:
    """Measurements stated anywhere in the conversation (the most extreme of each kind) and their words."""

    bp: tuple[int, int, str] | None = None
    temp_c: tuple[float, str] | None = None
    glucose_high: tuple[float, str] | None = None
    glucose_low: tuple[float, str] | None = None
    spo2: tuple[int, str] | None = None


def read_measurements(texts: Sequence[str]) -> Readings:
    """Blood pressure, temperature (°C), blood sugar (mmol/L) and oxygen saturation from normalised texts."""
    bp: list[tuple[int, int, str]] = []
    temps: list[tuple[float, str]] = []
    sugars: list[tuple[float, str]] = []
    sats: list[tuple[int, str]] = []
    for text in texts:
        bp += _blood_pressures(text)
        temps += [t for m in _TEMP.finditer(text) if (t := _temperature(m)) is not None]
        sugars += [g for m in _GLUCOSE.finditer(text)
                   if not _OTHER_LAB.search(text[max(0, m.start() - 25): m.start()]) and (g := _glucose(m)) is not None]
        sats += [(int(m.group(1)), m.group(0)[:_QUOTE_MAX]) for m in _SPO2.finditer(text)
                 if 50 <= int(m.group(1)) <= 100]
    return Readings(
        bp=max(bp, key=lambda r: max(r[0] - 140, (r[1] - 90) * 2), default=None),
        temp_c=max(temps, key=lambda t: abs(t[0] - 37.0), default=None),
        glucose_high=max(sugars, key=lambda g: g[0], default=None),
        glucose_low=min(sugars, key=lambda g: g[0], default=None),
        spo2=min(sats, key=lambda s: s[0], default=None),
    )


def _blood_pressures(text: str) -> list[tuple[int, int, str]]:
    found = []
    for m in _BP.finditer(text):
        window = text[max(0, m.start() - 40): m.end() + 12]
        sys_, dia = int(m.group(1)), int(m.group(2))
        if _BP_CONTEXT.search(window) and 70 <= sys_ <= 260 and 40 <= dia <= 160 and sys_ > dia:
            found.append((sys_, dia, m.group(0)))
    found += [(int(m.group(1)), int(m.group(2)), m.group(0)) for m in _BP_ZH.finditer(text)]
    if not found:
        found += [(int(m.group(1)), 0, m.group(1)) for m in _BP_SINGLE.finditer(text) if 70 <= int(m.group(1)) <= 260]
    return found


def _temperature(m: re.Match[str]) -> tuple[float, str] | None:
    value = float(m.group(1) or m.group(2))
    if 93.0 <= value <= 110.0:  # Fahrenheit
        value = round((value - 32) * 5 / 9, 1)
    if not 34.0 <= value <= 43.5:
        return None
    return value, (m.group(1) or m.group(2)) + ("°" if m.group(1) else "")


def _glucose(m: re.Match[str]) -> tuple[float, str] | None:
    value = float(m.group(1) or m.group(3))
    if m.group(2) == "mg" or value > 40:
        value = round(value / 18.0, 1)
    if not 1.0 <= value <= 40.0:
        return None
    return value, m.group(0)[:_QUOTE_MAX]


# ---- evaluating floors ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Context:
    scoped: list[Scoped]
    facts: PatientFacts
    readings: Readings
    symptoms: bool


class CareFloors:
    """Compiled care floors. Build once per process (:func:`default_floors` caches the bundled file)."""

    def __init__(self, book: FloorBook) -> None:
        self.book = book
        self._facts = {name: _compile(p) for name, p in book.facts.items()}
        for floor_id, floor in book.floors.items():
            for cond in floor.when:
                self._validate(floor_id, cond)

    @classmethod
    def from_path(cls, path: str | Path = DEFAULT_FLOORS_PATH) -> CareFloors:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
            return cls(FloorBook.model_validate(data))
        except (OSError, yaml.YAMLError, ValueError) as exc:
            raise FloorsError(f"{path}: {exc}") from exc

    def _validate(self, floor_id: str, cond: Any) -> None:
        if isinstance(cond, str):
            kind, _, name = cond.partition(":")
            if cond in ("symptoms", "pregnant"):
                return
            if kind in ("fact", "not") and name in self._facts:
                return
            raise FloorsError(f"floor {floor_id}: unknown condition {cond!r}")
        if isinstance(cond, dict) and len(cond) == 1:
            key, value = next(iter(cond.items()))
            if key == "any" and isinstance(value, list):
                for sub in value:
                    self._validate(floor_id, sub)
                return
            if key in _NUMERIC:
                return
        raise FloorsError(f"floor {floor_id}: unknown condition {cond!r}")

    def evaluate(self, messages: Sequence[str], facts: PatientFacts,
                 symptoms: bool | None = None) -> list[FiredFloor]:
        """Every floor that holds for the patient's messages so far, most urgent first, redundant ones dropped.

        ``symptoms``: whether the messages report symptoms, when the caller already knows (the session reads each
        message once); None reads them here."""
        texts = [normalize(m) for m in messages if isinstance(m, str) and m.strip()]
        if not texts:
            return []
        if symptoms is None:
            symptoms = any(describes_symptoms(m) for m in messages if isinstance(m, str))
        ctx = _Context(
            scoped=[Scoped.of(t, normalized=True) for t in texts],
            facts=facts,
            readings=read_measurements(texts),
            symptoms=symptoms,
        )
        fired: list[FiredFloor] = []
        for floor_id, floor in self.book.floors.items():
            quote = self._holds(floor, ctx)
            if quote is not None:
                fired.append(FiredFloor(id=floor_id, level=floor.level, title=floor.title.model_dump(),
                                        reason=floor.reason.model_dump(), quote=quote))
        covered = {c for f in fired for c in self.book.floors[f.id].covers}
        return sorted((f for f in fired if f.id not in covered), key=lambda f: -f.level.rank)

    def _holds(self, floor: Floor, ctx: _Context) -> str | None:
        """The quote that states the floor's fact when every condition holds; None when one fails."""
        quotes: list[str] = []
        numeric = [c for c in floor.when if isinstance(c, dict) and next(iter(c)) in _MEASURES]
        if numeric:
            quote = next((q for c in numeric if (q := _measure(c, ctx.readings)) is not None), None)
            if quote is None:
                return None
            quotes.append(quote)
        for cond in floor.when:
            if cond in numeric:
                continue
            result = self._condition(cond, ctx)
            if result is None:
                return None
            if result:
                quotes.append(result)
        return quotes[0] if quotes else ""

    def _condition(self, cond: Any, ctx: _Context) -> str | None:
        """"" or the quoted words when the condition holds, None when it does not."""
        if cond == "symptoms":
            return "" if ctx.symptoms else None
        if cond == "pregnant":
            return "" if ctx.facts.pregnant is True else None
        if isinstance(cond, str):
            kind, _, name = cond.partition(":")
            found = self._find(name, ctx.scoped)
            if kind == "not":
                return None if found else ""
            return found or None
        key, value = next(iter(cond.items()))
        if key == "any":
            return next((r for sub in value if (r := self._condition(sub, ctx)) is not None), None)
        return "" if _age_ok(key, value, ctx.facts.age_years) else None

    def _find(self, fact: str, scoped: list[Scoped]) -> str:
        """The first unnegated words stating ``fact`` (latest message first), or ""."""
        en, zh = self._facts[fact]
        for item in reversed(scoped):
            for pattern in (en if _HAS_LATIN.search(item.text) else None, zh if _HAS_CJK.search(item.text) else None):
                if pattern is None:
                    continue
                for m in pattern.finditer(item.text):
                    if not item.is_negated(m.start(), m.end()):
                        return m.group(0).strip()[:_QUOTE_MAX]
        return ""


_MEASURES = ("bp_systolic_at_least", "bp_diastolic_at_least", "temp_at_least", "glucose_at_least", "glucose_below",
             "spo2_below")
_NUMERIC = (*_MEASURES, "age_under", "age_at_least", "age_under_or_at_least")


def _measure(cond: dict[str, Any], r: Readings) -> str | None:
    """The reading's words when it crosses the condition's threshold."""
    key, limit = next(iter(cond.items()))
    if key == "bp_systolic_at_least" and r.bp and r.bp[0] >= limit:
        return r.bp[2]
    if key == "bp_diastolic_at_least" and r.bp and r.bp[1] >= limit:
        return r.bp[2]
    if key == "temp_at_least" and r.temp_c and r.temp_c[0] >= limit:
        return r.temp_c[1]
    if key == "glucose_at_least" and r.glucose_high and r.glucose_high[0] >= limit:
        return r.glucose_high[1]
    if key == "glucose_below" and r.glucose_low and r.glucose_low[0] < limit:
        return r.glucose_low[1]
    if key == "spo2_below" and r.spo2 and r.spo2[0] < limit:
        return r.spo2[1]
    return None


def _age_ok(key: str, value: Any, age: float | None) -> bool:
    if age is None:
        return False
    if key == "age_under":
        return age < float(value)
    if key == "age_at_least":
        return age >= float(value)
    if key == "age_under_or_at_least":
        return age < float(value[0]) or age >= float(value[1])
    return False


def _compile(patterns: _Patterns) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
    def one(items: list[str]) -> re.Pattern[str] | None:
        return re.compile("|".join(f"(?:{p})" for p in items)) if items else None

    try:
        return one(patterns.en), one(patterns.zh)
    except re.error as exc:
        raise FloorsError(f"bad pattern: {exc}") from exc


FLOOR_RULE_PREFIX = "floor."


def with_emergency_floors(screen: ScreenResult, floors: Sequence[FiredFloor]) -> ScreenResult:
    """The screen result with every emergency-level floor added as a fired red flag.

    Why: a fever during chemotherapy or an oxygen saturation of 89% is an emergency stated as a fact rather than
    a sign; it must get the same treatment as a rule (escalation message first, no intake questions, no model
    needed), so it joins the screen's fired rules under the id ``floor.<id>``.
    """
    extra = [
        FiredRule(id=FLOOR_RULE_PREFIX + f.id, level=f.level, title=dict(f.title),
                  message={lang: f.reason_in(lang) for lang in f.reason}, matched=f.quote)
        for f in floors if f.level == TriageLevel.emergency
    ]
    if not extra:
        return screen
    result = screen.model_copy(update={"fired": sorted([*screen.fired, *extra], key=lambda f: -f.level.rank)})
    result.hits = result.hits_in(result.language)
    result.level = TriageLevel.highest(*(f.level for f in result.fired))
    return result


@lru_cache(maxsize=4)
def default_floors(path: str | None = None) -> CareFloors:
    """The bundled care floors, compiled once per process."""
    return CareFloors.from_path(path or DEFAULT_FLOORS_PATH)

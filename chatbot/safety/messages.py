"""The escalation message: what a patient reads first when a red flag fires, before any model output.

The wording is data (``texts/messages.yaml``) and the numbers come from the locale table, so a deployment in
another country changes a setting, not code. Self-harm hits get a supportive crisis message, never a bare order.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from chatbot.answer import TriageLevel
from chatbot.safety.locales import DEFAULT_LOCALES_PATH, Locale, LocaleTable, load_locales
from chatbot.safety.screen import ScreenResult

TEXTS_PATH = Path(__file__).with_name("texts") / "messages.yaml"
_POISON_HINTS = ("poison", "overdose", "ingest", "caustic", "battery", "chemical", "medicine", "dose")


@lru_cache(maxsize=1)
def _texts() -> dict[str, dict[str, str]]:
    return yaml.safe_load(TEXTS_PATH.read_text(encoding="utf-8"))


def texts_for(key: str) -> dict[str, str]:
    """One escalation text in every language (``{"en": ..., "zh": ...}``), for hits made outside the rulebook."""
    return {lang: texts[key] for lang, texts in _texts().items() if key in texts}


def banner_title(level: TriageLevel | str | None, lang: str) -> str:
    """The heading over an escalation: the emergency one only at emergency level, the urgent one below it (an
    escalation below emergency is written as an urgent one, see ``escalation_message``)."""
    texts = _texts().get(lang) or _texts()["en"]
    return texts["banner_emergency" if is_emergency(level) else "banner_urgent"]


def is_emergency(level: TriageLevel | str | None) -> bool:
    return level is not None and TriageLevel(level) == TriageLevel.emergency


@lru_cache(maxsize=4)
def _default_locales(path: str = str(DEFAULT_LOCALES_PATH)) -> LocaleTable:
    return load_locales(path)


def escalation_message(result: ScreenResult, lang: str, locale: str, locales: LocaleTable | None = None) -> str | None:
    """The text to show first, in the patient's language; None when no rule fired."""
    if not result.hits:
        return None
    lang = lang if lang in _texts() else "en"
    text, place = _texts()[lang], (locales or _default_locales()).get(locale)
    values = _values(place, lang)
    hits = result.hits_in(lang) if result.fired else result.hits
    poison = bool(place.poison) and any(hint in h.id for h in hits for hint in _POISON_HINTS)
    if result.crisis:
        # A crisis is always emergency level: the crisis text names the emergency number first, then the crisis line;
        # when something may already have been swallowed, the poison service is named too.
        lines = _crisis(text, place, values, [h.message for h in hits]).split("\n")
        if poison:
            lines.append(text["poison_line"].format(**values))
        return "\n".join(_dedupe(lines))
    lines = [h.message for h in hits]
    if result.level == TriageLevel.emergency:
        lines = [text["emergency_call"].format(**values), *lines, text["emergency_wait"]]
    else:
        service = text["urgent_service"] if place.urgent else text["urgent_no_service"]
        lines = [text["urgent"], *lines, service.format(**values), text["urgent_worse"].format(**values)]
    if poison:
        lines.append(text["poison_line"].format(**values))
    return "\n".join(_dedupe(lines))


def _crisis(text: dict[str, str], place: Locale, values: dict[str, str], rule_lines: list[str]) -> str:
    lines = [text["crisis"].format(**values)]
    if place.crisis:
        lines.append(text["crisis_line"].format(**values))
    lines += rule_lines
    lines.append(text["crisis_stay"])
    return "\n".join(_dedupe(lines))


def _values(place: Locale, lang: str) -> dict[str, str]:
    def note(service) -> str:
        return f" ({service.note.get(lang)})" if service and service.note else ""

    values = {"emergency": place.emergency_for(lang)}
    for key in ("crisis", "urgent", "poison"):
        service = getattr(place, key)
        values[f"{key}_name"] = service.name.get(lang) if service else ""
        values[f"{key}_number"] = service.number if service else ""
        values[f"{key}_note"] = note(service)
    return values


def _dedupe(lines: list[str]) -> list[str]:
    return list(dict.fromkeys(line for line in lines if line))

"""What the patient reads when a request is declined: a fixed, reviewed text in their language with their locale's
emergency, crisis and poison numbers filled in.

Why fixed texts and not the model: a refusal is a safety message, so its wording must be the same every time and
checked by a person (``texts/boundaries.yaml``); only the numbers change with the locale. When the locale table
cannot be read, the texts name no specific number rather than one we cannot vouch for.

:func:`check_boundaries` is the one entry point a turn uses: the kind comes from the patterns in
:mod:`chatbot.safety.boundaries`, then the harmful-request policy, then the wording here. It lives here, not beside
the patterns, so the dependency runs one way (refusals -> boundaries: the texts are checked against its kinds).
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path

import yaml

from chatbot.answer import Refusal
from chatbot.safety.boundaries import KINDS, classify
from chatbot.safety.harmful import CATEGORIES as HARMFUL_CATEGORIES
from chatbot.safety.harmful import HarmfulRequestFilter
from chatbot.safety.language import CJK
from chatbot.safety.locales import DEFAULT_LOCALES_PATH, Locale, LocalesError, LocaleTable, load_locales

log = logging.getLogger(__name__)

TEXTS_PATH = Path(__file__).with_name("texts") / "boundaries.yaml"


def check_boundaries(
    text: str, lang: str, locale: str, *, locales: LocaleTable | str | Path | None = None,
    harmful: HarmfulRequestFilter | None = None, saving: bool = False,
) -> Refusal | None:
    """A kind refusal in ``lang`` when the request must be declined, else None (the turn goes on).

    ``locale`` picks the emergency, crisis and poison numbers; ``locales`` overrides the table (tests, a custom
    settings file); by default ``knowledge/locales.yaml`` is read once. ``saving`` says whether transcripts or
    feedback are stored (the privacy answer must say so). ``harmful`` adds the harmful-request
    policy (fraud, covert treatment, discrimination ...) after the narrower boundary kinds (a request to prescribe
    or an injection keeps its own, more specific message; so does a request with no health content at all).
    """
    kind = classify(text)
    if kind is None and harmful is not None:
        verdict = harmful.verdict(text)
        if verdict is not None:
            key = f"harmful_{verdict.category}"
            return Refusal(kind="harmful", category=verdict.category,
                           message=refusal_message(key, lang, locale, locales=locales))
    if kind is None:
        return None
    # The truthful answer to "what do you store about me?" depends on whether the operator turned saving on.
    key = "privacy_question_saved" if kind == "privacy_question" and saving else kind
    return Refusal(kind=kind, message=refusal_message(key, lang, locale, locales=locales))


def refusal_message(kind: str, lang: str, locale: str, *, locales: LocaleTable | str | Path | None = None) -> str:
    """The patient-facing text for ``kind`` with the locale's numbers filled in."""
    lang = "zh" if lang == "zh" else "en"
    texts = _texts()
    entry = _locale(locale, locales)
    values = _locale_values(entry, lang, texts["parts"]) if entry else _generic_values(lang, texts["parts"])
    return _tidy(texts["messages"][kind][lang].format_map(values), lang)


# ---- texts and locale ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=4)
def _texts(path: Path = TEXTS_PATH) -> dict[str, dict[str, dict[str, str]]]:
    """The message table, checked once: every kind and part in both languages (a gap must fail loudly in tests)."""
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    for kind in (*KINDS, "privacy_question_saved", *(f"harmful_{c}" for c in HARMFUL_CATEGORIES)):
        missing = [lang for lang in ("en", "zh") if not data["messages"].get(kind, {}).get(lang)]
        if missing:
            raise ValueError(f"{path}: message {kind!r} missing {missing}")
    return data


@lru_cache(maxsize=8)
def _default_locales(path: str) -> LocaleTable | None:
    try:
        return load_locales(path)
    except LocalesError as exc:
        log.error("locales unavailable, refusals use generic numbers: %s", exc)
        return None


def _locale(code: str, locales: LocaleTable | str | Path | None) -> Locale | None:
    """The locale entry, or None when no table can be read (messages then name no specific number)."""
    if isinstance(locales, LocaleTable):
        table: LocaleTable | None = locales
    else:
        table = _default_locales(str(locales or DEFAULT_LOCALES_PATH))
    return table.get(code) if table is not None else None


def _locale_values(loc: Locale, lang: str, parts: dict[str, dict[str, str]]) -> dict[str, str]:
    """Placeholder values from one locale; absent services fall back to the next best number."""
    emergency = loc.emergency_for(lang)
    values = {"emergency": emergency, "emergency_line": parts["emergency_line"][lang].format(emergency=emergency)}
    if loc.crisis:
        note = parts["crisis_note"][lang].format(note=loc.crisis.note.get(lang)) if loc.crisis.note else ""
        values |= {"crisis_name": loc.crisis.name.get(lang), "crisis_number": loc.crisis.number, "crisis_note": note}
        values["crisis_line"] = parts["crisis_line"][lang].format_map(values)
    else:
        values |= {"crisis_name": parts["crisis_line_none"][lang], "crisis_number": emergency, "crisis_note": ""}
        values["crisis_line"] = parts["crisis_line_none"][lang]
    help_line = loc.poison or loc.urgent
    if help_line:
        values["poison_number"] = help_line.number
        name = help_line.name.get(lang)
        values["poison_line"] = parts["poison_line"][lang].format(name=name, number=help_line.number)
    else:
        values["poison_number"] = emergency
        values["poison_line"] = values["emergency_line"]
    return values


def _generic_values(lang: str, parts: dict[str, dict[str, str]]) -> dict[str, str]:
    """Placeholder values when the locale table is missing: no number we cannot vouch for."""
    emergency = "当地急救电话" if lang == "zh" else "your local emergency number"
    line = parts["emergency_line"][lang].format(emergency=emergency)
    none = parts["crisis_line_none"][lang]
    return {"emergency": emergency, "emergency_line": line, "crisis_line": none, "crisis_name": none,
            "crisis_number": emergency, "crisis_note": "", "poison_line": line, "poison_number": emergency}


_CJK_GAP = re.compile(rf"(?<=[{CJK}\u3000-\u303f\uff00-\uffef])\s+(?=[{CJK}\u3000-\u303f\uff00-\uffef])")


def _tidy(message: str, lang: str) -> str:
    """Collapse YAML line folding: spaces are words in English, noise between Chinese characters."""
    message = " ".join(message.split())
    return _CJK_GAP.sub("", message) if lang == "zh" else message

"""The page's fixed texts in each language, read once from ``texts.yaml`` (wording is data, not code)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

TEXTS_PATH = Path(__file__).with_name("texts.yaml")
DEFAULT_LANGUAGE = "en"


def _load() -> dict[str, dict[str, Any]]:
    """Load at import, so a broken texts file stops the server at start, not in front of a patient."""
    data = yaml.safe_load(TEXTS_PATH.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or DEFAULT_LANGUAGE not in data:
        raise ValueError(f"{TEXTS_PATH}: expected a mapping of languages that includes '{DEFAULT_LANGUAGE}'")
    return data


TEXTS: dict[str, dict[str, Any]] = _load()
# (label, value) pairs for the language switch, in file order: English first.
LANGUAGES: list[tuple[str, str]] = [(t["language_name"], lang) for lang, t in TEXTS.items()]


def texts(lang: str | None) -> dict[str, Any]:
    """The texts of one language; an unknown or missing language falls back to English."""
    return TEXTS.get(lang or DEFAULT_LANGUAGE, TEXTS[DEFAULT_LANGUAGE])

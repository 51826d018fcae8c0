"""What a patient waiting for the model is told, shared by the browser page and the HTTP API.

The wording is data, read once from ``waiting.yaml`` beside this module; it lives here, not with the page's texts,
so that the HTTP API does not depend on the browser page's modules.
"""

from __future__ import annotations

import math
from pathlib import Path

import yaml

WAITING_PATH = Path(__file__).with_name("waiting.yaml")
DEFAULT_LANGUAGE = "en"
KEYS = frozenset({"queue_wait", "queue_wait_unknown"})
LANGUAGES = ("en", "zh")  # the page's languages: each must say both


def _load(path: Path = WAITING_PATH) -> dict[str, dict[str, str]]:
    """Load at import, so a broken file stops the server at start, not in front of a waiting patient."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of languages")
    for lang in LANGUAGES:
        wording = data.get(lang)
        if not isinstance(wording, dict):
            raise ValueError(f"{path}: language '{lang}' is missing")
        missing = sorted(KEYS - {k for k, v in wording.items() if isinstance(v, str) and v.strip()})
        if missing:
            raise ValueError(f"{path}: language '{lang}' lacks {', '.join(missing)}")
    return data


WAITING_TEXTS: dict[str, dict[str, str]] = _load()


def queue_text(lang: str | None, position: int, estimate_s: float | None) -> str:
    """A turn waiting for the model, in the patient's language (an unknown or missing one falls back to English):
    their place in line and about how long (whole seconds, rounded up) or, before any answer has been timed, that
    the wait is not known yet."""
    t = WAITING_TEXTS.get(lang or DEFAULT_LANGUAGE, WAITING_TEXTS[DEFAULT_LANGUAGE])
    if estimate_s is None:
        return t["queue_wait_unknown"].format(position=position)
    return t["queue_wait"].format(position=position, seconds=max(1, math.ceil(estimate_s)))

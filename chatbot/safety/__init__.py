"""Safety and triage: the deterministic red-flag screen, patient facts, intake questions, boundaries (refusals),
escalation messages, and the combination of rules and model triage (rules can raise, never lower).

Pure Python over YAML data in ``knowledge/``: no model is imported here, so the screen runs in milliseconds
before any model work. Names are resolved lazily (PEP 562), so importing one submodule does not import them all.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "check_boundaries": "refusals",
    "sanitize_context": "context_sanitizer",
    "without_instructions": "context_sanitizer",
    "PatientFacts": "facts",
    "extract_facts": "facts",
    "describes_symptoms": "intake",
    "intake_questions": "intake",
    "detect_language": "language",
    "escalation_message": "messages",
    "RulebookError": "rulebook",
    "check_rulebook": "rulebook_check",
    "load_locales": "locales",
    "load_rulebook": "rulebook",
    "RedFlagScreen": "screen",
    "ScreenResult": "screen",
    "LEVELS": "triage",
    "LEVEL_TRIGGER": "triage",
    "MODEL_TRIAGE_SCHEMA": "triage",
    "ModelTriage": "triage",
    "combine_triage": "triage",
    "decide_level": "triage",
    "decided_by": "triage",
    "parse_model_triage": "triage",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'chatbot.safety' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"chatbot.safety.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__

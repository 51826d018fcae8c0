"""The per-country table of emergency, urgent-care, crisis and poison numbers (``knowledge/locales.yaml``).

One module for it, so every patient-facing text (escalations, refusals, the consistency check) reads the same
numbers and fails the same way when the file is broken.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError

from chatbot.safety.datafile import DataFileError, Localized, NonEmpty, Strict, format_validation, read_yaml

DEFAULT_LOCALES_PATH = Path(__file__).resolve().parents[2] / "knowledge" / "locales.yaml"


class LocalesError(DataFileError):
    """The locale file cannot be used; the message lists why."""


class Service(Strict):
    """A phone service: who to call, the number, and an optional note ("call or text")."""

    name: Localized
    number: NonEmpty
    note: Localized | None = None


class Locale(Strict):
    name: NonEmpty
    emergency: NonEmpty
    emergency_text: Localized | None = Field(None, description="used instead of the number when it is not a number")
    urgent: Service | None = None
    crisis: Service | None = None
    poison: Service | None = None

    def emergency_for(self, lang: str) -> str:
        """What to write after "call": the number, or a phrase when a locale has none."""
        return self.emergency_text.get(lang) if self.emergency_text else self.emergency


class LocaleTable(Strict):
    default: str = "default"
    aliases: dict[str, str] = Field(default_factory=dict)
    locales: dict[str, Locale]

    def get(self, code: str | None) -> Locale:
        """The locale for ``code`` (case-insensitive, aliases such as UK -> GB), else the generic fallback."""
        key = (code or "").strip().upper()
        key = self.aliases.get(key, key)
        return self.locales.get(key) or self.locales[self.default]



def load_locales(path: str | Path = DEFAULT_LOCALES_PATH) -> LocaleTable:
    """Read and validate the per-country emergency, urgent, crisis and poison numbers."""
    data = read_yaml(path, LocalesError)
    try:
        table = LocaleTable.model_validate(data)
    except ValidationError as exc:
        raise LocalesError(f"{path}: " + "; ".join(format_validation(exc))) from exc
    if table.default not in table.locales:
        raise LocalesError(f"{path}: default locale {table.default!r} is not defined")
    return table



"""Emergency signs in the patient's own words, read by the model as yes/no answers; the decision stays a rule.

Why: the red-flag rules recognise the wordings someone wrote down, and a patient's lay, hedged or misspelt wording
of an emergency can slip past every pattern, while the model's overall level is pulled down by the patient's own
minimising. A narrow question ("does the message say someone collapsed …?") is reading, which a small model does
far better than judging. Each probe's probability of "Yes" is read at the first token (one token per probe; the
message is evaluated once and shared through the KV cache) and compared with one cut-off fitted on the vignette
bank's dev split for the model it was fitted for. A sign read above it raises the level to the probe's level with
the probe's own reason, as a care floor does: it can raise, never lower, and it runs only when no rule already says
emergency. The questions and reasons are data (``knowledge/probes.yaml``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, ValidationError

from chatbot.answer import TriageLevel
from chatbot.safety.datafile import DataFileError, Localized, NonEmpty, Strict, format_validation, read_yaml
from chatbot.safety.floors import FiredFloor

PROBE_PREFIX = "probe."
ANSWERS = ("Yes", "No")
FIRST_TOKEN = re.compile(r"^")  # the probability is read at the very first token of the reply


class ProbesError(DataFileError):
    """The probe file cannot be used; the message says why."""


class ProbeSpec(Strict):
    id: NonEmpty
    question: NonEmpty
    level: TriageLevel
    title: Localized
    reason: Localized


class ProbeBook(Strict):
    system: NonEmpty
    probes: list[ProbeSpec] = Field(min_length=1)


@dataclass(frozen=True)
class ProbeReading:
    """Each probe's P(Yes) for one message (None: the backend could not read it), and the ones that fired."""

    probabilities: dict[str, float | None]
    fired: list[FiredFloor]


class Probes:
    """The probe set: builds each question's prompt and turns the answers' probabilities into raised floors."""

    def __init__(self, book: ProbeBook) -> None:
        ids = [p.id for p in book.probes]
        if len(ids) != len(set(ids)):
            raise ProbesError(f"probe ids must be unique: {ids}")
        self.book = book

    @classmethod
    def from_path(cls, path: str | Path) -> Probes:
        try:
            return cls(ProbeBook.model_validate(read_yaml(path, ProbesError)))
        except ValidationError as exc:
            raise ProbesError(f"{path}: " + "; ".join(format_validation(exc))) from exc

    @property
    def ids(self) -> list[str]:
        return [p.id for p in self.book.probes]

    def prompt(self, message: str, probe_id: str) -> list[dict[str, str]]:
        """System instruction, then the message and one question: every probe of a message shares all but the
        question, so llama.cpp evaluates the message once."""
        question = next(p.question for p in self.book.probes if p.id == probe_id)
        return [{"role": "system", "content": self.book.system},
                {"role": "user", "content": f'Message:\n"""\n{message}\n"""\n\nQuestion: {question}'}]

    def read(self, message: str, ask: Callable[[list[dict[str, str]]], float | None], cut: float,
             every: bool = False) -> ProbeReading:
        """Ask the probes about ``message`` in file order (``ask`` returns P(Yes), or None when it cannot be read)
        and fire those at or above ``cut``. Unless ``every`` (evaluations record them all), asking stops at the
        first that fires: one emergency sign decides the level, and each probe costs a forward pass."""
        probabilities: dict[str, float | None] = {}
        for probe in self.book.probes:
            probabilities[probe.id] = ask(self.prompt(message, probe.id))
            if not every and (probabilities[probe.id] or 0.0) >= cut:
                break
        return ProbeReading(probabilities, self.fired(probabilities, cut))

    def fired(self, probabilities: dict[str, float | None], cut: float, limit: int = 2) -> list[FiredFloor]:
        """The probes whose P(Yes) reached ``cut``, most probable first (at most ``limit``), as care floors."""
        above = sorted(((p, probabilities.get(p.id)) for p in self.book.probes), key=lambda x: -(x[1] or 0.0))
        return [_floor(spec) for spec, prob in above if prob is not None and prob >= cut][:limit]


def _floor(spec: ProbeSpec) -> FiredFloor:
    return FiredFloor(id=PROBE_PREFIX + spec.id, level=spec.level, title={"en": spec.title.en, "zh": spec.title.zh},
                      reason={"en": spec.reason.en, "zh": spec.reason.zh})

"""What one turn knows before any model work, computed once and passed down.

The full turn (``Engine.stream``) and the one-shot triage (``Engine.triage_only``) open a turn the same way:
clean the message, note its language, add it to the session (read once for whether it reports symptoms), run the
deterministic layer over the whole conversation (red-flag rules, the self-harm classifier, care floors; the facts
they read become the session's facts) and word the escalation. Every later step reads this context instead of
extracting facts, screening or asking "does this describe symptoms?" again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from chatbot.answer import ModelInfo, Timings, TriageLevel
from chatbot.safety import ScreenResult
from chatbot.safety.floors import FiredFloor


@dataclass
class TurnContext:
    """The deterministic facts of one turn. ``screen`` already includes emergency-level care floors."""

    text: str
    lang: str
    screen: ScreenResult
    floors: list[FiredFloor]
    reports_symptoms: bool  # this message reports the patient's own symptoms (intake may ask about them)
    personal: bool  # some message in the conversation does (a personal badge is due)
    escalation: str | None
    started: float = field(default_factory=time.perf_counter)
    probes: dict[str, float | None] | None = None  # the model's yes/no readings, once read (chatbot.safety.probes)
    pinned: list[int] = field(default_factory=list)  # retrieved source numbers the badge cites, shown as [1..p]
    timings: Timings = field(default_factory=Timings)

    @property
    def decided(self) -> tuple[ScreenResult, list[FiredFloor]]:
        return self.screen, self.floors

    @property
    def level_so_far(self) -> TriageLevel | None:
        """Rules and care floors: the level before the model, which can only raise it."""
        return TriageLevel.highest(self.screen.level, *(f.level for f in self.floors))

    def answer_fields(self, session_id: str, model: ModelInfo) -> dict[str, Any]:
        """The fields every reply of this turn carries, whatever its kind."""
        return {
            "language": self.lang,
            "escalation": self.escalation,
            "timings": self.timings,
            "model": model,
            "session_id": session_id,
        }

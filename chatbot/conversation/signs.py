"""The model's yes/no readings of emergency signs for one conversation (chatbot.safety.probes holds the questions
and the rule that turns a reading into a floor; this module asks the model).

Why a room of its own: the engine decides *when* the signs are read in a turn (before intake, on refusals, before
the level) and what follows (floors, escalation); how a conversation becomes probe prompts that fit the context
window, and how one P(Yes) is read from a backend, is a separate job with its own tests.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from chatbot.config import Settings
from chatbot.generation import ChatLLM, Choice, GenerationError
from chatbot.safety.floors import FiredFloor
from chatbot.safety.probes import ANSWERS, FIRST_TOKEN, ProbeReading, Probes

log = logging.getLogger(__name__)


class SignReader:
    """Reads the probes about a conversation with the configured model, when the settings allow it."""

    def __init__(self, settings: Settings, probes: Probes, llm: Callable[[], ChatLLM],
                 view: Callable[[str], str]) -> None:
        self.settings = settings
        self.probes = probes
        self._llm = llm  # looked up per call: the engine creates (or a test replaces) its model lazily
        self._view = view  # the model's view of a patient message (no verdicts, no lines addressed to it)

    @property
    def on(self) -> bool:
        """Enabled, and the configured model is the one the cut-off was fitted for (as for the level thresholds)."""
        return self.settings.triage.probes.enabled and self.settings.model_is_calibrated

    def read(self, messages: Sequence[str], every: bool = False) -> ProbeReading:
        """Ask the probes about the patient's ``messages`` (see :meth:`Probes.read`)."""
        return self.probes.read(self.text(messages), self._yes, self.settings.triage.probes.cut, every=every)

    def fired(self, probabilities: dict[str, float | None]) -> list[FiredFloor]:
        """The signs recorded readings fire under the current settings (none when reading is off)."""
        return self.probes.fired(probabilities, self.settings.triage.probes.cut) if self.on else []

    def text(self, messages: Sequence[str]) -> str:
        """The messages as the probes read them, the oldest left out first until the longest probe prompt fits the
        context window; one message over the window keeps its end (what the patient said last)."""
        llm = self._llm()
        views = [self._view(m) for m in messages]
        longest = max(self.probes.ids, key=lambda i: len(self.probes.prompt("", i)[-1]["content"]))
        budget = llm.n_ctx - 8  # one token is generated

        def fits(text: str) -> bool:
            return llm.count_tokens(self.probes.prompt(text, longest)) <= budget

        while len(views) > 1 and not fits(" ".join(views)):
            views = views[1:]
        text = " ".join(views)
        while text and not fits(text):
            text = text[len(text) // 5:]
        return text

    def _yes(self, prompt: list[dict[str, str]]) -> float | None:
        """The model's P(Yes) for one probe prompt; None when it fails or cannot be read (no reading, no floor)."""
        choice = Choice(FIRST_TOKEN, ANSWERS, lambda probs: max(probs, key=probs.__getitem__))
        try:
            self._llm().choose(prompt, choice)
        except GenerationError as exc:
            log.warning("probe failed: %s", exc)
            return None
        return choice.probabilities.get("Yes")  # empty when the backend could not read it

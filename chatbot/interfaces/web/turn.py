"""How one turn's engine events become page updates while they arrive (the chat bubble, badge and banner).

The patient sees two steps: "checking how urgent this is" from the message until the level is decided (the
``triage`` event, or the ``generating`` status when a general question gets no personal level), then "writing the
answer" while tokens stream under the badge. The escalation banner is shown on the first event of a red-flag turn,
before any model output, and then follows the decided level; tokens are redrawn at most every STREAM_EVERY_S.
While other patients' turns hold the model, the step's small print says so: the place in line and about how long
(``queue`` events), until this turn's own model work starts.
"""

from __future__ import annotations

import time
from typing import Any

from chatbot.answer import Answer
from chatbot.conversation import Event
from chatbot.interfaces.waiting import queue_text
from chatbot.interfaces.web.render import (
    assistant_message,
    badge_html,
    banner_html,
    error_message,
    stopped_message,
    working_message,
)
from chatbot.interfaces.web.texts import TEXTS, texts

STREAM_EVERY_S = 0.05  # at most ~20 redraws a second while tokens arrive
CHECKING, WRITING = "checking", "generating"  # the steps, named as texts.yaml names their labels


class TurnView:
    """The page's view of one turn in progress; ``history[-1]`` is the assistant's bubble."""

    def __init__(self, lang: str, history: list[dict[str, Any]]):
        self.lang = lang
        self.t = texts(lang)
        self.history = history
        self.body = ""
        self.badge = ""  # the decided level, shown above the answer as soon as it exists
        self.step = CHECKING
        self.detail = ""  # what the current step is doing (looking up sources), in smaller print
        self.last_redraw = 0.0
        self.banner: str | None = None
        self.banner_level: str | None = None

    def start(self) -> list[dict[str, Any]]:
        """The chat as the turn begins: the patient's message and the assistant checking how urgent it is."""
        self._redraw()
        return list(self.history)

    def apply(self, event: Event) -> dict[str, Any] | None:
        """The page update for one event before the answer (None: nothing to redraw yet)."""
        handler = getattr(self, f"_on_{event.type}", None)
        return handler(event) if handler is not None else None

    def _redraw(self) -> dict[str, Any]:
        self.history[-1] = working_message(self.step, self.t[self.step], self.badge, self.body, self.detail)
        return {"chat": list(self.history)}

    def _on_escalation(self, event: Event) -> dict[str, Any]:
        self.banner, self.banner_level = event.text, event.data.get("level")
        return {"banner": banner_html(self.banner, self.lang, self.banner_level), **self._redraw()}

    def _on_triage(self, event: Event) -> dict[str, Any]:
        triage = event.data["triage"]
        self.badge = badge_html(triage, self.lang)
        self.step, self.detail = WRITING, ""
        update = self._redraw()
        if self.banner and triage.level.value != self.banner_level:
            self.banner_level = triage.level.value
            update["banner"] = banner_html(self.banner, self.lang, self.banner_level)
        return update

    def _on_status(self, event: Event) -> dict[str, Any] | None:
        if event.text == WRITING:
            self.step, self.detail = WRITING, ""
        elif self.step == CHECKING and event.text in self.t:
            self.detail = self.t[event.text]  # e.g. looking up sources, while the level is still being decided
        else:
            return None
        return self._redraw()

    def _on_queue(self, event: Event) -> dict[str, Any]:
        """In line for the model behind other patients (position 0: this turn's model work starts now)."""
        position = event.data.get("position", 0)
        self.detail = queue_text(self.lang, position, event.data.get("estimate_s")) if position else ""
        return self._redraw()

    def _on_replace(self, event: Event) -> None:  # corrected to match the decided level
        self.body = event.text

    def _on_token(self, event: Event) -> dict[str, Any] | None:
        self.body += event.text
        self.step, self.detail = WRITING, ""
        now = time.monotonic()
        if now - self.last_redraw < STREAM_EVERY_S:
            return None
        self.last_redraw = now
        return self._redraw()

    def finish(self, answer: Answer) -> None:
        """The final bubble; a reply in another language switches the page to it; the banner keeps its level."""
        if answer.language in TEXTS and answer.language != self.lang:
            self.lang = answer.language
        self.history[-1] = assistant_message(answer, self.lang)
        if answer.escalation:
            self.banner = answer.escalation
            self.banner_level = answer.triage.level.value if answer.triage else self.banner_level

    def stop(self) -> None:
        """The patient pressed Stop: what was written stays, under its badge, marked as incomplete."""
        self.history[-1] = stopped_message(self.body, self.badge, self.t["stopped"])

    def fail(self) -> None:
        self.history[-1] = error_message(self.t["error"])

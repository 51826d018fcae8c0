"""How one turn's engine events become page updates while they arrive (the chat bubble, badge and banner).

The escalation banner is shown on the first event of a red-flag turn, before any model output, and then follows
the decided level (the rules' level first, the final one later); tokens are redrawn at most every STREAM_EVERY_S.
"""

from __future__ import annotations

import time
from typing import Any

from chatbot.answer import Answer
from chatbot.conversation import Event
from chatbot.interfaces.web.render import assistant_message, badge_html, banner_html, pending_message, streaming_message
from chatbot.interfaces.web.texts import TEXTS, texts

STREAM_EVERY_S = 0.05  # at most ~20 redraws a second while tokens arrive


class TurnView:
    """The page's view of one turn in progress; ``history[-1]`` is the assistant's bubble."""

    def __init__(self, lang: str, history: list[dict[str, Any]]):
        self.lang = lang
        self.t = texts(lang)
        self.history = history
        self.body = ""
        self.badge = ""  # the decided level, shown above the answer as soon as it exists
        self.last_redraw = 0.0
        self.banner: str | None = None
        self.banner_level: str | None = None

    def apply(self, event: Event) -> dict[str, Any] | None:
        """The page update for one event before the answer (None: nothing to redraw yet)."""
        handler = getattr(self, f"_on_{event.type}", None)
        return handler(event) if handler is not None else None

    def _on_escalation(self, event: Event) -> dict[str, Any]:
        self.banner, self.banner_level = event.text, event.data.get("level")
        self.history[-1] = pending_message(self.t["generating"] if self.body else self.t["waiting"], self.badge)
        return {"banner": banner_html(self.banner, self.lang, self.banner_level), "chat": list(self.history)}

    def _on_triage(self, event: Event) -> dict[str, Any]:
        triage = event.data["triage"]
        self.badge = badge_html(triage, self.lang)
        self.history[-1] = pending_message(self.t["generating"], self.badge)
        update: dict[str, Any] = {"chat": list(self.history)}
        if self.banner and triage.level.value != self.banner_level:
            self.banner_level = triage.level.value
            update["banner"] = banner_html(self.banner, self.lang, self.banner_level)
        return update

    def _on_status(self, event: Event) -> dict[str, Any]:
        self.history[-1] = pending_message(self.t.get(event.text, self.t["waiting"]), self.badge)
        return {"chat": list(self.history)}

    def _on_replace(self, event: Event) -> None:  # corrected to match the decided level
        self.body = event.text

    def _on_token(self, event: Event) -> dict[str, Any] | None:
        self.body += event.text
        now = time.monotonic()
        if now - self.last_redraw < STREAM_EVERY_S:
            return None
        self.last_redraw = now
        self.history[-1] = streaming_message(self.body, self.badge)
        return {"chat": list(self.history)}

    def finish(self, answer: Answer) -> None:
        """The final bubble; a reply in another language switches the page to it; the banner keeps its level."""
        if answer.language in TEXTS and answer.language != self.lang:
            self.lang = answer.language
        self.history[-1] = assistant_message(answer, self.lang)
        if answer.escalation:
            self.banner = answer.escalation
            self.banner_level = answer.triage.level.value if answer.triage else self.banner_level

    def fail(self) -> None:
        self.history[-1] = {"role": "assistant", "content": self.t["error"]}

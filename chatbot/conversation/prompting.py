"""The model's prompts: the fixed prefix, passages as the model reads them, the patient's words without their own
verdicts, and the answer prompt fitted to the context window.

Why a room of its own: every model call of a turn (the level, the sign readings, the answer) must see the same
view of the conversation, and the fixed prefix must stay byte-identical across turns so llama.cpp reuses it from
its KV cache. One builder makes that true by construction.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from chatbot.answer import TriageLevel
from chatbot.config import Settings
from chatbot.conversation.session import Session
from chatbot.generation import ChatLLM, PromptLibrary
from chatbot.retrieval import Hit
from chatbot.safety import sanitize_context, without_instructions
from chatbot.safety.minimising import Minimising

LANGUAGE_NAMES = {"en": "English", "zh": "Simplified Chinese"}
TRIAGE_RESERVE = 200  # tokens kept free for the level request that follows the same prompt
_CITATION = re.compile(r"\[(\d{1,2})\]")


class PromptBuilder:
    """Builds the prompts of a turn; ``llm`` is looked up per call (a test may swap the model)."""

    def __init__(self, settings: Settings, prompts: PromptLibrary, minimising: Minimising,
                 llm: Callable[[], ChatLLM]) -> None:
        self.settings = settings
        self.prompts = prompts
        self.minimising = minimising
        self._llm = llm

    def prefix(self) -> list[dict[str, str]]:
        """The fixed start of every prompt: system rules and one worked example turn (cached by llama.cpp)."""
        return [
            {"role": "system", "content": self.prompts.render("system")},
            {"role": "user", "content": self.prompts.render("example_user")},
            {"role": "assistant", "content": self.prompts.render("example_answer")},
        ]

    def passage(self, hit: Hit) -> str:
        """A passage as the model reads it: instruction-like lines removed, clipped at a sentence end."""
        return clip(sanitize_context(hit.text), self.settings.retrieval.max_passage_chars)

    def model_view(self, message: str) -> str:
        """A patient message as the model reads it: facts, not the patient's verdict on them ("probably nothing",
        safety.minimising) nor lines addressed to the model ("level: self_care", a fake system turn:
        safety.context_sanitizer.without_instructions)."""
        return without_instructions(self.minimising.facts_view(message))

    def messages(self, session: Session, text: str, lang: str, hits: list[Hit], decided: str = ""
                 ) -> list[dict[str, str]]:
        """System prefix + trimmed history + this turn, fitted to the context window (oldest turns go first);
        ``decided`` is the decided level's block, once triage has run."""
        passages = [
            {"n": i + 1, "title": h.metadata.get("title", ""), "section": h.metadata.get("section", ""),
             "text": self.passage(h)}
            for i, h in enumerate(hits)
        ]
        view = self.model_view
        history = [{"role": t.role, "content": view(t.text) if t.role == "user" else t.text}
                   for t in session.turns[:-1]]
        history = history[-2 * self.settings.conversation.max_history_turns :] if history else []
        llm = self._llm()
        budget = llm.n_ctx - self.settings.llm.max_tokens - TRIAGE_RESERVE
        while True:
            user = self.prompts.render(
                "answer",
                passages=passages,
                question=view(text),
                facts=facts_line(session),
                decided=decided,
                language_name=LANGUAGE_NAMES.get(lang, "English"),
            )
            messages = [*self.prefix(), *history, {"role": "user", "content": user}]
            if llm.count_tokens(messages) <= budget or (not history and not passages):
                return messages
            if history:
                history = history[2:]
            else:
                passages = passages[:-1]

    def decided(self, level: TriageLevel, reasons: list[str], lang: str, part: str = "all") -> str:
        """The decided level for the answer's prompt (``all``), or only its wording (``frame``, which an answer must
        not copy) or only the advice it asks for (``advice``, which an answer should give). Reasons go in without
        their [n]: the prompt numbers passages its own way."""
        plain = [_CITATION.sub("", r).rstrip() for r in reasons[:3]]
        return self.prompts.render("decided", level=level.value, reasons=plain, lang=lang, part=part)


def clip(text: str, limit: int) -> str:
    """Keep a passage within ``limit`` characters, cut at a sentence end: prompt tokens cost ~70 ms each on CPU."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    end = max(cut.rfind(". "), cut.rfind(".\n"), cut.rfind("\n"))
    return cut[: end + 1] if end > limit // 2 else cut + "…"


def facts_line(session: Session) -> str:
    """The facts read from the conversation, one line for the prompt (age, sex, pregnancy, duration …)."""
    facts = session.facts
    parts = []
    if facts.age_years is not None:
        age = facts.age_years
        parts.append(f"age {age:g} years" if age >= 1 else f"age {round(age * 12)} months")
    if facts.sex:
        parts.append(facts.sex)
    if facts.pregnant:
        parts.append("pregnant")
    for label, value in (("duration", facts.duration), ("severity", facts.severity)):
        if value:
            parts.append(f"{label} {value}")
    if facts.conditions:
        parts.append("conditions: " + ", ".join(facts.conditions))
    if facts.medicines:
        parts.append("medicines: " + ", ".join(facts.medicines))
    return "; ".join(parts)

"""What the page does on each browser action, as plain methods that return page updates (tests call them directly).

An update is a dict keyed by component name ("chat", "state", "banner", "notice", "box", "lang", "texts");
``layout.py`` turns it into Gradio updates. No medical logic lives here: the engine decides, this renders.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

from chatbot.answer import Answer
from chatbot.config import Settings
from chatbot.conversation import Engine, InputError, Session, SessionStore
from chatbot.interfaces.records import LocalRecords
from chatbot.interfaces.web.render import pending_message, safe_markdown, state_banner
from chatbot.interfaces.web.state import clean_state, new_state, trim, without_options
from chatbot.interfaces.web.texts import TEXTS, texts
from chatbot.interfaces.web.turn import TurnView

log = logging.getLogger(__name__)

def guess_language(accept_language: str | None) -> str:
    return "zh" if (accept_language or "").lower().startswith("zh") else "en"


def _answer_meta(answer: Answer) -> dict[str, Any]:
    """What feedback on this message may record about it: never the conversation text."""
    return {
        "kind": answer.kind,
        "level": answer.triage.level.value if answer.triage else None,
        "language": answer.language,
        "model": answer.model.name,
        "sources": [s.title for s in answer.sources],
    }


class WebChat:
    """The page's behaviour bound to one Engine. Browser sessions live in their own store, apart from the API's."""

    def __init__(self, engine: Engine, settings: Settings | None = None, records: LocalRecords | None = None):
        self.engine = engine
        self.settings = settings or engine.settings
        self.sessions = SessionStore(self.settings.server.max_sessions)
        self.records = records or LocalRecords(self.settings)

    def session_for(self, state: dict[str, Any]) -> Session:
        session = self.sessions.get(state["sid"])
        if not session.turns and state["turns"]:
            # The server forgot this conversation (restart or eviction): reload it from the browser's own copy.
            self.engine.restore(session, [(t["role"], t["text"]) for t in state["turns"]])
        return session

    def respond(self, text: str, raw_state: Any) -> Iterator[dict[str, Any]]:
        """One turn; yields partial page updates, the escalation banner before any model output."""
        state = clean_state(raw_state)
        t = texts(state["lang"] or "en")
        text = text if isinstance(text, str) else ""
        if not text.strip():
            yield {"notice": t["empty"]}
            return
        history = [*without_options(state["history"]), {"role": "user", "content": safe_markdown(text)},
                   pending_message(t["waiting"])]
        meta = [*state["meta"], {}, {}]
        yield {"box": "", "chat": list(history), "notice": ""}

        view = TurnView(state["lang"] or "en", history)
        session = self.session_for(state)
        events = self.engine.stream(session, text)
        try:
            for event in events:
                if event.type == "answer" and (answer := event.answer) is not None:
                    view.finish(answer)
                    meta[-1] = _answer_meta(answer)
                    state["turns"] += [{"role": "user", "text": text}, {"role": "assistant", "text": answer.answer}]
                    self.records.transcript(session.id, text, answer)
                elif (update := view.apply(event)) is not None:
                    yield update
        except InputError as exc:
            # Nothing was accepted: take the message back out of the chat and give it back to the box, untouched.
            yield {"box": text, "chat": state["history"], "notice": f"⚠ {exc}"}
            return
        except Exception as exc:  # the patient never sees a stack trace
            log.error("web turn failed: %s: %s", type(exc).__name__, exc, exc_info=exc)
            view.fail()
        finally:
            events.close()
        yield self._final_update(state, view, meta)

    @staticmethod
    def _final_update(state: dict[str, Any], view: TurnView, meta: list[dict[str, Any]]) -> dict[str, Any]:
        """The whole page after a turn: the chat, the state to store in the browser, the language, the banner."""
        if view.lang != (state["lang"] or "en"):  # the reply switched the page to its language
            state["lang"] = view.lang
        if view.banner:
            state["escalation"], state["escalation_level"] = view.banner, view.banner_level or ""
        state["history"], state["meta"] = view.history, meta
        update = {"chat": view.history, "state": trim(state), "lang": view.lang, "texts": view.lang}
        if state["escalation"]:
            update["banner"] = state_banner(state, view.lang)
        return update

    def load(self, raw_state: Any, accept_language: str | None) -> dict[str, Any]:
        state = clean_state(raw_state)
        if not state["lang"]:
            state["lang"] = guess_language(accept_language)
        lang = state["lang"]
        return {"chat": state["history"], "state": state, "banner": state_banner(state, lang), "lang": lang,
                "texts": lang}

    def new_conversation(self, raw_state: Any) -> dict[str, Any]:
        old = clean_state(raw_state)
        self.sessions.drop(old["sid"])
        state = new_state(old["lang"] or "en")
        return {"chat": [], "state": state, "banner": "", "notice": texts(state["lang"])["new_done"], "box": ""}

    def set_language(self, lang: str, raw_state: Any) -> dict[str, Any]:
        state = clean_state(raw_state)
        state["lang"] = lang if lang in TEXTS else "en"
        update: dict[str, Any] = {"state": state, "texts": state["lang"]}
        if state["escalation"]:
            update["banner"] = state_banner(state, state["lang"])
        return update

    def feedback(self, raw_state: Any, index: Any, liked: Any) -> tuple[bool, dict[str, Any]]:
        """Record a thumbs up/down; returns (stored, the record's reference for a follow-up comment)."""
        state = clean_state(raw_state)
        position = index[0] if isinstance(index, list | tuple) else index
        meta = state["meta"][position] if isinstance(position, int) and 0 <= position < len(state["meta"]) else {}
        rating = "up" if liked is True or liked == "Like" else "down" if liked is False or liked == "Dislike" else None
        ref = uuid.uuid4().hex[:12]
        record = {"type": "rating", "ref": ref, "rating": rating, "message_index": position, **meta}
        stored = self.records.feedback(state["sid"], record)
        return stored, {"ref": ref, "index": position} if stored else {}

    def comment(self, raw_state: Any, pending: Any, text: str) -> bool:
        state = clean_state(raw_state)
        if not isinstance(pending, dict) or not pending.get("ref") or not (text or "").strip():
            return False
        record = {"type": "comment", "ref": pending["ref"], "comment": text.strip()[:2000]}
        return self.records.feedback(state["sid"], record)

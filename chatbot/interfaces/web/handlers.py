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
from chatbot.conversation import Engine, Event, InputError, Session, SessionStore
from chatbot.interfaces.records import LocalRecords
from chatbot.interfaces.web.render import safe_markdown, state_banner
from chatbot.interfaces.web.running import RunningTurn, RunningTurns
from chatbot.interfaces.web.state import clean_state, new_state, trim, without_options
from chatbot.interfaces.web.texts import TEXTS, texts
from chatbot.interfaces.web.turn import TurnView
from chatbot.safety import detect_language

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
        self.running = RunningTurns(self.settings.server.max_sessions)

    def session_for(self, state: dict[str, Any]) -> Session:
        session = self.sessions.get(state["sid"])
        if not session.turns and state["turns"]:
            # The server forgot this conversation (restart or eviction): reload it from the browser's own copy.
            self.engine.restore(session, [(t["role"], t["text"]) for t in state["turns"]])
        return session

    def respond(self, text: str, raw_state: Any) -> Iterator[dict[str, Any]]:
        """One turn; yields partial page updates, the escalation banner before any model output.

        The first update shows the message and the first step, locks the page ("running": Send off, Stop on) and
        keeps the turn's id in the state for Stop and ``settle``. A stopped turn yields nothing more. Only
        ``settle`` unlocks the page: until it has read this turn's id, no other turn can start and replace it.
        """
        state = clean_state(raw_state)
        lang = state["lang"] or "en"
        text = text if isinstance(text, str) else ""
        if not text.strip():
            yield {"notice": texts(lang)["empty"]}
            return
        history = [*without_options(state["history"]), {"role": "user", "content": safe_markdown(text)}, {}]
        # the steps speak the message's language, as the answer will (and the page follows it at the end)
        view = TurnView(detect_language(text), history)
        turn = self.running.add(RunningTurn(text, state, view, [*state["meta"], {}, {}]))
        state["turn"] = turn.id
        yield {"box": "", "chat": turn.view.start(), "notice": "", "state": dict(state), "running": True}
        yield from self._run(turn)

    def _run(self, turn: RunningTurn) -> Iterator[dict[str, Any]]:
        session = self.session_for(turn.state)
        events = turn.events = self.engine.stream(session, turn.text)
        try:
            for event in events:
                with turn.lock:
                    if not turn.running:
                        return  # stopped: Stop drew the page; closing the stream (finally) stops the model
                    update = self._apply(turn, event)
                if event.type == "answer" and event.answer is not None:
                    self.records.transcript(session.id, turn.text, event.answer)
                if update is not None:
                    yield update
        except InputError as exc:
            # Nothing was accepted: take the message back out of the chat and give it back to the box, untouched.
            if turn.end("refused"):
                yield {"box": turn.text, "chat": turn.state["history"], "notice": f"⚠ {exc}"}
            return
        except GeneratorExit:  # Gradio cancelled the event (Stop), or the browser went away
            turn.end("stopped")
            raise
        except Exception as exc:  # the patient never sees a stack trace
            if turn.running:  # (a stream that Stop closed under the loop is no failure)
                log.error("web turn failed: %s: %s", type(exc).__name__, exc, exc_info=exc)
        finally:
            events.close()  # a turn cut short ends the engine's stream here: the model stops, the session is free
        with turn.lock:
            if turn.end("failed"):  # an exception, or a stream that ended without its answer
                turn.view.fail()
            if turn.outcome == "stopped":
                return
        yield self._final_update(turn.state, turn.view, turn.meta)

    @staticmethod
    def _apply(turn: RunningTurn, event: Event) -> dict[str, Any] | None:
        """One engine event on the page (called under the turn's lock, so Stop sees the view between events)."""
        answer = event.answer
        if event.type != "answer" or answer is None:
            return turn.view.apply(event)
        turn.end("done")
        turn.view.finish(answer)
        turn.meta[-1] = _answer_meta(answer)
        user, reply = {"role": "user", "text": turn.text}, {"role": "assistant", "text": answer.answer}
        turn.state["turns"] = [*turn.state["turns"], user, reply]
        return None

    def stop(self, raw_state: Any) -> bool:
        """Stop the page's running turn (False: none was running, or it had just ended on its own).

        The Stop button also cancels the turn's Gradio event, which closes its generator and with it the engine's
        stream (llama.cpp stops, the session lock is released); stopping the turn here closes that stream at once
        as well, or at its next event should it be busy (deciding the level, say). The page is drawn by ``settle``,
        which Gradio runs once the cancelled event is over, so no late update of the turn can cover it."""
        turn = self.running.get(clean_state(raw_state)["turn"])
        return turn is not None and turn.stop()

    def settle(self, box: Any, raw_state: Any) -> dict[str, Any]:
        """After a turn's event ended, however it ended: unlock the page; draw a cancelled turn as stopped (a
        cancelled event sends nothing more); give a failed message back to the box if the box is empty."""
        turn = self.running.pop(clean_state(raw_state)["turn"])
        update: dict[str, Any] = {"running": False}
        if turn is None:
            return update
        turn.stop()  # still running when its event is over: the page cancelled it
        if turn.outcome == "stopped":
            update.update(self._stopped_page(turn))
        elif turn.outcome == "failed" and not (isinstance(box, str) and box.strip()):
            update["box"] = turn.text
        return update

    def _stopped_page(self, turn: RunningTurn) -> dict[str, Any]:
        """The page after a stop: what was written stays, under its badge and banner, marked as incomplete."""
        with turn.lock:
            if turn.final is None:
                turn.view.stop()
                # the engine kept the message (it is part of the conversation now), not the unfinished reply
                turn.state["turns"] = [*turn.state["turns"], {"role": "user", "text": turn.text}]
                turn.final = self._final_update(turn.state, turn.view, turn.meta)
            return turn.final

    @staticmethod
    def _final_update(state: dict[str, Any], view: TurnView, meta: list[dict[str, Any]]) -> dict[str, Any]:
        """The whole page after a turn: the chat, the state to store in the browser, the language, the banner."""
        if view.lang != (state["lang"] or "en"):  # the reply switched the page to its language
            state["lang"] = view.lang
        if view.banner:
            state["escalation"], state["escalation_level"] = view.banner, view.banner_level or ""
        state["history"], state["meta"] = list(view.history), list(meta)
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

    def feedback(self, raw_state: Any, index: Any, liked: Any) -> tuple[bool | None, dict[str, Any]]:
        """Record a thumbs up/down; returns (stored, the record's reference for a follow-up comment).

        Only a finished reply can be rated (stored is None otherwise): the page hides the buttons on a reply that
        is being written, was stopped or failed, and a rating sent anyway is not kept."""
        state = clean_state(raw_state)
        position = index[0] if isinstance(index, list | tuple) else index
        meta = state["meta"][position] if isinstance(position, int) and 0 <= position < len(state["meta"]) else {}
        if not meta.get("kind"):
            return None, {}
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

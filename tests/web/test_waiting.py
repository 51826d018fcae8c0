"""Waiting in the browser, without a browser: the steps a turn shows, Stop, the page's lock, feedback on finished
replies only, and the engine side of a stopped turn (its stream closed, the model stopped, the session free)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import gradio as gr
import pytest

from chatbot.conversation import Session
from chatbot.generation import FakeLLM
from chatbot.interfaces.web import turn as turn_view
from chatbot.interfaces.web.handlers import WebChat
from chatbot.interfaces.web.layout import _components
from chatbot.interfaces.web.texts import TEXTS

EMERGENCY = "crushing chest pain spreading to my left arm and I'm sweating"
SYMPTOM = "My sore throat hurts when I swallow, what can I do at home?"  # personal: the level is decided first


class CountingLLM(FakeLLM):
    """The fake model, counting the words it produced and whether its stream was closed (as llama.cpp's is)."""

    def __init__(self):
        super().__init__()
        self.words = 0
        self.closed = False
        self.produced = ""

    def stream(self, messages, max_tokens, deadline=None):
        try:
            for piece in super().stream(messages, max_tokens, deadline):
                self.words += 1
                self.produced += piece
                yield piece
        finally:
            self.closed = True


@pytest.fixture
def llm(engine):
    engine._llm = CountingLLM()
    return engine._llm


@pytest.fixture
def page(engine, llm, monkeypatch):
    monkeypatch.setattr(turn_view, "STREAM_EVERY_S", 0.0)  # show every token, to see the stream
    return WebChat(engine)


def _until_text(updates) -> list[dict]:
    """Updates of a running turn up to the first one that shows answer text."""
    seen = []
    for update in updates:
        seen.append(update)
        if "▍" in str(update.get("chat", "")):
            return seen
    raise AssertionError("the answer never streamed")


def _bubble(update: dict) -> str:
    return update["chat"][-1]["content"]


# ---- the engine side ----------------------------------------------------------------------------------------------
def test_closing_the_stream_mid_answer_stops_the_model_and_frees_the_session(engine, llm):
    session = Session()
    events = engine.stream(session, SYMPTOM)
    assert next(e for e in events if e.type == "token")
    events.close()  # what Stop does, through Gradio's cancel or the page's own check
    assert llm.closed and llm.words == 1  # the model was asked for nothing more
    assert not session.lock.locked()
    answer = engine.ask(session, "and if it lasts a week?")  # the same session takes the next message
    assert answer.kind == "answer" and session.user_messages == [SYMPTOM, "and if it lasts a week?"]


# ---- the steps ------------------------------------------------------------------------------------------------------
def test_a_turn_shows_checking_then_the_badge_then_writing(page):
    updates = list(page.respond(SYMPTOM, {"sid": ""}))
    first = updates[0]
    assert first["running"] is True and first["box"] == "" and first["state"]["turn"]
    assert 'phc-step-checking' in _bubble(first) and TEXTS["en"]["checking"] in _bubble(first)
    chats = [_bubble(u) for u in updates[:-1] if "chat" in u]
    badge_at = next(i for i, c in enumerate(chats) if "phc-badge" in c)
    text_at = next(i for i, c in enumerate(chats) if "▍" in c)
    assert badge_at < text_at  # the level shows before a word of the answer
    assert all('phc-step-checking' in c for c in chats[:badge_at])
    assert any(TEXTS["en"]["retrieving"] in c for c in chats[:badge_at])  # what checking is doing
    assert 'phc-step-generating' in chats[badge_at] and "▍" not in chats[badge_at]
    assert all("phc-badge" in c and 'phc-step-generating' in c for c in chats[text_at:])
    final = updates[-1]
    assert "phc-step" not in _bubble(final) and "phc-badge" in _bubble(final)
    assert "running" not in final  # the page stays locked until settle has read this turn's id
    assert page.settle("", final["state"]) == {"running": False}


def test_the_steps_speak_the_patients_language(page):
    first = next(page.respond("我喉咙痛，吞咽的时候很疼，在家可以怎么办？", {"sid": "", "lang": "en"}))
    assert TEXTS["zh"]["checking"] in _bubble(first)
    first = next(page.respond(SYMPTOM, {"sid": "", "lang": "en"}))
    assert TEXTS["en"]["checking"] in _bubble(first)


def test_a_general_question_without_a_level_goes_from_checking_to_writing(page):
    chats = [_bubble(u) for u in _until_text(page.respond("What are the warning signs of a stroke?", {"sid": ""}))]
    assert "phc-badge" not in chats[-1] and 'phc-step-generating' in chats[-1]


# ---- Stop -----------------------------------------------------------------------------------------------------------
def test_stop_keeps_the_partial_answer_marked_and_the_page_takes_the_next_message(page, llm):
    turn = page.respond(SYMPTOM, {"sid": ""})
    seen = _until_text(turn)
    state = seen[0]["state"]
    assert page.stop(state) is True
    assert list(turn) == []  # the turn yields nothing more: the page is drawn by the step after its event
    assert llm.closed and not page.sessions.get(state["sid"]).lock.locked()  # the model stopped at once
    stopped = page.settle("", state)
    bubble = _bubble(stopped)
    assert stopped["running"] is False and "phc-stopped" in bubble and TEXTS["en"]["stopped"] in bubble
    assert "phc-badge" in bubble and "▍" not in bubble and "phc-step" not in bubble
    first_word = llm.produced.split()[0]
    assert first_word in bubble  # the words written so far stay
    assert page.settle("", state) == {"running": False}  # settled once
    after = stopped["state"]
    assert [t["role"] for t in after["turns"]] == ["user"] and after["meta"][-1] == {}
    final = list(page.respond("It started 3 days ago", after))[-1]
    assert "phc-badge" in _bubble(final)
    assert page.sessions.get(state["sid"]).user_messages == [SYMPTOM, "It started 3 days ago"]


def test_a_cancelled_event_closes_the_turn_and_settles_as_stopped(page, llm):
    turn = page.respond(SYMPTOM, {"sid": ""})
    state = _until_text(turn)[0]["state"]
    turn.close()  # Gradio's cancel closes the event's generator
    assert llm.closed and not page.sessions.get(state["sid"]).lock.locked()
    settled = page.settle("", state)
    assert settled["running"] is False and "phc-stopped" in _bubble(settled)
    assert page.settle("", state) == {"running": False}  # settled once


def test_stop_never_removes_an_escalation(page):
    turn = page.respond(EMERGENCY, {"sid": ""})
    seen = _until_text(turn)
    assert any(u.get("banner") for u in seen)
    page.stop(seen[0]["state"])
    stopped = page.settle("", seen[0]["state"])
    assert 'data-level="emergency"' in stopped["banner"] and stopped["state"]["escalation"]
    assert "phc-emergency" in _bubble(stopped)  # the badge stays too
    assert page.load(stopped["state"], None)["banner"]  # and after a reload


def test_stop_before_any_word_and_after_the_answer(page):
    turn = page.respond(SYMPTOM, {"sid": ""})
    state = next(turn)["state"]
    assert page.stop(state)  # still checking how urgent it is
    stopped = page.settle("", state)
    assert "phc-stopped" in _bubble(stopped) and "phc-badge" not in _bubble(stopped)
    assert list(turn) == []
    done = list(page.respond(SYMPTOM, stopped["state"]))
    assert page.stop(done[0]["state"]) is False  # too late: the finished answer stands
    assert page.settle("", done[-1]["state"]) == {"running": False}


# ---- failures and feedback ------------------------------------------------------------------------------------------
def test_a_failed_turn_gives_the_message_back_to_an_empty_box(page, monkeypatch):
    def broken(session, text, one_shot=False):
        yield from ()
        raise RuntimeError("boom")

    monkeypatch.setattr(page.engine, "stream", broken)
    updates = list(page.respond(SYMPTOM, {"sid": ""}))
    final = updates[-1]
    assert "phc-error" in _bubble(final)
    assert page.settle("", final["state"]) == {"running": False, "box": SYMPTOM}
    updates = list(page.respond(SYMPTOM, {"sid": ""}))
    assert page.settle("a new message typed meanwhile", updates[-1]["state"]) == {"running": False}
    assert page.feedback(updates[-1]["state"], 1, True) == (None, {})  # an error is not rated


def test_only_finished_replies_can_be_rated(page):
    turn = page.respond(SYMPTOM, {"sid": ""})
    state = _until_text(turn)[0]["state"]
    page.stop(state)
    stopped = page.settle("", state)
    assert page.feedback(stopped["state"], 1, True) == (None, {})
    final = list(page.respond("It started 3 days ago", stopped["state"]))[-1]
    assert page.feedback(final["state"], 3, True) == (False, {})  # rateable; this install keeps no feedback


def test_running_locks_send_and_examples_and_shows_stop():
    with gr.Blocks():
        c = _components()
    locked = c.to_gradio({"running": True, "texts": "zh"})
    assert locked[c.stop]["visible"] is True and locked[c.stop]["value"] == TEXTS["zh"]["stop"]
    assert locked[c.send]["interactive"] is False and locked[c.send]["value"] == TEXTS["zh"]["send"]
    assert all(locked[b]["interactive"] is False for b in c.example_btns)
    free = c.to_gradio({"running": False})
    assert free[c.stop]["visible"] is False and free[c.stop]["interactive"] is False
    assert free[c.send]["interactive"] is True
    assert c.stop in c.all_outputs and not c.stop.visible


def test_concurrent_stops_and_turns_do_not_cross(page):
    def browser(i: int) -> bool:
        turn = page.respond(f"browser {i}: " + SYMPTOM, {"sid": ""})
        state = _until_text(turn)[0]["state"]
        if i % 2:
            return page.stop(state) and list(turn) == [] and "phc-stopped" in _bubble(page.settle("", state))
        return "phc-sources" in _bubble(list(turn)[-1])

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert all(f.result(timeout=60) for f in [pool.submit(browser, i) for i in range(6)])

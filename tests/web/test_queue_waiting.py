"""Waiting for the model behind other patients: the page and the SSE stream say where the patient is in line, in
their language, and an emergency's escalation never waits. The fake model shares the real one's queue; a test holds
the model by holding a ticket, as another patient's turn would."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from chatbot.conversation import Event, Session
from chatbot.generation.queue import GenerationQueue, Ticket
from chatbot.interfaces import waiting
from chatbot.interfaces.http.app import create_api
from chatbot.interfaces.waiting import WAITING_TEXTS as TEXTS
from chatbot.interfaces.web import turn as turn_view
from chatbot.interfaces.web.handlers import WebChat

EMERGENCY = "crushing chest pain spreading to my left arm and I'm sweating"
SYMPTOM = "My sore throat hurts when I swallow, what can I do at home?"
SYMPTOM_ZH = "我喉咙痛，吞咽的时候很疼，在家可以怎么办？"
WAIT = 10.0


def _hold(queue: GenerationQueue) -> Ticket:
    """Another patient's turn holding the model."""
    ticket = queue.ticket()
    assert ticket.wait(0)
    return ticket


def _timed(engine, seconds: float) -> GenerationQueue:
    """The fake model's queue, with one measured turn of ``seconds`` (so the estimate is known)."""
    now = [0.0]
    queue = engine.llm.queue = GenerationQueue(clock=lambda: now[0])
    ticket = _hold(queue)
    now[0] = seconds
    ticket.leave()
    return queue


def _until_queue(events: Iterator[Event]) -> Event:
    return next(e for e in events if e.type == "queue")


def _bubble(update: dict) -> str:
    return update["chat"][-1]["content"]


# ---- the engine ---------------------------------------------------------------------------------------------------
def test_waiting_turns_see_their_places_then_their_turn_in_order(engine):
    queue = engine.llm.queue
    other = _hold(queue)
    first, second = engine.stream(Session(), SYMPTOM), engine.stream(Session(), SYMPTOM)
    assert _until_queue(first).data == {"position": 1, "estimate_s": None, "language": "en"}
    assert _until_queue(second).data["position"] == 2
    other.leave()  # the other patient's answer is done
    assert next(second).data["position"] == 1  # moved up; the first in line goes next
    assert next(first).data["position"] == 0  # served: its model work starts
    assert [e.type for e in first][-1] == "answer"  # the whole turn, while the second still waits
    assert next(second).data["position"] == 0
    assert [e.type for e in second][-1] == "answer"
    assert not queue.busy()


def test_an_idle_model_means_no_queue_events(engine):
    assert "queue" not in [e.type for e in engine.stream(Session(), SYMPTOM)]


def test_an_emergency_escalates_while_another_patient_holds_the_model(engine):
    other = _hold(engine.llm.queue)
    events = engine.stream(Session(), EMERGENCY)
    first = next(events)  # would block if the escalation waited for the model
    assert first.type == "escalation" and first.data["level"] == "emergency" and first.text
    seen = [first]
    for event in events:
        seen.append(event)
        if event.type == "queue":
            break
    assert [e.type for e in seen].index("escalation") == 0 and seen[-1].type == "queue"
    other.leave()
    assert [e.type for e in events][-1] == "answer"


def test_a_stopped_waiting_turn_gives_its_place_up(engine):
    queue = engine.llm.queue
    other = _hold(queue)
    events = engine.stream(Session(), SYMPTOM)
    _until_queue(events)
    events.close()  # Stop while in line
    later = queue.ticket()
    assert later.position == 1  # only the holder is ahead
    later.leave()
    other.leave()


# ---- the wording (chatbot/interfaces/waiting.yaml, shared by the page and the API) ------------------------------
def test_the_wording_speaks_both_languages_and_falls_back_to_english():
    assert {"en", "zh"} <= set(TEXTS)
    for lang in ("en", "zh"):
        assert {"queue_wait", "queue_wait_unknown"} <= set(TEXTS[lang])
    assert waiting.queue_text("zh", 2, 3.1) == TEXTS["zh"]["queue_wait"].format(position=2, seconds=4)
    assert waiting.queue_text("zh", 2, 0.2) == TEXTS["zh"]["queue_wait"].format(position=2, seconds=1)
    for lang in ("fr", None, ""):  # unknown or missing: English
        assert waiting.queue_text(lang, 3, None) == TEXTS["en"]["queue_wait_unknown"].format(position=3)


@pytest.mark.parametrize("content, problem", [
    ("en: [not, a, mapping", "while parsing"),  # broken YAML
    ("- a list\n", "mapping of languages"),
    ("en:\n  queue_wait: 'a {position} {seconds}'\n  queue_wait_unknown: 'b {position}'\n", "'zh' is missing"),
    ("en:\n  queue_wait: 'a {position} {seconds}'\n  queue_wait_unknown: 'b {position}'\n"
     "zh:\n  queue_wait: 'c {position} {seconds}'\n", "lacks queue_wait_unknown"),
])
def test_a_broken_wording_file_fails_at_load(tmp_path, content, problem):
    path = tmp_path / "waiting.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(Exception, match=problem):
        waiting._load(path)


# ---- the page -----------------------------------------------------------------------------------------------------
def test_the_page_shows_the_place_in_line_then_drops_it_when_the_answer_starts(engine, monkeypatch):
    monkeypatch.setattr(turn_view, "STREAM_EVERY_S", 0.0)
    queue = _timed(engine, 20.0)
    other = _hold(queue)
    page = WebChat(engine)
    updates = page.respond(SYMPTOM, {"sid": ""})
    waiting = next(u for u in updates if "in line" in str(u.get("chat", "")))
    expected = TEXTS["en"]["queue_wait"].format(position=1, seconds=20)
    assert expected in _bubble(waiting) and "phc-step-checking" in _bubble(waiting)
    other.leave()
    rest = [_bubble(u) for u in updates if "chat" in u]
    assert "in line" not in rest[0]  # the next redraw, as the turn is served
    assert all("in line" not in b for b in rest) and "phc-sources" in rest[-1]


def test_the_page_speaks_the_patients_language_and_admits_an_unknown_wait(engine):
    other = _hold(engine.llm.queue)
    page = WebChat(engine)
    updates = page.respond(SYMPTOM_ZH, {"sid": "", "lang": "en"})
    expected = TEXTS["zh"]["queue_wait_unknown"].format(position=1)
    waiting = next(u for u in updates if expected in str(u.get("chat", "")))
    assert "phc-pending" in _bubble(waiting)
    other.leave()
    assert "phc-step" not in _bubble(list(updates)[-1])


# ---- the SSE stream -----------------------------------------------------------------------------------------------
def _streamed(engine, message: str, queue: GenerationQueue) -> list[tuple[str, dict]]:
    """POST a streamed turn while the model is held; let go once the turn is in line; the SSE events."""
    other = _hold(queue)
    result: list[str] = []
    with TestClient(create_api(engine)) as client:
        thread = threading.Thread(target=lambda: result.append(
            client.post("/v1/chat", json={"message": message, "stream": True}).text))
        thread.start()
        in_line = threading.Event()
        while not in_line.wait(0.01):  # polls the queue, never sleeps long
            with queue._cond:
                if len(queue._waiting) == 1:
                    in_line.set()
        other.leave()
        thread.join(WAIT)
    blocks = [dict(line.split(": ", 1) for line in b.splitlines() if ": " in line) for b in result[0].split("\n\n")
              if b.strip()]
    return [(b.get("event", "message"), json.loads(b["data"])) for b in blocks]


def test_the_sse_stream_has_queue_events_in_the_patients_language(engine):
    events = _streamed(engine, SYMPTOM_ZH, _timed(engine, 7.2))
    names = [name for name, _ in events]
    queued = [data for name, data in events if name == "queue"]
    assert queued[0] == {"position": 1, "estimate_s": 7.2, "language": "zh",
                         "text": TEXTS["zh"]["queue_wait"].format(position=1, seconds=8)}
    assert queued[-1]["position"] == 0 and queued[-1]["text"] == ""
    assert names.index("queue") < names.index("token") and names[-1] == "answer"


def test_the_sse_queue_event_in_english(engine):
    events = _streamed(engine, SYMPTOM, engine.llm.queue)
    first = next(data for name, data in events if name == "queue")
    assert first["text"] == TEXTS["en"]["queue_wait_unknown"].format(position=1) and first["estimate_s"] is None

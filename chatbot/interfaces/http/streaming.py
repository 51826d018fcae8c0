"""Server-sent events (via sse-starlette) for ``/v1/chat``, and the plumbing every streamed turn shares.

Wire format of ``/v1/chat`` with ``stream: true``: one ``event: <type>`` + ``data: <json>`` block per engine event
(escalation, status, queue, triage, token, replace, answer), the escalation always first for a red flag; an error
after the stream started arrives as ``event: error``. ``queue`` comes only while other patients' turns hold the
in-process model: ``position`` (1 = next; 0 = this turn's model work starts now), ``estimate_s`` (null: not known
yet), ``language`` and ``text`` (what the page says, in the patient's language; empty at position 0).
Separators are plain ``\\n`` (what every SSE client reads).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from sse_starlette import EventSourceResponse

from chatbot.conversation import Event, InputError
from chatbot.interfaces.http.errors import INTERNAL_ERROR, error_body
from chatbot.interfaces.http.schemas import answer_json
from chatbot.interfaces.records import LocalRecords
from chatbot.interfaces.waiting import queue_text

log = logging.getLogger(__name__)

SSE_SEPARATOR = "\n"


class TurnCounter:
    """How many API turns are running (shown by /healthz, handy when several patients share one model)."""

    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def __enter__(self):
        with self._lock:
            self.value += 1

    def __exit__(self, *exc):
        with self._lock:
            self.value -= 1


def sse(data: str, event: str | None = None) -> dict[str, str]:
    """One SSE message for sse-starlette (a dict, so the response's separator is used)."""
    return {"data": data} if event is None else {"event": event, "data": data}


def event_stream(messages: Iterable[dict[str, str]]) -> EventSourceResponse:
    """The streamed response; a sync iterator runs in the thread pool, so the model never blocks the event loop."""
    return EventSourceResponse(messages, sep=SSE_SEPARATOR)


def first(events: Iterator[Event]) -> list[Event]:
    """Advance a turn to its first event, so input errors surface as a 4xx before any stream starts."""
    try:
        return [next(events)]
    except StopIteration:
        return []


def guarded(events: Iterator[Event], head: list[Event], counter: TurnCounter) -> Iterator[Event]:
    """The whole turn (the event already taken, then the rest), counted while it runs."""
    with counter:
        try:
            yield from head
            yield from events
        finally:
            events.close()  # a client that leaves mid-stream must not keep its session locked


def recorded(events: Iterator[Event], records: LocalRecords, session_id: str, message: str) -> Iterator[Event]:
    """Pass events through, writing the finished turn to the (opt-in) transcript."""
    for event in events:
        if event.type == "answer" and event.answer is not None:
            records.transcript(session_id, message, event.answer)
        yield event


def _payload(event: Event) -> tuple[str, Any]:
    if event.type == "answer" and event.answer is not None:
        return "answer", answer_json(event.answer)
    if event.type == "triage":  # the decided level, before the answer's first token
        return "triage", event.data["triage"].model_dump(mode="json")
    if event.type == "escalation":  # the level decided so far travels with the banner text (urgent or emergency)
        return "escalation", {"text": event.text, **(event.data or {})}
    if event.type == "queue":  # waiting for the model behind other patients
        return "queue", _queue_payload(event.data)
    return event.type, {"text": event.text}


def _queue_payload(place: dict[str, Any]) -> dict[str, Any]:
    position, estimate = place.get("position", 0), place.get("estimate_s")
    text = queue_text(place.get("language"), position, estimate) if position else ""
    return {"position": position, "estimate_s": estimate, "language": place.get("language"), "text": text}


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def chat_messages(events: Iterator[Event]) -> Iterator[dict[str, str]]:
    """``/v1/chat`` events as SSE messages; a failure mid-stream becomes a final ``error`` event, never a trace."""
    try:
        for event in events:
            name, data = _payload(event)
            yield sse(_json(data), name)
    except InputError as exc:
        yield sse(_json(error_body(str(exc), "invalid_message")["error"]), "error")
    except Exception as exc:
        log.error("stream failed: %s: %s", type(exc).__name__, exc, exc_info=exc)
        yield sse(_json({"message": INTERNAL_ERROR, "type": "server_error"}), "error")

"""``POST /v1/chat`` (the Answer object, or server-sent events) and ``POST /v1/triage`` (triage only).

Both hand the message to the Engine and return its Answer unchanged; the Engine decides everything medical.
A ``session_id`` continues a conversation the server holds; one it does not hold is a 404 (never a silent new
conversation the client would take for the old one); no ``session_id`` starts a new conversation.
"""

from __future__ import annotations

from fastapi import APIRouter

from chatbot.conversation import Session, SessionStore
from chatbot.interfaces.http.deps import CounterDep, EngineDep, RecordsDep, SessionsDep
from chatbot.interfaces.http.errors import UNKNOWN_SESSION, APIError
from chatbot.interfaces.http.guard import API_PREFIX
from chatbot.interfaces.http.schemas import ChatRequest, TriageRequest, answer_json
from chatbot.interfaces.http.streaming import chat_messages, event_stream, first, guarded, recorded

router = APIRouter(prefix=API_PREFIX)


def _session(sessions: SessionStore, session_id: str | None) -> Session:
    """The conversation to continue, or a new one when the client sent no id; an unknown id is a 404."""
    if session_id is None:
        return sessions.get(None)
    session = sessions.find(session_id)
    if session is None:
        raise APIError(404, UNKNOWN_SESSION, "session_not_found")
    return session


@router.post("/chat")
def chat(body: ChatRequest, engine: EngineDep, sessions: SessionsDep, records: RecordsDep, counter: CounterDep):
    session = _session(sessions, body.session_id)
    if not body.stream:
        with counter:
            answer = engine.ask(session, body.message)
        records.transcript(session.id, body.message, answer)
        return answer_json(answer)
    events = engine.stream(session, body.message)
    head = first(events)  # raises InputError -> 422 before the stream starts
    saved = recorded(guarded(events, head, counter), records, session.id, body.message)
    return event_stream(chat_messages(saved))


@router.post("/triage")
def triage(body: TriageRequest, engine: EngineDep, sessions: SessionsDep, counter: CounterDep):
    session = _session(sessions, body.session_id)
    with counter:
        return answer_json(engine.triage_only(session, body.message))

"""OpenAI-compatible routes: ``POST /v1/chat/completions`` (whole or streamed) and ``GET /v1/models``."""

from __future__ import annotations

import time
import uuid

from fastapi import APIRouter, Request

from chatbot.conversation import Session
from chatbot.interfaces.http.deps import CounterDep, EngineDep, ModelNameDep
from chatbot.interfaces.http.guard import API_PREFIX
from chatbot.interfaces.http.openai_compat import completion, completion_messages, model_list, split_messages
from chatbot.interfaces.http.schemas import CompletionRequest
from chatbot.interfaces.http.streaming import event_stream, first, guarded

router = APIRouter(prefix=API_PREFIX)


@router.post("/chat/completions")
def completions(body: CompletionRequest, engine: EngineDep, counter: CounterDep, model: ModelNameDep):
    history, message = split_messages(body.messages)
    session = Session()  # a fresh session per request: OpenAI clients send the whole history every time
    engine.restore(session, history)
    cid = "chatcmpl-" + uuid.uuid4().hex[:24]
    created = int(time.time())
    if not body.stream:
        with counter:
            answer = engine.ask(session, message)
        return completion(answer, cid, created, model)
    events = engine.stream(session, message)
    head = first(events)  # raises InputError -> 422 before the stream starts
    return event_stream(completion_messages(guarded(events, head, counter), cid, created, model))


@router.get("/models")
def models(request: Request, model: ModelNameDep):
    """The configured chat model; ``created`` is when this server started (the model has no other date)."""
    return model_list(model, request.app.state.started)

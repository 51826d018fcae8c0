"""OpenAI chat-completions and models formats, so OpenAI clients and tools can talk to the assistant.

Each request is a fresh session fed with the client's history (OpenAI clients resend it every time); client
system prompts are ignored on purpose. Text-only clients get the escalation first and the sources as a footer;
the full Answer object rides along as ``health_answer``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from chatbot.answer import Answer
from chatbot.conversation import Event
from chatbot.interfaces.http.errors import INTERNAL_ERROR, APIError, error_body
from chatbot.interfaces.http.schemas import CompletionMessage, answer_json
from chatbot.interfaces.http.streaming import sse

log = logging.getLogger(__name__)

OWNED_BY = "private-health-chatbot"
DONE = "[DONE]"


def plain_text(answer: Answer) -> tuple[str, str, str]:
    """(escalation prefix, body, sources footer) for clients that show only text: the escalation always first."""
    prefix = f"{answer.escalation}\n\n" if answer.escalation else ""
    footer = ""
    if answer.sources:
        lines = [f"[{s.n}] {s.title}" + (f" — {s.url}" if s.url else "") for s in answer.sources]
        footer = "\n\nSources:\n" + "\n".join(lines)
    return prefix, answer.answer, footer


def completion(answer: Answer, cid: str, created: int, model: str) -> dict[str, Any]:
    """A whole (non-streamed) ``chat.completion`` object."""
    prefix, text, footer = plain_text(answer)
    return {
        "id": cid,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": prefix + text + footer}, "finish_reason": "stop"}
        ],
        "usage": None,
        "health_answer": answer_json(answer),
    }


def completion_messages(events: Iterator[Event], cid: str, created: int, model: str) -> Iterator[dict[str, str]]:
    """``chat.completion.chunk`` SSE messages: the role, the escalation, the tokens, the footer, then [DONE]."""

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, str]:
        payload = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return sse(json.dumps(payload, ensure_ascii=False))

    yield chunk({"role": "assistant", "content": ""})
    streamed = False
    try:
        for event in events:
            if event.type == "escalation":
                yield chunk({"content": event.text + "\n\n"})
            elif event.type == "token":
                streamed = True
                yield chunk({"content": event.text})
            elif event.type == "answer" and event.answer is not None:
                _, text, footer = plain_text(event.answer)
                tail = ("" if streamed else text) + footer
                if tail:
                    yield chunk({"content": tail})
                yield chunk({}, "stop", health_answer=answer_json(event.answer))
    except Exception as exc:
        log.error("completion stream failed: %s: %s", type(exc).__name__, exc, exc_info=exc)
        yield sse(json.dumps(error_body(INTERNAL_ERROR, "server_error")))
    yield sse(DONE)


def model_list(model: str, created: int) -> dict[str, Any]:
    """``GET /v1/models``: the one chat model this server answers with."""
    return {"object": "list", "data": [{"id": model, "object": "model", "created": created, "owned_by": OWNED_BY}]}


def _text_of(message: CompletionMessage) -> str:
    content = message.content
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts = []
    for part in content:
        if part.type != "text" or part.text is None:
            raise APIError(422, "Only text content is supported; images, audio and files are not.")
        texts.append(part.text)
    return "\n".join(texts)


def split_messages(messages: list[CompletionMessage]) -> tuple[list[tuple[str, str]], str]:
    """(earlier user/assistant turns, last user message); system prompts from clients are ignored on purpose."""
    last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
    if last_user is None:
        raise APIError(422, "Invalid request: 'messages' needs at least one message with role 'user'.")
    history = [(m.role, _text_of(m)) for m in messages[:last_user] if m.role in {"user", "assistant"}]
    return history, _text_of(messages[last_user])

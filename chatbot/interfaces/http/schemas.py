"""Request bodies of the API, validated strictly so a client learns at once what it sent wrong."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, StringConstraints

from chatbot.answer import Answer

MAX_HISTORY_MESSAGES = 200

SessionId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")]


class ChatRequest(BaseModel):
    """``POST /v1/chat``: one patient message, optionally continuing a session, optionally streamed."""

    model_config = ConfigDict(extra="forbid")

    message: StrictStr = Field(..., description="the patient's message (plain text)")
    session_id: SessionId | None = Field(None, description="continue this conversation; omitted = a new one")
    stream: StrictBool = Field(False, description="true = server-sent events (escalation, status, token, answer)")


class TriageRequest(BaseModel):
    """``POST /v1/triage``: triage one message without writing an answer."""

    model_config = ConfigDict(extra="forbid")

    message: StrictStr
    session_id: SessionId | None = None


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: StrictStr
    text: StrictStr | None = None


class CompletionMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: StrictStr | list[ContentPart] | None = None


class CompletionRequest(BaseModel):
    """The subset of OpenAI's chat-completions body this assistant honours; other OpenAI fields are accepted and
    ignored (sampling is fixed by the settings, so a client cannot make the triage less deterministic)."""

    model_config = ConfigDict(extra="allow")

    model: StrictStr | None = None
    messages: list[CompletionMessage] = Field(..., min_length=1, max_length=MAX_HISTORY_MESSAGES)
    stream: StrictBool = False


def answer_json(answer: Answer) -> dict[str, Any]:
    """The Answer object unchanged, as JSON: every route returns the same shape the engine produced."""
    return answer.model_dump(mode="json")

"""HTTP API: health, chat (JSON or server-sent events), one-shot triage, and OpenAI-compatible chat completions.

No medical logic lives here: every route validates its body, hands the message to the Engine and returns the
Answer object unchanged (``Answer.model_dump(mode="json")``). Errors are always JSON of the form
``{"error": {"message": ..., "type": ...}}`` with a 4xx status; a stack trace never reaches a client.

Security model: the server binds 127.0.0.1 unless told otherwise. When ``settings.server.api_key`` is set, every
``/v1`` route needs ``Authorization: Bearer <key>``; the browser page stays open to loopback clients and asks other
clients for the key once (a cookie that holds a keyed hash, never the key). ``/healthz`` stays open for monitors.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, StringConstraints
from starlette.exceptions import HTTPException as StarletteHTTPException

from chatbot import __version__
from chatbot.answer import Answer
from chatbot.config import Settings
from chatbot.conversation import Engine, Event, InputError, Session, SessionStore
from chatbot.privacy import feedback_path, hash_id, transcript_path

log = logging.getLogger(__name__)

API_PREFIX = "/v1"
PAGE_COOKIE = "phc_page"
MIN_BODY_LIMIT = 64 * 1024
MAX_HISTORY_MESSAGES = 200
INTERNAL_ERROR = "The assistant hit an internal problem; please try again."

SessionId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")]


# ---- request bodies ----------------------------------------------------------------------------------------------
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


# ---- errors --------------------------------------------------------------------------------------------------------
class APIError(Exception):
    """An error with a status, a type and a patient- or developer-readable message."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error"):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_


def error_body(message: str, type_: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, **extra}}


def _error_response(status: int, message: str, type_: str, headers: dict[str, str] | None = None, **extra: Any):
    return JSONResponse(error_body(message, type_, **extra), status_code=status, headers=headers)


_STATUS_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    422: "invalid_request_error",
}


def _describe_validation(errors: list[dict[str, Any]]) -> tuple[int, str]:
    """Turn pydantic's error list into one sentence a developer can act on."""
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, "The request body is not valid JSON."
    parts = []
    for err in errors[:5]:
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        where = ".".join(loc) or "body"
        kind = err.get("type", "")
        if kind == "missing":
            parts.append(f"'{where}' is required")
        elif kind == "extra_forbidden":
            parts.append(f"'{where}' is not a known field")
        elif kind in {"string_type", "bool_type", "list_type", "model_attributes_type", "dict_type"}:
            expected = {
                "string_type": "a string",
                "bool_type": "true or false",
                "list_type": "a list",
                "model_attributes_type": "a JSON object",
                "dict_type": "a JSON object",
            }[kind]
            parts.append(f"'{where}' must be {expected}")
        else:
            parts.append(f"'{where}': {err.get('msg', 'invalid value')}")
    return 422, "Invalid request: " + "; ".join(parts) + "."


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError):
        status, message = _describe_validation(list(exc.errors()))
        return _error_response(status, message, "invalid_json" if status == 400 else "invalid_request_error")

    @app.exception_handler(InputError)
    async def _input(_request: Request, exc: InputError):
        return _error_response(422, str(exc), "invalid_message")

    @app.exception_handler(APIError)
    async def _api(_request: Request, exc: APIError):
        return _error_response(exc.status, exc.message, exc.type)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else "Request failed."
        return _error_response(exc.status_code, message, _STATUS_TYPES.get(exc.status_code, "http_error"), exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception):
        log.error("unexpected error in the API: %s: %s", type(exc).__name__, exc, exc_info=exc)
        return _error_response(500, INTERNAL_ERROR, "server_error")


# ---- guard: auth, body size, remote page access ------------------------------------------------------------------
def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def page_token(api_key: str) -> str:
    """What the page cookie holds: a keyed hash that proves the key was typed, without storing the key."""
    return hmac.new(api_key.encode("utf-8"), b"private-health-chatbot page", hashlib.sha256).hexdigest()


_LOGIN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Health assistant: access key</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem;line-height:1.5}}
input,button{{font-size:1rem;padding:.5rem;width:100%;box-sizing:border-box;margin:.25rem 0}}</style></head>
<body><h1>Health information assistant</h1><p>This computer's assistant is shared on the network and needs its
access key. 需要访问密钥。</p>{error}<form method="post" action="/login"><label>Access key
<input type="password" name="key" autocomplete="current-password" autofocus required></label>
<button type="submit">Open the assistant</button></form>
<p>In an emergency call your emergency number now.</p></body></html>"""


# Defence in depth for "nothing leaves the machine": the page may only talk to this server, whatever a
# dependency might try to load (fonts, scripts, analytics). Links the patient clicks are navigation, not affected.
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval' blob:; "
        b"style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
        b"connect-src 'self'; media-src 'self' blob: data:; worker-src 'self' blob:; frame-src 'none'; "
        b"object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'",
    ),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
]


class Guard:
    """Pure ASGI middleware in front of everything (API and the mounted page).

    * ``/v1``: bearer-key check when a key is set, before the body is even read (so a stranger learns nothing
      from validation errors), then a hard cap on the body size (413), buffered so the route sees it unchanged.
    * the page: loopback clients pass; other clients need the key once, when one is set.
    """

    def __init__(self, app: Callable, api_key: str | None, body_limit: int, rate_limit: str = "60/minute",
                 max_concurrent: int = 4):
        from limits import parse, storage, strategies

        self.app = app
        self.api_key = api_key or None
        self.body_limit = body_limit
        self.token = page_token(self.api_key) if self.api_key else ""
        self.rate = parse(rate_limit)
        self.limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())
        self.max_concurrent = max_concurrent
        self.in_flight: dict[str, int] = {}

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            send = _with_headers(send)
        if scope["type"] != "http":
            if scope["type"] == "websocket" and self.api_key and not self._page_allowed(scope):
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
            await self._api(scope, receive, send)
        elif path == "/healthz":
            await self.app(scope, receive, send)
        elif path == "/login" and self.api_key:
            await self._login(scope, receive, send)
        elif self.api_key and not self._page_allowed(scope):
            if scope.get("method") == "GET" and path in {"", "/"}:
                await _send(send, 401, _LOGIN_PAGE.format(error="").encode(), "text/html; charset=utf-8")
            else:
                await _send_json(send, 401, error_body("Access key required.", "authentication_error"))
        else:
            await self.app(scope, receive, send)

    async def _api(self, scope, receive, send):
        if self.api_key and not self._bearer_ok(scope):
            await _send_json(
                send,
                401,
                error_body("Missing or wrong API key: send 'Authorization: Bearer <key>'.", "authentication_error"),
                {"www-authenticate": "Bearer"},
            )
            return
        if scope.get("method") not in {"POST", "PUT", "PATCH"}:
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0] or "unknown"
        if not self.limiter.hit(self.rate, client):
            await self._too_many(send, "Too many requests from this client", self.rate.get_expiry())
            return
        if self.in_flight.get(client, 0) >= self.max_concurrent:
            await self._too_many(send, "Too many requests at once from this client", 1)
            return
        self.in_flight[client] = self.in_flight.get(client, 0) + 1
        try:
            await self._api_post(scope, receive, send)
        finally:
            self.in_flight[client] -= 1
            if not self.in_flight[client]:
                del self.in_flight[client]

    async def _too_many(self, send, why: str, retry_after: int) -> None:
        text = (f"{why}; try again in {retry_after} s. If this is an emergency, do not wait: call your local "
                "emergency number now.")
        await _send_json(send, 429, error_body(text, "rate_limited"), {"retry-after": str(retry_after)})

    async def _api_post(self, scope, receive, send):
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.body_limit):
            await self._too_large(send)
            return
        body, ok = await _read_body(receive, self.body_limit)
        if not ok:
            await self._too_large(send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _too_large(self, send):
        await _send_json(
            send,
            413,
            error_body(f"The request body is larger than {self.body_limit} bytes.", "request_too_large"),
        )

    async def _login(self, scope, receive, send):
        if scope.get("method") == "POST":
            body, ok = await _read_body(receive, 4096)
            key = (parse_qs(body.decode("utf-8", "replace")).get("key") or [""])[0] if ok else ""
            if hmac.compare_digest(key.encode("utf-8"), self.api_key.encode("utf-8")):
                cookie = f"{PAGE_COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict"
                await send(
                    {
                        "type": "http.response.start",
                        "status": 303,
                        "headers": [(b"location", b"/"), (b"set-cookie", cookie.encode()), (b"content-length", b"0")],
                    }
                )
                await send({"type": "http.response.body", "body": b""})
                return
            page = _LOGIN_PAGE.format(error="<p><strong>That key is not right.</strong></p>")
            await _send(send, 401, page.encode(), "text/html; charset=utf-8")
            return
        await _send(send, 200, _LOGIN_PAGE.format(error="").encode(), "text/html; charset=utf-8")

    def _bearer_ok(self, scope) -> bool:
        value = _header(scope, b"authorization") or ""
        scheme, _, supplied = value.partition(" ")
        if scheme.lower() != "bearer" or not supplied:
            return False
        return hmac.compare_digest(supplied.strip().encode("utf-8"), self.api_key.encode("utf-8"))

    def _page_allowed(self, scope) -> bool:
        client = scope.get("client") or (None, None)
        if is_loopback(client[0]) or self._bearer_ok(scope):
            return True
        cookies = SimpleCookie()
        try:
            cookies.load(_header(scope, b"cookie") or "")
        except Exception:  # a malformed cookie header is simply not a credential
            return False
        morsel = cookies.get(PAGE_COOKIE)
        return bool(morsel) and hmac.compare_digest(morsel.value.encode(), self.token.encode())


def _with_headers(send):
    async def wrapped(message):
        if message["type"] == "http.response.start":
            present = {k.lower() for k, _ in message.get("headers", [])}
            extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return wrapped


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


async def _read_body(receive, limit: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"", False
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return b"", False
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True


def _replay(body: bytes, receive):
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _send(send, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None):
    raw = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _send_json(send, status: int, payload: dict, headers: dict[str, str] | None = None):
    await _send(send, status, json.dumps(payload).encode("utf-8"), "application/json", headers)


def body_limit(settings: Settings) -> int:
    """Hard cap on request bodies: generous for the longest allowed message (UTF-8, JSON escapes) plus history."""
    return max(MIN_BODY_LIMIT, settings.conversation.max_message_chars * 12 + 16 * 1024)


# ---- helpers shared with the web page ------------------------------------------------------------------------------
class LocalRecords:
    """The only things the server may write about patients, each behind its own opt-in privacy setting.

    Feedback (``privacy.save_feedback``) and transcripts (``privacy.save_transcripts``) go to JSONL files under
    ``settings.data_dir`` readable by the owner only; session ids are stored as salted hashes, never in clear.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self._lock = threading.Lock()

    @property
    def feedback_enabled(self) -> bool:
        return self.settings.privacy.save_feedback

    @staticmethod
    def hash_id(session_id: str, purpose: str = "session") -> str:
        return hash_id(session_id, purpose)

    def feedback(self, session_id: str, record: dict[str, Any]) -> bool:
        """Append one feedback record; False (and nothing written) unless the installation opted in."""
        if not self.feedback_enabled:
            return False
        row = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "session": self.hash_id(session_id), **record}
        self._append(feedback_path(self.settings), row)
        return True

    def transcript(self, session_id: str, message: str, answer: Answer) -> bool:
        if not self.settings.privacy.save_transcripts:
            return False
        ts = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        path = transcript_path(self.settings, session_id)
        self._append(path, {"ts": ts, "role": "user", "text": message})
        level = answer.triage.level.value if answer.triage else None
        self._append(path, {"ts": ts, "role": "assistant", "text": answer.answer, "kind": answer.kind, "level": level})
        return True

    def _append(self, path: Path, row: dict[str, Any]) -> None:
        with self._lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def answer_json(answer: Answer) -> dict[str, Any]:
    return answer.model_dump(mode="json")


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _event_payload(event: Event) -> tuple[str, Any]:
    if event.type == "answer" and event.answer is not None:
        return "answer", answer_json(event.answer)
    if event.type == "triage":  # the decided level, before the answer's first token
        return "triage", event.data["triage"].model_dump(mode="json")
    return event.type, {"text": event.text}


def _first(events: Iterator[Event]) -> list[Event]:
    """Advance a turn to its first event, so input errors surface as a 4xx before any stream starts."""
    try:
        return [next(events)]
    except StopIteration:
        return []


def _guarded(events: Iterator[Event], head: list[Event], counter: _Counter) -> Iterator[Event]:
    with counter:
        try:
            yield from head
            yield from events
        finally:
            events.close()  # a client that leaves mid-stream must not keep its session locked


def plain_text(answer: Answer) -> tuple[str, str, str]:
    """(escalation prefix, body, sources footer) for clients that show only text: the escalation always first."""
    prefix = f"{answer.escalation}\n\n" if answer.escalation else ""
    footer = ""
    if answer.sources:
        lines = [f"[{s.n}] {s.title}" + (f" — {s.url}" if s.url else "") for s in answer.sources]
        footer = "\n\nSources:\n" + "\n".join(lines)
    return prefix, answer.answer, footer


# ---- the application --------------------------------------------------------------------------------------------
def create_api(
    engine: Engine,
    settings: Settings | None = None,
    sessions: SessionStore | None = None,
    records: LocalRecords | None = None,
) -> FastAPI:
    """The API app. The web tier mounts the browser page on it, so both share one Engine, one model and one port.

    API sessions live in their own store (the page keeps another), so an API client can never continue a
    browser's conversation by guessing its id.
    """
    settings = settings or engine.settings
    sessions = sessions or SessionStore(settings.server.max_sessions)
    records = records or LocalRecords(settings)
    app = FastAPI(
        title="Private health assistant API",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # the docs page would pull scripts from a CDN; the API is described in the README
    )
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.records = records
    install_error_handlers(app)
    app.add_middleware(Guard, api_key=settings.server.api_key, body_limit=body_limit(settings),
                       rate_limit=settings.server.rate_limit, max_concurrent=settings.server.max_concurrent_per_client)
    counter = _Counter()

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        status = engine.status()
        return {"status": "ok", **status, "active_requests": counter.value}

    @app.post(API_PREFIX + "/chat")
    def chat(body: ChatRequest):
        session = sessions.get(body.session_id)
        if not body.stream:
            with counter:
                answer = engine.ask(session, body.message)
            records.transcript(session.id, body.message, answer)
            return answer_json(answer)
        events = engine.stream(session, body.message)
        head = _first(events)  # raises InputError -> 422 before the stream starts
        saved = _recorded(_guarded(events, head, counter), records, session.id, body.message)
        return _event_stream(_chat_sse(saved))

    @app.post(API_PREFIX + "/triage")
    def triage(body: TriageRequest):
        session = sessions.get(body.session_id)
        with counter:
            return answer_json(engine.triage_only(session, body.message))

    @app.post(API_PREFIX + "/chat/completions")
    def completions(body: CompletionRequest):
        history, message = _split_messages(body.messages)
        session = Session()  # a fresh session per request: OpenAI clients send the whole history every time
        engine.restore(session, history)
        name = engine.model_info().name or settings.llm.model
        cid = "chatcmpl-" + uuid.uuid4().hex[:24]
        created = int(time.time())
        if not body.stream:
            with counter:
                answer = engine.ask(session, message)
            prefix, text, footer = plain_text(answer)
            return {
                "id": cid,
                "object": "chat.completion",
                "created": created,
                "model": name,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": prefix + text + footer},
                        "finish_reason": "stop",
                    }
                ],
                "usage": None,
                "health_answer": answer_json(answer),
            }
        events = engine.stream(session, message)
        head = _first(events)
        return _event_stream(_completion_sse(_guarded(events, head, counter), cid, created, name))

    @app.api_route(API_PREFIX + "/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def unknown(rest: str, request: Request):
        path = f"{API_PREFIX}/{rest}"
        if path in post_routes:
            raise APIError(405, f"Use POST for {path} (not {request.method}).", "method_not_allowed")
        raise APIError(404, f"No such API route: {path}.", "not_found")

    post_routes = {API_PREFIX + "/chat", API_PREFIX + "/triage", API_PREFIX + "/chat/completions"}

    return app


class _Counter:
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


def _event_stream(chunks: Iterator[str]) -> StreamingResponse:
    return StreamingResponse(
        chunks,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _recorded(events: Iterator[Event], records: LocalRecords, session_id: str, message: str) -> Iterator[Event]:
    for event in events:
        if event.type == "answer" and event.answer is not None:
            records.transcript(session_id, message, event.answer)
        yield event


def _chat_sse(events: Iterator[Event]) -> Iterator[str]:
    try:
        for event in events:
            name, data = _event_payload(event)
            yield _sse(name, data)
    except InputError as exc:
        yield _sse("error", error_body(str(exc), "invalid_message")["error"])
    except Exception as exc:
        log.error("stream failed: %s: %s", type(exc).__name__, exc, exc_info=exc)
        yield _sse("error", {"message": INTERNAL_ERROR, "type": "server_error"})


def _completion_sse(events: Iterator[Event], cid: str, created: int, model: str) -> Iterator[str]:
    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        payload = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

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
                answer = event.answer
                _, text, footer = plain_text(answer)
                tail = ("" if streamed else text) + footer
                if tail:
                    yield chunk({"content": tail})
                yield chunk({}, "stop", health_answer=answer_json(answer))
    except Exception as exc:
        log.error("completion stream failed: %s: %s", type(exc).__name__, exc, exc_info=exc)
        error = error_body(INTERNAL_ERROR, "server_error")
        yield f"data: {json.dumps(error)}\n\n"
    yield "data: [DONE]\n\n"


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


def _split_messages(messages: list[CompletionMessage]) -> tuple[list[tuple[str, str]], str]:
    """(earlier user/assistant turns, last user message); system prompts from clients are ignored on purpose."""
    last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
    if last_user is None:
        raise APIError(422, "Invalid request: 'messages' needs at least one message with role 'user'.")
    history = [(m.role, _text_of(m)) for m in messages[:last_user] if m.role in {"user", "assistant"}]
    return history, _text_of(messages[last_user])

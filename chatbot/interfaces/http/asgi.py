"""Small raw-ASGI helpers for the guard, which answers before FastAPI (and before any body is parsed)."""

from __future__ import annotations

import json
from collections.abc import Callable

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


def with_security_headers(send: Callable) -> Callable:
    """Add the security headers to every response that does not set them itself."""

    async def wrapped(message):
        if message["type"] == "http.response.start":
            present = {k.lower() for k, _ in message.get("headers", [])}
            extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return wrapped


def header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


async def read_body(receive, limit: int) -> tuple[bytes, bool]:
    """The whole body, or (b"", False) when the client left or sent more than ``limit`` bytes."""
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


def replay(body: bytes, receive):
    """A ``receive`` that hands the already-read body to the app once, then defers to the real one."""
    sent = False

    async def replayed():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def send_body(send, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None):
    raw = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def send_json(send, status: int, payload: dict, headers: dict[str, str] | None = None):
    await send_body(send, status, json.dumps(payload).encode("utf-8"), "application/json", headers)


async def redirect(send, location: str, cookie: str) -> None:
    headers = [(b"location", location.encode()), (b"set-cookie", cookie.encode()), (b"content-length", b"0")]
    await send({"type": "http.response.start", "status": 303, "headers": headers})
    await send({"type": "http.response.body", "body": b""})

"""The guard in front of everything (API and the mounted page), as pure ASGI middleware.

Security model: the server binds 127.0.0.1 unless told otherwise. When ``settings.server.api_key`` is set, every
``/v1`` route needs ``Authorization: Bearer <key>`` (compared in constant time) before its body is even read, so a
stranger learns nothing from validation errors; the browser page stays open to loopback clients and asks other
clients for the key once (a cookie that holds a keyed hash, never the key). ``/healthz`` stays open for monitors.
API writes are also rate-limited and capped in concurrency per client, and bodies have a hard size limit (413).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Callable
from http.cookies import SimpleCookie
from pathlib import Path
from string import Template
from urllib.parse import parse_qs

from chatbot.config import Settings
from chatbot.interfaces.http.asgi import (
    header,
    read_body,
    redirect,
    replay,
    send_body,
    send_json,
    with_security_headers,
)
from chatbot.interfaces.http.errors import error_body

API_PREFIX = "/v1"
PAGE_COOKIE = "phc_page"
MIN_BODY_LIMIT = 64 * 1024
LOGIN_BODY_LIMIT = 4096
LOGIN_PAGE = Template(Path(__file__).with_name("login.html").read_text(encoding="utf-8"))
WRONG_KEY = "<p><strong>That key is not right.</strong></p>"
HTML = "text/html; charset=utf-8"
_WRITES = {"POST", "PUT", "PATCH"}


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


def body_limit(settings: Settings) -> int:
    """Hard cap on request bodies: generous for the longest allowed message (UTF-8, JSON escapes) plus history."""
    return max(MIN_BODY_LIMIT, settings.conversation.max_message_chars * 12 + 16 * 1024)


def _same(supplied: str, expected: str) -> bool:
    return hmac.compare_digest(supplied.encode("utf-8"), expected.encode("utf-8"))


def _login_page(error: str = "") -> bytes:
    return LOGIN_PAGE.substitute(error=error).encode("utf-8")


class Guard:
    """Auth, rate limits, body size and remote page access, decided before any route or page code runs."""

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
        if scope["type"] != "http":
            if scope["type"] == "websocket" and self.api_key and not self._page_allowed(scope):
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.app(scope, receive, send)
            return
        send = with_security_headers(send)
        path = scope.get("path", "")
        if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
            await self._api(scope, receive, send)
        elif path == "/healthz":
            await self.app(scope, receive, send)
        elif path == "/login" and self.api_key:
            await self._login(scope, receive, send)
        elif self.api_key and not self._page_allowed(scope):
            if scope.get("method") == "GET" and path in {"", "/"}:
                await send_body(send, 401, _login_page(), HTML)
            else:
                await send_json(send, 401, error_body("Access key required.", "authentication_error"))
        else:
            await self.app(scope, receive, send)

    async def _api(self, scope, receive, send):
        if self.api_key and not self._bearer_ok(scope):
            await send_json(
                send,
                401,
                error_body("Missing or wrong API key: send 'Authorization: Bearer <key>'.", "authentication_error"),
                {"www-authenticate": "Bearer"},
            )
            return
        if scope.get("method") not in _WRITES:
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
            await self._api_write(scope, receive, send)
        finally:
            self.in_flight[client] -= 1
            if not self.in_flight[client]:
                del self.in_flight[client]

    async def _too_many(self, send, why: str, retry_after: int) -> None:
        text = (f"{why}; try again in {retry_after} s. If this is an emergency, do not wait: call your local "
                "emergency number now.")
        await send_json(send, 429, error_body(text, "rate_limited"), {"retry-after": str(retry_after)})

    async def _api_write(self, scope, receive, send):
        """Refuse an oversized body (declared or actual), else buffer it so the route sees it unchanged."""
        declared = header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.body_limit):
            await self._too_large(send)
            return
        body, ok = await read_body(receive, self.body_limit)
        if not ok:
            await self._too_large(send)
            return
        await self.app(scope, replay(body, receive), send)

    async def _too_large(self, send):
        message = f"The request body is larger than {self.body_limit} bytes."
        await send_json(send, 413, error_body(message, "request_too_large"))

    async def _login(self, scope, receive, send):
        if scope.get("method") != "POST":
            await send_body(send, 200, _login_page(), HTML)
            return
        body, ok = await read_body(receive, LOGIN_BODY_LIMIT)
        key = (parse_qs(body.decode("utf-8", "replace")).get("key") or [""])[0] if ok else ""
        if _same(key, self.api_key):
            await redirect(send, "/", f"{PAGE_COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict")
            return
        await send_body(send, 401, _login_page(WRONG_KEY), HTML)

    def _bearer_ok(self, scope) -> bool:
        value = header(scope, b"authorization") or ""
        scheme, _, supplied = value.partition(" ")
        if scheme.lower() != "bearer" or not supplied:
            return False
        return _same(supplied.strip(), self.api_key)

    def _page_allowed(self, scope) -> bool:
        client = scope.get("client") or (None, None)
        if is_loopback(client[0]) or self._bearer_ok(scope):
            return True
        cookies = SimpleCookie()
        try:
            cookies.load(header(scope, b"cookie") or "")
        except Exception:  # a malformed cookie header is simply not a credential
            return False
        morsel = cookies.get(PAGE_COOKIE)
        return bool(morsel) and _same(morsel.value, self.token)

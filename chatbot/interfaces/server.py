"""Composition root of ``python -m chatbot serve``: one Engine, the HTTP API with its routers, the browser page
mounted at ``/``, all on one port. Loopback only unless a host is given, and then an API key is required.
"""

from __future__ import annotations

import socket
import sys

from fastapi import FastAPI

from chatbot.config import Settings
from chatbot.conversation import Engine
from chatbot.interfaces.http.app import create_api
from chatbot.interfaces.http.guard import is_loopback
from chatbot.interfaces.records import LocalRecords
from chatbot.interfaces.web.handlers import WebChat
from chatbot.interfaces.web.mount import mount_page


def build_app(engine: Engine, settings: Settings | None = None, host: str = "127.0.0.1", port: int = 7860) -> FastAPI:
    """The whole server: API routes first, the browser page mounted at ``/``; one Engine shared by both."""
    settings = settings or engine.settings
    records = LocalRecords(settings)
    app = create_api(engine, settings, records=records)
    page = WebChat(engine, settings, records)
    app.state.web = page
    return mount_page(app, page, host, port)


def warm_up(engine: Engine) -> None:
    """Load everything the first patient would otherwise wait for (model, prompt prefix, embedder, BM25)."""
    engine.warm_up()


def _port_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _refusal(settings: Settings, host: str, port: int) -> str | None:
    """Why the server must not start on this address, or None."""
    if not is_loopback(host) and not settings.server.api_key:
        return (
            f"Refusing to listen on {host}: other computers could reach the assistant. Set an API key first "
            "(server.api_key in your settings file, or CHATBOT__SERVER__API_KEY=<long random key>), "
            "or leave --host out to stay on 127.0.0.1."
        )
    if not _port_free(host, port):
        return f"Port {port} on {host} is already in use. Choose another with --port."
    return None


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> int:
    """Start the page and the API on one port, after the index and the model are loaded (exit code)."""
    import uvicorn

    host = host or settings.server.host
    port = port or settings.server.port
    refusal = _refusal(settings, host, port)
    if refusal:
        _say(refusal)
        return 2

    engine = Engine(settings)
    _say("Opening the knowledge index…")
    chunks = engine.ensure_index(progress=False)
    _say("Loading the language model…")
    warm_up(engine)
    info = engine.model_info()
    app = build_app(engine, settings, host, port)
    shown = "127.0.0.1" if host in {"0.0.0.0", "::"} else host
    _say(f"Model: {info.name} · Index: {chunks} chunks · Locale: {engine.locale}")
    _say(f"Browser chat: http://{shown}:{port}/   API: http://{shown}:{port}/v1/…   Health: /healthz")
    if settings.server.api_key:
        _say("API routes need 'Authorization: Bearer <key>'; the page asks non-local visitors for the key.")
    _say("Press Ctrl-C to stop.")
    # log_config=None: uvicorn's loggers propagate to the root handlers, which redact identifiers (chatbot.privacy)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, log_config=None)
    return 0

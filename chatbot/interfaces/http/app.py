"""The API application: error handlers, the guard, and the feature routers, around one shared Engine.

No medical logic lives here or in the routes: they validate a body, hand the message to the Engine and return
its Answer unchanged (``Answer.model_dump(mode="json")``).
"""

from __future__ import annotations

import time

from fastapi import FastAPI

from chatbot import __version__
from chatbot.config import Settings
from chatbot.conversation import Engine, SessionStore
from chatbot.interfaces.http.errors import install_error_handlers
from chatbot.interfaces.http.guard import Guard, body_limit
from chatbot.interfaces.http.routes import chat, fallback, health, openai_api
from chatbot.interfaces.http.streaming import TurnCounter
from chatbot.interfaces.records import LocalRecords

ROUTERS = (health.router, chat.router, openai_api.router)  # fallback.router is always included last


def create_api(
    engine: Engine,
    settings: Settings | None = None,
    sessions: SessionStore | None = None,
    records: LocalRecords | None = None,
) -> FastAPI:
    """The API app; ``chatbot.interfaces.server`` mounts the browser page on it (one Engine, one model, one port).

    API sessions live in their own store (the page keeps another), so an API client can never continue a
    browser's conversation by guessing its id.
    """
    settings = settings or engine.settings
    app = FastAPI(
        title="Private health assistant API",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # the docs page would pull scripts from a CDN; the API is described in the README
    )
    app.state.engine = engine
    app.state.settings = settings
    app.state.sessions = sessions or SessionStore(settings.server.max_sessions)
    app.state.records = records or LocalRecords(settings)
    app.state.counter = TurnCounter()
    app.state.started = int(time.time())
    install_error_handlers(app)
    app.add_middleware(Guard, api_key=settings.server.api_key, body_limit=body_limit(settings),
                       rate_limit=settings.server.rate_limit, max_concurrent=settings.server.max_concurrent_per_client)
    for router in (*ROUTERS, fallback.router):
        app.include_router(router)
    app.state.api_methods = fallback.route_methods(list(ROUTERS))
    return app

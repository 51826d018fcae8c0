"""``GET /healthz``: open to monitors (no key), says what is loaded and how many turns are running."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from chatbot.interfaces.http.deps import CounterDep, EngineDep

router = APIRouter()


@router.get("/healthz")
def healthz(engine: EngineDep, counter: CounterDep) -> dict[str, Any]:
    return {"status": "ok", **engine.status(), "active_requests": counter.value}

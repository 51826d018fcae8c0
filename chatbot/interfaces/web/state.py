"""What each browser keeps about its conversation, and how the server reads it back without trusting it.

The state lives in that browser's localStorage (``gr.BrowserState``, encrypted with a per-process secret), so the
server holds a conversation only in memory and can rebuild it after a restart from the browser's own copy.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from chatbot.answer import TriageLevel
from chatbot.interfaces.web.texts import TEXTS

STORAGE_KEY = "private-health-chatbot.v1"
MAX_STORED_MESSAGES = 120
_ROLES = {"user", "assistant"}
_BANNER_LEVELS = {TriageLevel.emergency.value, TriageLevel.urgent.value}
_HEX_ID = re.compile(r"[0-9a-f]{32}")


def new_state(lang: str = "") -> dict[str, Any]:
    # "turn": the id of the turn this page started last (chatbot.interfaces.web.running), for Stop to find it
    return {"sid": uuid.uuid4().hex, "lang": lang, "history": [], "turns": [], "meta": [], "escalation": "",
            "escalation_level": "", "turn": ""}


def _messages(value: Any, text_key: str) -> list[dict[str, Any]]:
    """The last stored messages that have a known role and a text; anything else is dropped."""
    if not isinstance(value, list):
        return []
    return [
        m
        for m in value[-MAX_STORED_MESSAGES:]
        if isinstance(m, dict) and m.get("role") in _ROLES and isinstance(m.get(text_key), str)
    ]


def clean_state(value: Any) -> dict[str, Any]:
    """Whatever the browser sent back, as a well-formed state (foreign or tampered data is dropped, not trusted)."""
    state = new_state()
    if not isinstance(value, dict):
        return state
    for key in ("sid", "turn"):
        if isinstance(value.get(key), str) and _HEX_ID.fullmatch(value[key]):
            state[key] = value[key]
    if value.get("lang") in TEXTS:
        state["lang"] = value["lang"]
    state["history"] = _messages(value.get("history"), "content")
    state["turns"] = _messages(value.get("turns"), "text")
    meta = value.get("meta")
    if isinstance(meta, list) and len(meta) == len(state["history"]):
        state["meta"] = [m if isinstance(m, dict) else {} for m in meta]
    else:
        state["meta"] = [{} for _ in state["history"]]
    if isinstance(value.get("escalation"), str):
        state["escalation"] = value["escalation"]
    if value.get("escalation_level") in _BANNER_LEVELS:
        state["escalation_level"] = value["escalation_level"]
    return state


def trim(state: dict[str, Any]) -> dict[str, Any]:
    """Keep the stored conversation within the browser's budget (history and its metadata stay aligned)."""
    extra = len(state["history"]) - MAX_STORED_MESSAGES
    if extra > 0:
        state["history"] = state["history"][extra:]
        state["meta"] = state["meta"][extra:]
    state["turns"] = state["turns"][-MAX_STORED_MESSAGES:]
    return state


def without_options(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Quick-reply buttons belong to the latest question only."""
    return [{k: v for k, v in m.items() if k != "options"} for m in history]

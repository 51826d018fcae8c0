"""The conversation: session state and the turn pipeline (screen -> intake -> retrieve -> generate -> triage)."""

from chatbot.conversation.engine import Engine, Event, InputError, TurnError
from chatbot.conversation.session import Session, SessionStore

__all__ = ["Engine", "Event", "InputError", "Session", "SessionStore", "TurnError"]

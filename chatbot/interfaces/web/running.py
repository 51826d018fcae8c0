"""The turns a page is running, so that Stop and the step after a turn can find the one they are about.

A turn is streamed by one Gradio event, while Stop and the step that ends a turn are other events, possibly on
other threads: they meet here, by the turn's id (kept in the browser's state). Each turn ends exactly once, as
``done``, ``failed``, ``refused`` (the message was not accepted) or ``stopped``, under its own lock, so a Stop that
races the last token either stops the turn or comes too late, never both.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from chatbot.interfaces.web.turn import TurnView

RUNNING = "running"


@dataclass
class RunningTurn:
    """One turn: the patient's message, the browser state it started from, the page's view of it, and its end."""

    text: str
    state: dict[str, Any]
    view: TurnView
    meta: list[dict[str, Any]]
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    outcome: str = RUNNING
    final: dict[str, Any] | None = None  # the page after a stop, built once
    events: Any = None  # the engine's stream (a generator) of this turn, once it started
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @property
    def running(self) -> bool:
        return self.outcome == RUNNING

    def end(self, outcome: str) -> bool:
        """Settle how the turn ended; False when it had already ended (the first end wins)."""
        with self.lock:
            if self.outcome != RUNNING:
                return False
            self.outcome = outcome
            return True

    def stop(self) -> bool:
        """End the turn as stopped and close the engine's stream now if it is waiting between two events (the model
        stops, the session is free); a stream busy computing (deciding the level) is closed at its next event."""
        stopped = self.end("stopped")
        if stopped and self.events is not None:
            # "generator already executing" (ValueError): the turn's own loop closes it at its next event
            with contextlib.suppress(ValueError):
                self.events.close()
        return stopped


class RunningTurns:
    """Turns by id, bounded: a browser that goes away mid-turn never collects its turn, so the oldest are dropped."""

    def __init__(self, limit: int):
        self.limit = max(1, limit)
        self._turns: OrderedDict[str, RunningTurn] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, turn: RunningTurn) -> RunningTurn:
        with self._lock:
            self._turns[turn.id] = turn
            while len(self._turns) > self.limit:
                self._turns.popitem(last=False)
        return turn

    def get(self, turn_id: str) -> RunningTurn | None:
        with self._lock:
            return self._turns.get(turn_id)

    def pop(self, turn_id: str) -> RunningTurn | None:
        with self._lock:
            return self._turns.pop(turn_id, None)

    def __len__(self) -> int:
        return len(self._turns)

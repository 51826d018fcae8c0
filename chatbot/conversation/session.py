"""Per-patient conversation state, kept in memory only (nothing is written to disk unless the user opts in)."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field

from chatbot.answer import Answer, Source
from chatbot.safety import PatientFacts, describes_symptoms


@dataclass
class Turn:
    role: str  # "user" | "assistant"
    text: str
    symptoms: bool = False  # a user turn that reports the patient's own symptoms (read once, when added)


@dataclass
class Session:
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    turns: list[Turn] = field(default_factory=list)
    facts: PatientFacts = field(default_factory=PatientFacts)
    language: str = "en"
    intake_rounds: int = 0
    last_sources: list[Source] = field(default_factory=list)
    last_answer: Answer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    touched: float = field(default_factory=time.monotonic)

    @property
    def user_messages(self) -> list[str]:
        return [t.text for t in self.turns if t.role == "user"]

    def add_user(self, text: str) -> Turn:
        """Append a patient message, read once for whether it reports symptoms: intake, the care floors and the
        badge all ask that question, and each reads this flag instead of scanning the text again."""
        turn = Turn("user", text, symptoms=describes_symptoms(text))
        self.turns.append(turn)
        return turn

    @property
    def personal(self) -> bool:
        """Whether any patient message so far reports symptoms (a personal badge is due, not only information)."""
        return any(t.symptoms for t in self.turns if t.role == "user")

    @property
    def safe_id(self) -> str:
        """What logs may hold: a hash, never the id in clear."""
        return redact(self.id)

    def reset(self) -> None:
        self.turns.clear()
        self.facts = PatientFacts()
        self.intake_rounds = 0
        self.last_sources = []
        self.last_answer = None


def redact(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:10]


class SessionStore:
    """Bounded in-memory sessions for the web and API tiers; the least recently used are forgotten first."""

    def __init__(self, max_sessions: int = 200) -> None:
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session_id: str | None) -> Session:
        with self._lock:
            if session_id and session_id in self._sessions:
                self._sessions.move_to_end(session_id)
                session = self._sessions[session_id]
            else:
                session = Session(id=session_id or uuid.uuid4().hex)
                self._sessions[session.id] = session
                while len(self._sessions) > self.max_sessions:
                    self._sessions.popitem(last=False)
            session.touched = time.monotonic()
            return session

    def find(self, session_id: str) -> Session | None:
        """The session with this id if the store still holds it (None: unknown or forgotten); never creates one."""
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None:
                self._sessions.move_to_end(session_id)
                session.touched = time.monotonic()
            return session

    def drop(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def __len__(self) -> int:
        return len(self._sessions)

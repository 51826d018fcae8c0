"""The only things the server may write about patients (feedback, transcripts), shared by the page and the API."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from chatbot.answer import Answer
from chatbot.config import Settings
from chatbot.privacy import feedback_path, hash_id, transcript_path


class LocalRecords:
    """Each kind of record sits behind its own opt-in privacy setting.

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
        """Append one turn to the session's transcript; False (and nothing written) unless opted in."""
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

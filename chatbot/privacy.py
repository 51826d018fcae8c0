"""What an opt-in installation stored about patients, and how to remove it (``python -m chatbot privacy``).

Nothing is written unless ``privacy.save_transcripts`` or ``privacy.save_feedback`` is on; then transcripts go to
``data_dir/transcripts/<hashed session>.jsonl`` and feedback to ``data_dir/feedback/feedback.jsonl`` (owner-only
files, see ``LocalRecords`` in the API). A patient's right to erasure needs a way to remove both: one session's
records (by the session id the page or API showed) or everything.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from chatbot.config import Settings


def hash_id(session_id: str, purpose: str = "session") -> str:
    """The salted hash under which a session's records are stored (never the id in clear)."""
    return hashlib.sha256(f"private-health-chatbot:{purpose}:{session_id}".encode()).hexdigest()[:16]


@dataclass
class Stored:
    transcripts: list[Path]
    feedback_rows: int

    def summary(self) -> str:
        return f"{len(self.transcripts)} transcript file(s), {self.feedback_rows} feedback record(s)"


def _feedback_path(settings: Settings) -> Path:
    return settings.data_dir / "feedback" / "feedback.jsonl"


def stored(settings: Settings) -> Stored:
    """What is on disk now."""
    folder = settings.data_dir / "transcripts"
    transcripts = sorted(folder.glob("*.jsonl")) if folder.is_dir() else []
    path = _feedback_path(settings)
    rows = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip()) if path.is_file() else 0
    return Stored(transcripts, rows)


def delete_all(settings: Settings) -> Stored:
    """Remove every transcript and all feedback; returns what was removed."""
    before = stored(settings)
    for path in before.transcripts:
        path.unlink(missing_ok=True)
    _feedback_path(settings).unlink(missing_ok=True)
    return before


def delete_session(settings: Settings, session_id: str) -> Stored:
    """Remove one session's transcript and its feedback rows (the rest of the feedback file is kept)."""
    key = hash_id(session_id)
    transcript = settings.data_dir / "transcripts" / f"{key}.jsonl"
    removed = [transcript] if transcript.is_file() else []
    transcript.unlink(missing_ok=True)
    path, dropped = _feedback_path(settings), 0
    if path.is_file():
        kept = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                mine = json.loads(line).get("session") == key
            except (json.JSONDecodeError, AttributeError):
                mine = False
            dropped += mine
            if not mine and line.strip():
                kept.append(line)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("".join(line + "\n" for line in kept))
        os.replace(tmp, path)  # atomic: a crash leaves the old file or the new one, never half
    return Stored(removed, dropped)

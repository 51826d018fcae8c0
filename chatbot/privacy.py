"""What an opt-in installation stored about patients, and how to remove it (``python -m chatbot privacy``).

Nothing is written unless ``privacy.save_transcripts`` or ``privacy.save_feedback`` is on; then transcripts go to
``data_dir/transcripts/<hashed session>.jsonl`` and feedback to ``data_dir/feedback/feedback.jsonl`` (owner-only
files, see ``LocalRecords`` in the API). A patient's right to erasure needs a way to remove both: one session's
records (by the session id the page or API showed) or everything.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from chatbot.config import Settings
from chatbot.safety.language import CJK


def hash_id(session_id: str, purpose: str = "session") -> str:
    """The salted hash under which a session's records are stored (never the id in clear)."""
    return hashlib.sha256(f"private-health-chatbot:{purpose}:{session_id}".encode()).hexdigest()[:16]


@dataclass
class Stored:
    transcripts: list[Path]
    feedback_rows: int

    def summary(self) -> str:
        return f"{len(self.transcripts)} transcript file(s), {self.feedback_rows} feedback record(s)"


def feedback_path(settings: Settings) -> Path:
    """Where opt-in feedback is appended (``LocalRecords`` writes it, this module reads and deletes it)."""
    return settings.data_dir / "feedback" / "feedback.jsonl"


def transcript_path(settings: Settings, session_id: str) -> Path:
    """One session's opt-in transcript, named by the session's hash."""
    return settings.data_dir / "transcripts" / f"{hash_id(session_id)}.jsonl"


def stored(settings: Settings) -> Stored:
    """What is on disk now."""
    folder = settings.data_dir / "transcripts"
    transcripts = sorted(folder.glob("*.jsonl")) if folder.is_dir() else []
    path = feedback_path(settings)
    rows = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip()) if path.is_file() else 0
    return Stored(transcripts, rows)


def delete_all(settings: Settings) -> Stored:
    """Remove every transcript and all feedback; returns what was removed."""
    before = stored(settings)
    for path in before.transcripts:
        path.unlink(missing_ok=True)
    feedback_path(settings).unlink(missing_ok=True)
    return before


def delete_session(settings: Settings, session_id: str) -> Stored:
    """Remove one session's transcript and its feedback rows (the rest of the feedback file is kept)."""
    key = hash_id(session_id)
    transcript = transcript_path(settings, session_id)
    removed = [transcript] if transcript.is_file() else []
    transcript.unlink(missing_ok=True)
    path, dropped = feedback_path(settings), 0
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


# ---- identifiers in logs --------------------------------------------------------------------------------------------
_IDENTIFIERS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "[email]"),
    # national numbers first, so a phone pattern does not eat half of one: Chinese resident ID, NHS, US SSN
    (re.compile(r"(?<!\d)\d{6}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?!\d)"), "[id]"),
    (re.compile(r"(?<!\d)\d{3}[ -]\d{3}[ -]\d{4}(?!\d)|(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)"), "[id]"),
    (re.compile(r"(?:\+|00)\d{1,3}[\s.-]?(?:\(?\d{1,5}\)?[\s.-]?){2,5}\d{2,4}|(?<![\d.])(?:\(?0\d{2,4}\)?[\s.-]?)?"
                r"\d{3,4}[\s.-]?\d{3,4}(?![\d.])|(?<!\d)1[3-9]\d{9}(?!\d)"), "[phone]"),
    (re.compile(r"(?<!\d)(?:\d{1,2}[/.-]\d{1,2}[/.-](?:19|20)\d{2}|(?:19|20)\d{2}[/.-]\d{1,2}[/.-]\d{1,2}"
                r"|(?:19|20)\d{2}年\d{1,2}月\d{1,2}日)(?!\d)"), "[date]"),
    (re.compile(r"(?i)\b(?:my name is|i am called|i'm called|name:|patient:)\s+[A-Z][\w'-]+(?:\s+[A-Z][\w'-]+)?"),
     "[name]"),
    (re.compile(rf"(?:我叫|我的名字是|姓名[:：]?|患者[:：])\s*[{CJK}]{{2,4}}"), "[name]"),
    (re.compile(r"(?i)\b\d{1,5}\s+(?:[A-Z][a-z]+\s+){1,3}(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|close"
                r"|way|court|place|crescent|boulevard|blvd)\b|\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b"), "[address]"),
    (re.compile(rf"[{CJK}]{{2,12}}(?:路|街|大道|巷|胡同)\d+号(?:[{CJK}\d]{{0,10}}(?:室|楼|单元))?"),
     "[address]"),
]


def redact_identifiers(text: str) -> str:
    """``text`` with names, dates, phone and ID numbers, e-mail and street addresses replaced by placeholders."""
    for pattern, placeholder in _IDENTIFIERS:
        text = pattern.sub(placeholder, text)
    return text


class RedactingFilter(logging.Filter):
    """A handler filter: every log line (message, arguments and traceback) leaves with identifiers redacted.

    Why on the handlers: a filter on a logger only sees records logged on that logger, not on its children or on
    libraries; handlers see everything that is written.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the line
            message = str(record.msg)
        record.msg, record.args = redact_identifiers(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_identifiers(record.exc_text)
        return True


def redact_logs(logger: logging.Logger | None = None) -> None:
    """Install :class:`RedactingFilter` on every handler of ``logger`` (the root logger by default), once."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())

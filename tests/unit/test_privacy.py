"""Opt-in records can be listed and deleted: one session, or everything; files stay owner-only."""

from __future__ import annotations

import json
import stat

from chatbot.answer import Answer
from chatbot.interfaces.api import LocalRecords
from chatbot.interfaces.cli import main
from chatbot.privacy import delete_all, delete_session, stored
from tests.conftest import fake_settings


def _records(tmp_path):
    settings = fake_settings(tmp_path, privacy={"save_transcripts": True, "save_feedback": True})
    records = LocalRecords(settings)
    for sid in ("alice-session", "bob-session"):
        records.transcript(sid, "I have a rash", Answer(answer="…", kind="answer"))
        records.feedback(sid, {"rating": "up"})
    return settings


def test_delete_one_session_keeps_the_others(tmp_path):
    settings = _records(tmp_path)
    assert stored(settings).summary() == "2 transcript file(s), 2 feedback record(s)"
    removed = delete_session(settings, "alice-session")
    assert len(removed.transcripts) == 1 and removed.feedback_rows == 1
    left = stored(settings)
    assert len(left.transcripts) == 1 and left.feedback_rows == 1
    feedback = settings.data_dir / "feedback" / "feedback.jsonl"
    assert stat.S_IMODE(feedback.stat().st_mode) == 0o600
    assert json.loads(feedback.read_text(encoding="utf-8"))["session"] == LocalRecords.hash_id("bob-session")
    assert "alice" not in feedback.read_text(encoding="utf-8")  # ids are stored hashed


def test_delete_all_and_the_command(tmp_path, capsys):
    settings = _records(tmp_path)
    config = tmp_path / "settings.yaml"
    config.write_text(f"data_dir: {settings.data_dir}\n", encoding="utf-8")
    assert main(["--config", str(config), "privacy", "delete"]) == 2  # neither --all nor --session: refused
    assert stored(settings).feedback_rows == 2
    assert main(["--config", str(config), "privacy", "delete", "--all"]) == 0
    assert "2 transcript file(s), 2 feedback record(s)" in capsys.readouterr().out
    assert stored(settings).summary() == "0 transcript file(s), 0 feedback record(s)"
    assert delete_all(settings).summary() == "0 transcript file(s), 0 feedback record(s)"  # idempotent

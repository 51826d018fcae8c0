"""Opt-in records can be listed and deleted: one session, or everything; files stay owner-only."""

from __future__ import annotations

import json
import stat

import pytest

from chatbot.answer import Answer
from chatbot.interfaces.cli import main
from chatbot.interfaces.records import LocalRecords
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


SEEDED = [  # (text, identifiers that must not survive)
    ("My name is John Smith, DOB 03/04/1961", ["John", "Smith", "03/04/1961"]),
    ("call 07700 900123 or +44 20 7946 0958, email j.smith@example.com", ["900123", "7946", "j.smith@"]),
    ("NHS number 943 476 5919, SSN 123-45-6789", ["943 476 5919", "123-45-6789"]),
    ("lives at 221 Baker Street, NW1 6XE", ["221 Baker", "NW1 6XE"]),
    ("我叫王小明 身份证110101199003071234 电话13812345678", ["王小明", "110101199003071234", "13812345678"]),
    ("住在北京市朝阳区建国路88号3单元", ["建国路88号"]),
    ("born 1990-03-07, 1990年3月7日出生", ["1990-03-07", "1990年3月7日"]),
]


@pytest.mark.parametrize(("text", "secrets"), SEEDED)
def test_identifiers_never_reach_a_log_line(text, secrets):
    import io
    import logging

    from chatbot.privacy import redact_logs

    stream = io.StringIO()
    logger = logging.getLogger(f"test.redact.{abs(hash(text))}")
    logger.propagate = False
    logger.addHandler(logging.StreamHandler(stream))
    redact_logs(logger)
    logger.warning("turn failed for %s", text)
    try:
        raise ValueError(text)
    except ValueError:
        logger.exception("unexpected")
    written = stream.getvalue()
    assert "turn failed for" in written and "ValueError" in written
    for secret in secrets:
        assert secret not in written


def test_clinical_numbers_are_kept():
    from chatbot.privacy import redact_identifiers

    text = "temperature 38.5, BP 140/90, 2 x 500mg at 8:30 for 3 days, glucose 7.8 mmol/L, sats 94%, 52 years"
    assert redact_identifiers(text) == text

"""The terminal interface with fake backends: commands, JSON output, exit codes and the interactive loop."""

import io
import json
import shutil

import pytest

from chatbot.interfaces import cli
from tests.conftest import TOPICS


@pytest.fixture
def fake_env(tmp_path, monkeypatch):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("sore-throat.md", "headache.md", "chest-pain.md"):
        shutil.copy(TOPICS / name, corpus / name)
    for key, value in {
        "CHATBOT__DATA_DIR": str(tmp_path / "data"),
        "CHATBOT__LLM__BACKEND": "fake",
        "CHATBOT__EMBEDDING__BACKEND": "fake",
        "CHATBOT__INGEST__PATHS": f"[{corpus}]",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("CHATBOT_PROFILE", raising=False)
    return corpus


def _run(capsys, *args):
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_ask_json_prints_one_answer_object(fake_env, capsys):
    code, out, _ = _run(capsys, "ask", "--json", "What helps a sore throat?")
    payload = json.loads(out)
    assert code == 0
    assert {"answer", "sources", "timings", "triage", "model"} <= set(payload)
    assert payload["sources"][0]["url"].startswith("https://")


def test_ask_plain_streams_answer_triage_and_sources(fake_env, capsys):
    code, out, _ = _run(capsys, "ask", "What helps a sore throat?")
    assert code == 0 and "Assistant:" in out and "Sources" in out and "[1]" in out


def test_screen_and_triage_json(fake_env, capsys):
    code, out, _ = _run(capsys, "screen", "--json", "crushing chest pain going down my left arm, sweating")
    screen = json.loads(out)
    assert code == 0 and screen["level"] == "emergency" and "911" in screen["escalation"]
    code, out, _ = _run(capsys, "triage", "--json", "mild headache since this morning")
    triage = json.loads(out)
    assert code == 0 and triage["kind"] == "triage" and triage["triage"]["level"]


def test_escalation_panel_follows_the_decided_level(fake_env, capsys):
    code, out, _ = _run(capsys, "ask", "my right calf is swollen and really tender")  # urgent-only red flag
    assert code == 0 and "URGENT: get medical help today" in out and "EMERGENCY" not in out
    code, out, _ = _run(capsys, "ask", "crushing chest pain going down my left arm, sweating")
    assert code == 0 and "EMERGENCY" in out and "URGENT: get medical help" not in out
    code, out, _ = _run(capsys, "triage", "我有尿路感染，现在发烧了")  # urgent, in Chinese
    assert code == 0 and "尽快就医" in out and "紧急情况" not in out and "EMERGENCY" not in out


def test_empty_question_is_a_clear_error(fake_env, capsys):
    code, out, _ = _run(capsys, "ask", "--json", "   ")
    assert code == 2 and "empty" in json.loads(out)["error"]


def test_bad_profile_is_reported_not_raised(fake_env, capsys):
    code, _, err = _run(capsys, "--profile", "turbo", "ask", "hi")
    assert code == 2 and "unknown profile" in err


def test_ingest_reports_bad_files_and_keeps_going(fake_env, capsys):
    (fake_env / "broken.md").write_bytes(b"\x00\x01 not text")
    code, out, _ = _run(capsys, "ingest", str(fake_env))
    assert code == 0
    assert "skipped" in out and "broken.md" in out and "3 new" in out


def test_knowledge_check_passes_on_the_bundled_knowledge(fake_env, capsys):
    code, out, _ = _run(capsys, "knowledge", "check")
    assert code == 0 and "knowledge check passed" in out


def test_interactive_chat_commands_and_clean_exit(fake_env, capsys, monkeypatch):
    script = "/help\n\nWhat helps a sore throat?\n/sources\n/reset\n" + "x" * 5000 + "\n/quit\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(script))
    code, out, _ = _run(capsys, "chat")
    assert code == 0
    assert "Commands:" in out  # /help
    assert "Type a question" in out  # the empty line got a hint
    assert out.count("Sources") >= 2  # after the answer, and again for /sources
    assert "Started a new conversation" in out
    assert "limit is 4000" in out  # over-long message: clear message, the chat goes on
    assert "Goodbye" in out


def test_ctrl_d_exits_cleanly(fake_env, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, out, _ = _run(capsys, "chat")
    assert code == 0 and "Goodbye" in out

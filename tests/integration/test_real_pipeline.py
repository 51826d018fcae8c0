"""The real path end to end: Chroma on disk, the bundled MiniLM embedder and llama.cpp (SmolLM2 for speed, plus
one turn with the default model). SmolLM2's text is never judged for quality, only for the pipeline's contract."""

import json
import os
import subprocess
import sys

import pytest

from chatbot.answer import TriageLevel
from chatbot.config import PROJECT_ROOT, load_settings
from chatbot.conversation import Engine, Session
from tests.conftest import TOPICS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real_engine(real_data_dir):
    settings = load_settings("test", overrides={"data_dir": str(real_data_dir),
                                                "conversation": {"intake_enabled": False}}, environ={})
    engine = Engine(settings)
    assert engine.ensure_index(progress=False) > 500  # the whole bundled knowledge base
    return engine


def test_streamed_turn_with_real_components(real_engine):
    session = Session()
    events = list(real_engine.stream(session, "What can I do at home for a sore throat?"))
    tokens = [e for e in events if e.type == "token"]
    answer = events[-1].answer
    assert len(tokens) > 3
    assert answer.kind == "answer"
    assert any(s.topic_id in {"sore-throat", "tonsillitis"} for s in answer.sources)
    assert answer.model.name == "smollm2" and answer.model.sha256
    _assert_level_is_the_highest_layer(answer.triage)
    assert answer.timings.first_token_ms and answer.timings.total_ms >= answer.timings.first_token_ms


def test_emergency_is_escalated_with_the_real_stack(real_engine):
    answer = real_engine.ask(Session(), "my dad's face is drooping on one side and his speech is slurred")
    assert answer.triage.level == TriageLevel.emergency
    assert answer.escalation and "911" in answer.escalation


def test_follow_up_turn_and_structured_triage(real_engine):
    session = Session()
    real_engine.ask(session, "I think I have the flu")
    second = real_engine.ask(session, "how long will it last?")
    assert second.kind in {"answer", "no_sources"}
    triage = real_engine.triage_only(Session(), "I have a mild cough and runny nose since yesterday", use_model=True)
    _assert_level_is_the_highest_layer(triage.triage)  # model output parsed or fallback: never nothing


def test_reingest_of_bundled_knowledge_is_a_no_op(real_engine):
    from chatbot.knowledge.ingest import Ingestor

    report = Ingestor(real_engine.store).run([TOPICS], progress=False)
    assert report.chunks_added == 0 and report.files_unchanged == report.files_seen


def _cli(*args, env_extra=None, timeout=600):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "chatbot", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=PROJECT_ROOT)


def test_cli_ask_json_and_screen(real_engine):
    env = {"CHATBOT__DATA_DIR": str(real_engine.settings.data_dir), "CHATBOT__CONVERSATION__INTAKE_ENABLED": "false"}
    out = _cli("--profile", "test", "ask", "--json", "What is a migraine?", env_extra=env)
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert {"answer", "sources", "timings", "triage"} <= set(payload)
    assert all({"title", "url", "score"} <= set(s) for s in payload["sources"])
    screen = _cli("screen", "--json", "she is unconscious and not breathing", env_extra=env)
    assert json.loads(screen.stdout)["level"] == "emergency"
    empty = _cli("--profile", "test", "ask", "--json", "   ", env_extra=env)
    assert empty.returncode == 2 and "empty" in json.loads(empty.stdout)["error"]


def test_default_model_answers_with_citations(real_data_dir):
    """One real turn with the bundled 1.5B model (about a minute on 2 cores)."""
    settings = load_settings("cpu", overrides={"data_dir": str(real_data_dir),
                                               "conversation": {"intake_enabled": False, "model_triage": False},
                                               "llm": {"max_tokens": 96}}, environ={})
    engine = Engine(settings)
    engine.ensure_index(progress=False)
    answer = engine.ask(Session(), "What can I do at home for a sore throat?")
    assert answer.model.name == "default"
    assert answer.kind == "answer" and len(answer.answer) > 40
    assert answer.sources and any(s.topic_id in {"sore-throat", "tonsillitis"} for s in answer.sources)


def test_default_model_triage_reads_level_probabilities(real_data_dir):
    """The calibrated decision through real llama.cpp: probabilities read at the level, the decided level kept."""
    from chatbot.safety.triage import LEVELS, decide_level

    settings = load_settings("cpu", overrides={"data_dir": str(real_data_dir)}, environ={})
    engine = Engine(settings)
    engine.ensure_index(progress=False)
    triage = engine.triage_only(Session(), "I've had a mild dry cough for three days", use_model=True).triage
    probs = triage.model_probabilities
    assert set(probs) == set(LEVELS) and sum(probs.values()) == pytest.approx(1.0, abs=0.01)
    assert triage.model_level == decide_level(probs, settings.triage.thresholds)


def _assert_level_is_the_highest_layer(triage) -> None:
    """The decided level is the most urgent of rules, care floors and model (routine when none spoke), with a reason."""
    assert triage is not None and triage.reasons
    expected = TriageLevel.highest(triage.rules_level, triage.floor_level, triage.model_level) or TriageLevel.routine
    assert triage.level == expected, triage

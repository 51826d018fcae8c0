"""bench/load.py's short CI run: 2 patients x 2 turns, streamed through a real ``serve`` that uses a real Chroma server
(the topics ingested with ``python -m chatbot ingest``) and a real ``llm-server`` with 1, then 2 slots (test profile:
SmolLM2). Every service is started here on a free loopback port and stopped afterwards; a service that does not
start fails the test, it never skips. SmolLM2's text is not judged, only the contract: no errors, the emergency
escalated, no patient sees another's name, and every figure measured."""

from __future__ import annotations

import shutil
import time

import pytest

from bench import load
from tests.conftest import TOPICS

pytestmark = pytest.mark.slow

MODES = ("llm-server-1+chroma-server", "llm-server-2+chroma-server")
BUDGET_S = 170  # the whole run, service starts included (~2 min measured on a busy 2-core machine)
# What the scripted turns ask about: enough for retrieval to find sources, small enough to ingest in seconds.
CORPUS = ("chest-pain.md", "heart-attack.md", "common-cold.md", "fatigue.md", "abdominal-pain.md", "headache.md",
          "paracetamol.md", "ibuprofen-and-nsaids.md", "dehydration.md")
# llama.cpp with as many threads as the 2 cores decoded up to ~100x slower when another job held one of them (measured);
# one thread keeps the run inside its budget on a shared CI machine.
ONE_THREAD = {"CHATBOT__LLM__N_THREADS": "1"}


@pytest.fixture(scope="module")
def rows(tmp_path_factory) -> list[dict]:
    tmp = tmp_path_factory.mktemp("load")
    corpus = tmp / "corpus"
    corpus.mkdir()
    for name in CORPUS:
        shutil.copy(TOPICS / name, corpus / name)
    plan = load.Plan("test", patients=2, turns=2, api="chat", deadline=time.monotonic() + BUDGET_S, workdir=tmp,
                     ingest_paths=[corpus], extra_env=ONE_THREAD)
    return load.run(MODES, plan)


def test_every_mode_started_and_answered_without_errors(rows):
    assert [r["mode"] for r in rows] == list(MODES)
    for row in rows:
        assert "failed" not in row, row.get("failed")
        assert row["turns"] == 4 and row["errors"] == 0 and row["error_rate"] == 0, row["error_samples"]


def test_every_emergency_turn_was_escalated(rows):
    for row in rows:
        emergencies = [t for t in row["turn_records"] if t["kind"] == "emergency"]
        assert emergencies and row["emergency_escalated"] == row["emergency_turns"] == len(emergencies)
        assert all(t["level"] == "emergency" and t["escalation_s"] is not None for t in emergencies)


def test_no_patient_received_another_patients_name(rows):
    for row in rows:
        assert row["isolation_ok"], row["isolation_problems"]
        assert all(t["leaked"] == [] for t in row["turn_records"])


def test_every_figure_was_measured(rows):
    for row in rows:
        for key in ("escalation_s", "level_s", "first_token_s", "turn_s"):
            figures = row[key]
            assert figures["n"] >= 1 and 0 < figures["p50"] <= figures["p95"], (row["mode"], key, figures)
        assert row["turns_per_min"] > 0 and row["startup_s"] > 0
        # the escalation comes from the rules before any model work: in each turn, before the model's first token
        for turn in row["turn_records"]:
            if turn["escalation_s"] is not None and turn["first_token_s"] is not None:
                assert turn["escalation_s"] < turn["first_token_s"], turn


def test_the_isolation_check_catches_a_planted_leak():
    patients = load.make_patients(3, 2)
    seen = load.TurnResult(0, 0, "intake", "chat", text=f"... as {patients[2].token} said earlier ...")
    clean = load.TurnResult(1, 0, "intake", "chat", text=f"Hello {patients[1].token}")
    assert load.check_isolation(patients, [seen, clean]) == [f"patient 0 turn 0 received {patients[2].token}"]
    assert seen.leaked == [patients[2].token] and clean.leaked == []


def test_openai_chunks_are_timed_escalation_first():
    stream = load.Stream(time.perf_counter())
    chunk = '{"choices": [{"delta": {"content": %s}}]}'
    for text in ('"Call 911 now.\\n\\n"', '"Sit"', '" down"'):
        load.on_openai_event(stream, "message", chunk % text)
    load.on_openai_event(stream, "message", '{"choices": [{"delta": {}}], "health_answer": {"escalation": '
                         '"Call 911 now.", "kind": "answer", "triage": {"level": "emergency"}}}')
    load.on_openai_event(stream, "message", "[DONE]")
    load.settle_openai(stream)
    assert stream.escalation_s is not None and stream.escalation_s <= stream.first_token_s <= stream.level_s
    result = load.turn_result(stream, 0, 0, "emergency", "openai")
    assert result.escalated and result.error is None

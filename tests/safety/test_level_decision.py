"""The model's level from its level probabilities: thresholds, the logits processor, the engine path, calibration."""

import json
import re
import threading

import numpy as np
import pytest

from chatbot.answer import TriageLevel
from chatbot.config.settings import LevelThresholds
from chatbot.conversation import Session
from chatbot.generation import Choice, FakeLLM
from chatbot.generation.llm import LlamaCppLLM
from chatbot.safety.triage import LEVEL_TRIGGER, LEVELS, decide_level

CUTS = LevelThresholds(emergency=0.15, urgent=0.5, self_care=0.5)
MILD = "I have had a mild runny nose for two days"


def _probs(e=0.0, u=0.0, r=0.0, s=0.0):
    return {"emergency": e, "urgent": u, "routine": r, "self_care": s}


@pytest.mark.parametrize(
    ("probs", "level"),
    [
        (_probs(e=0.2, u=0.6, s=0.2), TriageLevel.emergency),  # a minority belief in emergency is enough
        (_probs(e=0.1, u=0.45, s=0.45), TriageLevel.urgent),  # emergency + urgent reach the urgent cut
        (_probs(e=0.05, u=0.1, r=0.2, s=0.65), TriageLevel.self_care),
        (_probs(e=0.05, u=0.2, r=0.4, s=0.35), TriageLevel.routine),  # nothing reaches a cut: routine
        ({}, TriageLevel.routine),
    ],
)
def test_decide_level_applies_the_most_urgent_cut_first(probs, level):
    assert decide_level(probs, CUTS) == level


def test_choice_settle_normalises_over_the_options_and_records_the_decision():
    choice = Choice(LEVEL_TRIGGER, LEVELS, lambda p: decide_level(p, CUTS).value)
    assert choice.settle({"emergency": 0.1, "urgent": 0.3, "routine": 0.1, "self_care": 0.0}) == "emergency"
    assert sum(choice.probabilities.values()) == pytest.approx(1.0)
    assert choice.probabilities["emergency"] == pytest.approx(0.2)


class _StubLlama:
    """Tokenizer of a toy vocabulary: whole words, first letters and a shared token ``x``."""

    vocab = ["{", '"level": "', "e", "emergency", "u", "urgent", "r", "routine", "s", "self", "_care", "x", '"']

    def tokenize(self, text, add_bos=False, special=False):
        if text.decode() in self.vocab:
            return [self.vocab.index(text.decode())]
        return [0, 0]  # not a single token

    def detokenize(self, ids):
        return "".join(self.vocab[i] for i in ids).encode()


def _llm_with_stub():
    llm = LlamaCppLLM.__new__(LlamaCppLLM)
    llm._llama, llm._option_tokens = _StubLlama(), {}
    llm._lock, llm._load_lock = threading.Lock(), threading.Lock()
    return llm


def test_option_tokens_are_the_single_tokens_that_start_each_option():
    tokens = _llm_with_stub().option_tokens(LEVELS)
    vocab = _StubLlama.vocab
    assert {o: [vocab[i] for i in ids] for o, ids in tokens.items()} == {
        "emergency": ["e", "emergency"],
        "urgent": ["u", "urgent"],
        "routine": ["r", "routine"],
        "self_care": ["s", "self"],
    }


def test_processor_reads_probabilities_at_the_trigger_and_masks_the_other_levels():
    llm = _llm_with_stub()
    choice = Choice(LEVEL_TRIGGER, LEVELS, lambda p: decide_level(p, CUTS).value)
    process = llm._choice_processor(choice)
    prompt = [11, 11, 11]
    scores = np.zeros(len(_StubLlama.vocab), dtype=np.float32)
    assert process(np.array(prompt), scores.copy()) is not None and choice.chosen is None  # before the trigger
    logits = np.full(len(_StubLlama.vocab), -5.0, dtype=np.float32)
    logits[[3, 5, 9]] = [np.log(0.2), np.log(0.7), np.log(0.1)]  # emergency 0.2, urgent 0.7, self 0.1
    out = process(np.array([*prompt, 0, 1]), logits)
    assert choice.chosen == "emergency"  # 0.2 >= 0.15, although "urgent" is the most probable
    assert choice.probabilities["urgent"] > choice.probabilities["emergency"]
    assert np.isneginf(out[[4, 5, 6, 7, 8, 9]]).all() and np.isfinite(out[[2, 3]]).all()


def test_engine_uses_the_calibrated_decision_and_reports_probabilities(engine):
    engine._llm = FakeLLM(choice_probabilities=_probs(e=0.3, u=0.5, r=0.1, s=0.1))
    triage = engine.triage_only(Session(), MILD, use_model=True).triage
    default = engine.settings.triage.thresholds
    assert triage.model_level == decide_level(triage.model_probabilities, default) == TriageLevel.emergency
    assert triage.model_probabilities["urgent"] == pytest.approx(0.5)
    assert triage.level == TriageLevel.emergency  # final = max(rules, model)


def test_a_cut_short_json_still_gets_the_decided_level(engine):
    engine._llm = FakeLLM(triage_json='{"level": "self_care", "reas', choice_probabilities=_probs(u=0.9, s=0.1))
    triage = engine.triage_only(Session(), MILD, use_model=True).triage
    assert triage.model_level == TriageLevel.urgent
    assert triage.reasons == ["See a doctor if you are unsure or if things get worse."]  # never a bare level


@pytest.mark.parametrize("override", [{"decision": "greedy"}, {"calibrated_for": "fast"}])
def test_greedy_when_asked_or_when_the_thresholds_belong_to_another_model(engine, override):
    engine.settings = engine.settings.model_copy(update={"triage": engine.settings.triage.model_copy(update=override)})
    engine._llm = FakeLLM(choice_probabilities=_probs(e=0.9, s=0.1))  # would say emergency if consulted
    triage = engine.triage_only(Session(), MILD, use_model=True).triage
    assert triage.model_level == TriageLevel.routine  # the fake's own JSON level
    assert triage.model_probabilities == {}


def test_calibration_fits_cut_offs_that_separate_the_levels(tmp_path):
    from evals import calibrate
    from evals.datasets import load_triage

    cases = load_triage("own").cases
    rows = []
    for case in cases:  # a model whose emergency probability tracks the gold level, but never ranks it first
        gold = case.gold.label
        probs = {
            "emergency": _probs(e=0.25, u=0.6, s=0.15),
            "urgent": _probs(e=0.08, u=0.62, s=0.3),
            "routine": _probs(e=0.04, u=0.3, r=0.3, s=0.36),
            "self_care": _probs(e=0.02, u=0.18, r=0.1, s=0.7),
        }[gold]
        rows.append({"id": case.id, "rules_raw": None, "model_probabilities": probs})
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    loaded = calibrate.load_cases(path, "own")
    thresholds, _ = calibrate.fit(loaded)
    summary = calibrate.report(loaded, thresholds)
    assert summary["greedy"]["model"]["emergency_recall"] == 0.0
    assert summary["calibrated"]["model"]["accuracy"] == 1.0
    assert 0.08 < thresholds.emergency <= 0.25
    assert calibrate.emergency_auc(loaded) == 1.0


def test_calibration_refuses_a_run_without_probabilities(tmp_path):
    from evals import calibrate

    path = tmp_path / "cases.jsonl"
    path.write_text(json.dumps({"id": "own-001", "rules_raw": None, "model_probabilities": {}}))
    with pytest.raises(calibrate.CalibrationError, match="no rows with model_probabilities"):
        calibrate.load_cases(path, "own")


def test_level_trigger_matches_the_json_just_before_the_level():
    assert re.search(LEVEL_TRIGGER, '{"level": "') and re.search(LEVEL_TRIGGER, '{ "level" :"')
    assert not re.search(LEVEL_TRIGGER, '{"level": "urgent"')


def test_calibrate_command_explains_a_missing_cases_file(tmp_path, capsys):
    from evals.cli import main

    assert main(["calibrate", str(tmp_path / "nope.jsonl")]) == 2
    assert "not found" in capsys.readouterr().out
    assert main(["calibrate", str(tmp_path / "nope.jsonl"), "--apply", "0.1,abc,0.5"]) == 2
    assert "three numbers" in capsys.readouterr().err

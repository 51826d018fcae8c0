"""Grounding support scoring, threshold checks and dataset loaders, without models."""

from __future__ import annotations

import fnmatch
import json

import pytest

from chatbot.config import PROJECT_ROOT
from chatbot.embedding import FakeEmbedder
from evals import compare
from evals.cli import main
from evals.datasets import DatasetError, load_vignettes, sample
from evals.support import citations, declines, lexical_overlap, score_answer, split_sentences, strip_citations

CHUNKS = [
    "Drink plenty of fluids. Rest at home until the fever goes.",
    "Paracetamol can lower a high temperature. Follow the dose on the packet.",
]


def test_sentences_citations_and_stripping():
    text = "Drink plenty of fluids [1]. Paracetamol can help [2][9].\n- Rest at home."
    assert split_sentences(text) == ["Drink plenty of fluids [1].", "Paracetamol can help [2][9].", "Rest at home."]
    assert citations(text, 2) == [1, 2]  # [9] points at no source
    assert strip_citations("Rest [1] now [2].") == "Rest now ."
    assert split_sentences("多喝水。注意休息！") == ["多喝水。", "注意休息！"]


def test_supported_sentence_scores_high_and_invented_one_low():
    answer = "Drink plenty of fluids and rest at home [1]. Antibiotics always cure a viral fever quickly [1]."
    scores = score_answer(answer, CHUNKS, FakeEmbedder())
    assert [s.cites for s in scores] == [[1], [1]]
    assert scores[0].supported and scores[0].lexical >= 0.75
    assert not scores[1].supported


def test_uncited_answer_has_no_evidence():
    scores = score_answer("Drink plenty of fluids and rest at home.", CHUNKS, FakeEmbedder())
    assert len(scores) == 1 and scores[0].semantic == 0.0 and not scores[0].supported


def test_sentence_without_marker_uses_chunks_cited_elsewhere():
    answer = "Paracetamol can lower a high temperature [2]. Follow the dose on the packet for children."
    scores = score_answer(answer, CHUNKS, FakeEmbedder())
    assert scores[1].cites == [] and scores[1].supported


def test_lexical_overlap_and_declines():
    assert lexical_overlap("fever fever rest", "rest when you have a fever") == 1.0
    assert lexical_overlap("the and of", "anything") == 0.0
    assert declines("I'm sorry, my sources do not cover this question.")
    assert declines("I could not find this in my medical reference library, so I won't guess.")
    assert declines("我的医学参考资料中没有找到相关内容")
    assert not declines("Drink plenty of fluids [1].")


def test_threshold_rules_floor_ceiling_and_drops(tmp_path):
    rules_file = tmp_path / "t.yaml"
    rules_file.write_text(
        "rules:\n"
        "  - metric: 'triage.*.emergency_recall'\n    min: 0.8\n    max_drop: 0.05\n"
        "  - metric: 'latency.*.p50'\n    max: 1000\n    max_rise: 100\n"
    )
    rules = compare.load_thresholds(rules_file)
    new = {"triage.a.emergency_recall": 0.85, "triage.b.emergency_recall": 0.7, "latency.x.p50": 950.0,
           "other": 1.0, "triage.c.emergency_recall": float("nan")}
    old = {"triage.a.emergency_recall": 0.95, "latency.x.p50": 800.0}
    checks = compare.check(new, rules, old)
    failed = {(c.metric, c.rule) for c in checks if not c.passed}
    assert failed == {("triage.b.emergency_recall", "min"), ("triage.a.emergency_recall", "max_drop"),
                      ("latency.x.p50", "max_rise")}
    assert len(checks) == 5  # a: min + max_drop, b: min, x: max + max_rise; nothing for "other" or NaN
    assert "FAILED" in compare.render(checks, compare.deltas(new, old))
    assert compare.deltas({"m": 1.0}, {"m": 1.0}) == []


def test_a_pattern_that_matches_no_measured_metric_fails_the_gate():
    rules = [{"metric": "safety.refusals.accuracy", "min": 0.9}, {"metric": "safety.emergency.recall", "min": 0.8},
             {"metric": "triage.*.combined.accuracy", "min": 0.5}]
    # the safety suite ran, but its refusal accuracy is now called something else: the floor must not vanish
    new = {"safety.refusals.acc": 1.0, "safety.emergency.recall": 0.9}
    checks = compare.check(new, rules)
    failed = [(c.metric, c.rule) for c in checks if not c.passed]
    assert failed == [("safety.refusals.accuracy", compare.UNMATCHED)]  # triage did not run: its rule is skipped
    text = compare.render(checks)
    assert "FAILED" in text and "`safety.refusals.accuracy`" in text and "match no metric" in text
    assert "1 of 2 checks passed" in text
    # a suite that ran but reported nothing (it raised) does not skip its floors either
    scope = compare.Scope({"safety", "triage"})
    assert {c.metric for c in compare.check(new, rules, scope=scope) if not c.passed} == {
        "safety.refusals.accuracy", "triage.*.combined.accuracy"}


def test_datasets_left_out_of_a_run_are_not_dangling_patterns():
    rules = [{"metric": "retrieval.medquad.hybrid.recall@10", "min": 0.8},
             {"metric": "retrieval.kb-en.hybrid.recall@3", "min": 0.8}]
    new = {"retrieval.kb.hybrid.mrr": 0.9}
    only_kb = compare.Scope({"retrieval"}, {"retrieval.medquad", "retrieval.liveqa"})
    # medquad was left out (skipped); kb ran, and kb-en is one of its parts, so its missing recall@3 fails
    assert [c.metric for c in compare.check(new, rules, scope=only_kb)] == ["retrieval.kb-en.hybrid.recall@3"]
    assert compare.measured("retrieval.kb-zh-heldout.hybrid.mrr", compare.Scope({"retrieval"}, {"retrieval.kb"}),
                            ["retrieval.kb-zh-heldout.hybrid.recall@3"])


def test_run_and_compare_know_which_datasets_a_run_left_out(tmp_path):
    from evals.cli import _report_scope, _scope

    scope = _scope(["retrieval", "safety"], ["kb"])
    assert "retrieval.medquad" in scope.left_out and "retrieval.kb" not in scope.left_out
    # --dataset kb is not a safety dataset: the safety suite ran its defaults, which leave out only the blind set
    assert {item for item in scope.left_out if item.startswith("safety.")} == {"safety.harmful2"}
    assert "retrieval.kb-zh-heldout" in _scope(["retrieval"], []).left_out  # not among the defaults
    old = tmp_path / "old.json"  # a report from before the choice was recorded: read from its command
    command = "python -m evals run --suite retrieval --dataset kb"
    old.write_text(json.dumps({"command": command, "suites": {"retrieval": {}}, "metrics": {"retrieval.kb.x": 0.9}}))
    assert "retrieval.medquad" in _report_scope(old).left_out


def test_current_threshold_patterns_all_match_the_baseline_reports():
    metrics: dict[str, float] = {}
    for path in sorted((PROJECT_ROOT / "evals" / "reports" / "baseline").glob("*/report.json")):
        metrics.update(compare.load_metrics(path))
    for name in ("thresholds.yaml", "thresholds-smoke.yaml"):
        for rule in compare.load_thresholds(PROJECT_ROOT / "evals" / name):
            assert fnmatch.filter(metrics, rule["metric"]), f"{name}: {rule['metric']} matches no baseline metric"


def test_bad_thresholds_file_is_explained(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("rules: {metric: x}\n")
    with pytest.raises(ValueError, match="rules"):
        compare.load_thresholds(path)


def test_sample_is_seeded_ordered_and_complete_without_limit():
    items = list(range(50))
    first = sample(items, 10, seed=3)
    assert first == sample(items, 10, seed=3) and first == sorted(first)
    assert first != sample(items, 10, seed=4)
    assert sample(items, None, 0) == items and sample(items, 99, 0) == items


def test_user_vignettes_are_validated(tmp_path):
    good = tmp_path / "mine.jsonl"
    good.write_text(json.dumps({"id": "m1", "messages": ["chest pain"], "gold": "emergency", "language": "en"}) + "\n")
    dataset = load_vignettes(good, "mine")
    assert dataset.cases[0].gold.low == "emergency" and dataset.name == "mine"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "m1", "messages": ["x"], "gold": "soon"}) + "\n")
    with pytest.raises(DatasetError, match="gold must be one of"):
        load_vignettes(bad, "bad")


SAFETY = {"safety.refusals.accuracy": 1.0, "safety.refusals.false_refusal_rate": 0.0, "safety.emergency.recall": 0.9,
          "safety.benign.false_alarm_rate": 0.1}


def test_compare_two_reports_passes_on_equal_and_fails_on_a_drop(tmp_path, capsys):
    old = {"metrics": SAFETY}
    worse = {"metrics": {**SAFETY, "safety.refusals.accuracy": 0.5}}
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(worse))
    thresholds = PROJECT_ROOT / "evals" / "thresholds.yaml"
    assert main(["compare", str(tmp_path / "old.json"), str(tmp_path / "old.json"), "--thresholds",
                 str(thresholds)]) == 0
    assert main(["compare", str(tmp_path / "new.json"), str(tmp_path / "old.json"), "--thresholds",
                 str(thresholds)]) == 1
    assert "FAILED" in capsys.readouterr().out

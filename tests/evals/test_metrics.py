"""Metric functions on hand-made inputs whose answers are worked out by hand."""

from __future__ import annotations

import math

import pytest

from evals.metrics import (
    FAILED,
    GoldBand,
    confusion,
    dcg,
    dedupe,
    describe,
    floor_summary,
    ndcg_at_k,
    percentile,
    ranking_summary,
    recall_at_k,
    reciprocal_rank,
    triage_outcome,
    triage_summary,
)

EMERGENCY = GoldBand("emergency", "emergency", "emergency")
SEE_DOCTOR = GoldBand("non_emergency", "routine", "urgent")
SELF_CARE = GoldBand("self_care", "self_care", "self_care")


def test_recall_at_k_is_a_hit_within_the_first_k():
    ranked = ["a", "b", "c", "d"]
    assert recall_at_k(ranked, {"c"}, 2) == 0.0
    assert recall_at_k(ranked, {"c"}, 3) == 1.0
    assert recall_at_k(ranked, {"x"}, 10) == 0.0
    assert recall_at_k(ranked, {"b": 1.0, "d": 0.0}, 1) == 0.0  # zero gain is not relevant
    assert recall_at_k([], {"a"}, 5) == 0.0


def test_floor_summary_counts_questions_left_with_nothing():
    summary = floor_summary(in_kb=[["a"], [], ["b", "c"], ["a"]], out_of_kb=[[], ["x"], []])
    assert summary["in_kb_no_hits_rate"] == 0.25  # one answerable question wrongly left with nothing
    assert summary["oos_rejected_rate"] == pytest.approx(2 / 3)
    assert summary["oos_n"] == 3
    assert math.isnan(floor_summary([], [])["oos_rejected_rate"])


def test_reciprocal_rank_uses_the_first_relevant_item_and_the_cutoff():
    assert reciprocal_rank(["a", "b", "c"], {"b", "c"}) == 0.5
    assert reciprocal_rank(["a", "b", "c"], {"c"}, k=2) == 0.0
    assert reciprocal_rank(["a", "b", "c"], {"z"}) == 0.0


def test_ndcg_perfect_worst_and_a_worked_example():
    gains = {"a": 3.0, "b": 1.0}
    assert ndcg_at_k(["a", "b", "x"], gains) == pytest.approx(1.0)
    assert ndcg_at_k(["x", "y"], gains) == 0.0
    # ranking b, a: DCG = 1/log2(2) + 3/log2(3); ideal = 3 + 1/log2(3)
    expected = (1 + 3 / math.log2(3)) / (3 + 1 / math.log2(3))
    assert ndcg_at_k(["b", "a"], gains) == pytest.approx(expected)
    assert ndcg_at_k(["a"], {}) == 0.0


def test_ndcg_counts_a_repeated_item_once():
    assert ndcg_at_k(["a", "a"], {"a": 1.0, "b": 1.0}) == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert dcg([1.0, 1.0]) == pytest.approx(1 + 1 / math.log2(3))


def test_dedupe_keeps_first_occurrences_in_order():
    assert dedupe(["t1", "t2", "t1", "t3", "t2"]) == ["t1", "t2", "t3"]


def test_ranking_summary_averages_over_queries_and_uses_strict_relevance_when_given():
    rankings = [["a", "b"], ["x", "y"]]
    gains = [{"b": 2.0}, {"y": 1.0}]
    summary = ranking_summary(rankings, gains, ks=(1, 2))
    assert summary["recall@1"] == 0.0
    assert summary["recall@2"] == 1.0
    assert summary["mrr"] == 0.5
    strict = ranking_summary(rankings, gains, relevant=[{"b": 2.0}, {}], ks=(2,))
    assert strict["recall@2"] == 0.5
    assert ranking_summary([], []) == {}


def test_gold_band_and_outcomes():
    assert SEE_DOCTOR.accepts("urgent") and SEE_DOCTOR.accepts("routine")
    assert not SEE_DOCTOR.accepts("emergency") and not SEE_DOCTOR.accepts("self_care")
    assert triage_outcome("self_care", SEE_DOCTOR) == "under"
    assert triage_outcome("emergency", SEE_DOCTOR) == "over"
    assert triage_outcome("urgent", EMERGENCY) == "under"
    assert triage_outcome("routine", SELF_CARE) == "over"
    assert triage_outcome(FAILED, SELF_CARE) == FAILED


def test_triage_summary_on_a_known_set():
    golds = [EMERGENCY, EMERGENCY, SEE_DOCTOR, SEE_DOCTOR, SELF_CARE, SELF_CARE]
    predicted = ["emergency", "urgent", "routine", "emergency", "self_care", FAILED]
    s = triage_summary(predicted, golds)
    assert s["n"] == 6
    assert s["accuracy"] == pytest.approx(3 / 6)
    assert s["under_triage_rate"] == pytest.approx(1 / 6)  # emergency called urgent
    assert s["over_triage_rate"] == pytest.approx(1 / 6)  # see-a-doctor called emergency
    assert s["failed_rate"] == pytest.approx(1 / 6)
    assert s["accuracy"] + s["under_triage_rate"] + s["over_triage_rate"] + s["failed_rate"] == pytest.approx(1)
    assert s["emergency_recall"] == 0.5
    assert s["emergency_at_least_urgent"] == 1.0  # the missed one was still called urgent
    assert s["false_emergency_rate"] == pytest.approx(1 / 4)


def test_triage_summary_without_emergencies_has_nan_recall():
    s = triage_summary(["routine"], [SELF_CARE])
    assert math.isnan(s["emergency_recall"])
    assert triage_summary([], []) == {}


def test_confusion_rows_are_gold_labels_and_columns_levels_plus_failed():
    golds = [EMERGENCY, SEE_DOCTOR, SEE_DOCTOR, SELF_CARE]
    labels = ["emergency", "non_emergency", "self_care"]
    matrix = confusion(["emergency", "urgent", "routine", "nonsense"], golds, labels)
    # columns: self_care, routine, urgent, emergency, failed
    assert matrix == [[0, 0, 0, 1, 0], [0, 1, 1, 0, 0], [0, 0, 0, 0, 1]]


def test_percentiles_and_describe():
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([5], 90) == 5
    assert math.isnan(percentile([], 50))
    d = describe([1.0, 2.0, 3.0, float("nan")])
    assert d == {"mean": 2.0, "p50": 2.0, "p90": pytest.approx(2.8), "max": 3.0}

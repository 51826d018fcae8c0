"""Pure metric functions: no engine, no I/O, so they can be unit-tested on hand-made inputs with known answers.

Ranking metrics take a ranked list of item ids and the set (or graded dict) of relevant ids. Triage metrics take
predicted levels and a gold *band*: the lowest and highest level that count as correct, because Semigran's
"non-emergent, see a doctor" gold accepts both ``urgent`` and ``routine``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

LEVELS: tuple[str, ...] = ("self_care", "routine", "urgent", "emergency")
RANK: dict[str, int] = {level: i for i, level in enumerate(LEVELS)}
FAILED = "failed"


# ---- ranking ------------------------------------------------------------------------------------------------------
def recall_at_k(ranked: Sequence[str], relevant: set[str] | Mapping[str, float], k: int) -> float:
    """1.0 when at least one relevant item is in the top k, else 0.0 (success@k, the usual QA-retrieval 'recall').

    With one relevant passage per query (MedQuAD self-retrieval) this equals classic recall@k; for the knowledge
    base, where any chunk of a gold topic counts, "did a useful passage reach the prompt" is what matters.
    """
    wanted = _relevant_set(relevant)
    return 1.0 if any(item in wanted for item in ranked[:k]) else 0.0


def reciprocal_rank(ranked: Sequence[str], relevant: set[str] | Mapping[str, float], k: int | None = None) -> float:
    """1/rank of the first relevant item (0 when none is found within the first k)."""
    wanted = _relevant_set(relevant)
    for i, item in enumerate(ranked[:k] if k else ranked):
        if item in wanted:
            return 1.0 / (i + 1)
    return 0.0


def dcg(gains: Sequence[float]) -> float:
    """Discounted cumulative gain with the standard log2(rank + 1) discount and linear gains."""
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def ndcg_at_k(ranked: Sequence[str], gains: Mapping[str, float], k: int = 10) -> float:
    """nDCG@k with graded gains; an item's gain counts only at its first occurrence in the ranking.

    The ideal ranking is the relevant items sorted by gain. Returns 0 when nothing is relevant.
    """
    seen: set[str] = set()
    got: list[float] = []
    for item in ranked[:k]:
        got.append(gains.get(item, 0.0) if item not in seen else 0.0)
        seen.add(item)
    ideal = sorted((g for g in gains.values() if g > 0), reverse=True)[:k]
    best = dcg(ideal)
    return dcg(got) / best if best > 0 else 0.0


def dedupe(ranked: Sequence[str]) -> list[str]:
    """Keep the first occurrence of each item: several chunks of one topic collapse to the topic's best rank."""
    seen: set[str] = set()
    out = []
    for item in ranked:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def _relevant_set(relevant: set[str] | Mapping[str, float]) -> set[str]:
    if isinstance(relevant, Mapping):
        return {item for item, gain in relevant.items() if gain > 0}
    return set(relevant)


def ranking_summary(
    rankings: Sequence[Sequence[str]],
    gains: Sequence[Mapping[str, float]],
    relevant: Sequence[Mapping[str, float]] | None = None,
    ks: Sequence[int] = (1, 5, 10),
) -> dict[str, float]:
    """Mean recall@k for each k, MRR@10 and nDCG@10 over a set of queries.

    ``gains`` feed nDCG (computed on the de-duplicated ranking); ``relevant`` (default: items with gain > 0)
    decides hits for recall and MRR, so graded sets can demand more than "related" for a hit.
    """
    if not rankings:
        return {}
    relevant = relevant if relevant is not None else gains
    pairs = list(zip(rankings, relevant))
    out = {f"recall@{k}": _mean(recall_at_k(r, g, k) for r, g in pairs) for k in ks}
    out["mrr"] = _mean(reciprocal_rank(r, g, 10) for r, g in pairs)
    out["ndcg@10"] = _mean(ndcg_at_k(dedupe(r), g, 10) for r, g in zip(rankings, gains))
    return out


def floor_summary(in_kb: Sequence[Sequence[str]], out_of_kb: Sequence[Sequence[str]]) -> dict[str, float]:
    """What the relevance floor decides, from the hits it let through for each question.

    ``in_kb_no_hits_rate``: share of answerable questions left with nothing (a false "my sources do not cover
    this"); ``oos_rejected_rate``: share of out-of-KB questions left with nothing (the right answer); NaN for none.
    """
    out = {"oos_n": float(len(out_of_kb))}
    out["in_kb_no_hits_rate"] = _mean(float(not hits) for hits in in_kb)
    out["oos_rejected_rate"] = _mean(float(not hits) for hits in out_of_kb)
    return out


# ---- triage -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GoldBand:
    """The levels that count as correct for one case: every level from ``low`` to ``high`` inclusive."""

    label: str  # the dataset's own gold label, for the confusion matrix rows
    low: str
    high: str

    def accepts(self, level: str) -> bool:
        return level in RANK and RANK[self.low] <= RANK[level] <= RANK[self.high]

    @property
    def is_emergency(self) -> bool:
        return self.low == "emergency"


def triage_outcome(predicted: str, gold: GoldBand) -> str:
    """``correct``, ``under`` (below the band: the dangerous error), ``over`` (above it) or ``failed`` (no answer)."""
    if predicted not in RANK:
        return FAILED
    if gold.accepts(predicted):
        return "correct"
    return "under" if RANK[predicted] < RANK[gold.low] else "over"


def triage_summary(predicted: Sequence[str], golds: Sequence[GoldBand]) -> dict[str, float]:
    """Exact accuracy, emergency recall, under-/over-triage rates and failure rate for one predictor.

    Rates are shares of all cases (so accuracy + under + over + failed = 1). Emergency recall is the share of gold
    emergencies predicted ``emergency``; ``emergency_at_least_urgent`` the share sent at least to same-day care
    (Semigran's "emergent" includes "see a GP immediately", which our ``urgent`` also covers); false-emergency rate
    is the share of non-emergencies called ``emergency``.
    """
    n = len(golds)
    if n == 0:
        return {}
    outcomes = [triage_outcome(p, g) for p, g in zip(predicted, golds)]
    emergencies = [p for p, g in zip(predicted, golds) if g.is_emergency]
    others = [p for p, g in zip(predicted, golds) if not g.is_emergency]
    return {
        "n": float(n),
        "accuracy": outcomes.count("correct") / n,
        "under_triage_rate": outcomes.count("under") / n,
        "over_triage_rate": outcomes.count("over") / n,
        "failed_rate": outcomes.count(FAILED) / n,
        "emergency_recall": _share(emergencies, lambda p: p == "emergency"),
        "emergency_at_least_urgent": _share(emergencies, lambda p: p in ("urgent", "emergency")),
        "false_emergency_rate": _share(others, lambda p: p == "emergency"),
    }


def confusion(predicted: Sequence[str], golds: Sequence[GoldBand], labels: Sequence[str]) -> list[list[int]]:
    """Rows: gold labels in ``labels`` order; columns: LEVELS then ``failed``."""
    columns = [*LEVELS, FAILED]
    matrix = [[0] * len(columns) for _ in labels]
    for p, g in zip(predicted, golds):
        column = columns.index(p) if p in columns else columns.index(FAILED)
        matrix[list(labels).index(g.label)][column] += 1
    return matrix


def _share(items: Sequence[str], test) -> float:
    return sum(1 for i in items if test(i)) / len(items) if items else float("nan")


# ---- distributions ------------------------------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100); NaN for no values."""
    data = sorted(v for v in values if v is not None and not math.isnan(v))
    if not data:
        return float("nan")
    pos = (len(data) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def describe(values: Sequence[float]) -> dict[str, float]:
    """mean / p50 / p90 / max of a sample, the figures latency tables show."""
    data = [v for v in values if v is not None and not math.isnan(v)]
    if not data:
        return {"mean": float("nan"), "p50": float("nan"), "p90": float("nan"), "max": float("nan")}
    return {
        "mean": statistics.fmean(data),
        "p50": percentile(data, 50),
        "p90": percentile(data, 90),
        "max": max(data),
    }


def _mean(values) -> float:
    data = list(values)
    return sum(data) / len(data) if data else float("nan")

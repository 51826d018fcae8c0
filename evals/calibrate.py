"""Fit the triage thresholds (``triage.thresholds`` in settings) to a triage run's recorded level probabilities.

Why: a small model's greedy level is biased, but the probabilities it gives the four levels rank cases well
(chatbot.safety.triage.decide_level). The thresholds are fitted on one dataset (our own vignettes) and must then be
judged on another (Semigran-45): a figure on the data the thresholds were fitted to is not a measurement.

The search is a plain grid over the three cut-offs. The objective is the accuracy of the model's own level minus
``under_weight`` (default 0) times its under-triage rate. Why the model's own level: fitting the final level
(``target="combined"``) on a set where the rules already catch every emergency teaches the model nothing about
emergencies, and the model is there for the cases the rules miss. Why no extra weight by default: with the weak
default model, a weight of 1 (an under-triaged case costing twice an over-triaged one) already tips the fit into
calling nearly everything an emergency (accuracy 40% on our vignettes); the rules stay the floor for emergencies.
Ties go to the cut-offs nearest the middle of the tied region, which moves least when the data change a little.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatbot.answer import TriageLevel
from chatbot.config.settings import LevelThresholds
from chatbot.safety.triage import decide_level
from evals.datasets import load_triage
from evals.metrics import GoldBand, triage_summary

_EMERGENCY_GRID = [round(0.01 * i, 2) for i in range(1, 61)]
_COARSE_GRID = [round(0.05 * i, 2) for i in range(1, 20)]


class CalibrationError(ValueError):
    """The cases file cannot be used for calibration; the message says why."""


@dataclass
class Case:
    gold: GoldBand
    rules: str | None
    probabilities: dict[str, float]


def load_cases(cases_file: Path, dataset: str) -> list[Case]:
    """Join a triage run's cases file (rows with ``model_probabilities``) with the dataset's gold bands."""
    if not cases_file.is_file():
        raise CalibrationError(f"{cases_file} not found: run `python -m evals run --suite triage --dataset {dataset}`")
    bands = {case.id: case.gold for case in load_triage(dataset).cases}
    rows = [json.loads(line) for line in cases_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    cases = [
        Case(bands[row["id"]], row.get("rules_raw"), row["model_probabilities"])
        for row in rows
        if row.get("model_probabilities") and row.get("id") in bands
    ]
    if not cases:
        raise CalibrationError(
            f"{cases_file} has no rows with model_probabilities for dataset {dataset!r}: rerun the triage suite "
            "with the default model (greedy-only backends record none)"
        )
    return cases


def predict(cases: list[Case], thresholds: LevelThresholds | None) -> tuple[list[str], list[str]]:
    """(model levels, final levels) for every case; ``None`` thresholds = the model's most probable level."""
    model = [_model_level(c.probabilities, thresholds) for c in cases]
    final = [
        TriageLevel.highest(TriageLevel(m), TriageLevel(c.rules) if c.rules else None).value
        for m, c in zip(model, cases)
    ]
    return model, final


def _model_level(probabilities: dict[str, float], thresholds: LevelThresholds | None) -> str:
    if thresholds is None:
        return max(probabilities, key=lambda level: probabilities[level])
    return decide_level(probabilities, thresholds).value


def fit(cases: list[Case], under_weight: float = 0.0, target: str = "model") -> tuple[LevelThresholds, float]:
    """The grid point with the best objective for ``target`` (model or combined); ties resolved to their centre."""
    golds = [c.gold for c in cases]
    scored: list[tuple[float, tuple[float, float, float]]] = []
    for e in _EMERGENCY_GRID:
        for u in _COARSE_GRID:
            for s in _COARSE_GRID:
                model, final = predict(cases, LevelThresholds(emergency=e, urgent=u, self_care=s))
                summary = triage_summary(model if target == "model" else final, golds)
                scored.append((summary["accuracy"] - under_weight * summary["under_triage_rate"], (e, u, s)))
    best = max(score for score, _ in scored)
    tied = [point for score, point in scored if score >= best - 1e-9]
    centre = [sum(p[i] for p in tied) / len(tied) for i in range(3)]
    e, u, s = min(tied, key=lambda p: sum((p[i] - centre[i]) ** 2 for i in range(3)))
    return LevelThresholds(emergency=e, urgent=u, self_care=s), best


def emergency_auc(cases: list[Case]) -> float:
    """How well P(emergency) ranks gold emergencies above the other cases (0.5 = chance, 1 = perfect)."""
    pos = [c.probabilities.get("emergency", 0.0) for c in cases if c.gold.is_emergency]
    neg = [c.probabilities.get("emergency", 0.0) for c in cases if not c.gold.is_emergency]
    if not pos or not neg:
        return float("nan")
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def report(cases: list[Case], thresholds: LevelThresholds) -> dict[str, Any]:
    """Metrics of the model alone and the final level, greedy versus the given thresholds."""
    golds = [c.gold for c in cases]
    out: dict[str, Any] = {}
    for name, chosen in (("greedy", None), ("calibrated", thresholds)):
        model, final = predict(cases, chosen)
        out[name] = {"model": triage_summary(model, golds), "combined": triage_summary(final, golds)}
    return out


def main(
    cases_file: Path, dataset: str, under_weight: float, thresholds: LevelThresholds | None, target: str = "model"
) -> int:
    """Fit (or, given ``thresholds``, just apply) and print metrics and the settings snippet."""
    try:
        cases = load_cases(cases_file, dataset)
    except CalibrationError as exc:
        print(f"error: {exc}")
        return 2
    if thresholds is None:
        thresholds, objective = fit(cases, under_weight, target)
        print(
            f"fitted on {len(cases)} cases of {dataset} for the {target} level (objective {objective:.3f}, "
            f"under_weight {under_weight})"
        )
    else:
        print(f"applied to {len(cases)} cases of {dataset}")
    print(f"AUC of P(emergency), gold emergencies vs the rest: {emergency_auc(cases):.3f}")
    keys = ("accuracy", "emergency_recall", "under_triage_rate", "over_triage_rate")
    print(f"{'':24s}" + "".join(f"{k:>20s}" for k in keys))
    for mode, parts in report(cases, thresholds).items():
        for predictor, summary in parts.items():
            print(f"{mode + ' ' + predictor:24s}" + "".join(f"{summary[k]:20.3f}" for k in keys))
    values = thresholds.model_dump()
    print("settings:\n  triage:\n    thresholds: {" + ", ".join(f"{k}: {v}" for k, v in values.items()) + "}")
    return 0

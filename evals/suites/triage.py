"""Triage accuracy of the deterministic layer alone, the model alone and the combination, from one run per case.

Each case runs through ``Engine.triage_only`` (screen and care floors -> retrieve -> model triage), which
reports ``rules_level`` (red flags; None when no rule fired), ``floor_level`` (care floors; None when none held),
``model_level`` (None when the model was not run or failed) and the final ``level`` = max of the three. Scoring:

- rules alone ("rules"): the deterministic layer, max(red-flag rules, care floors); nothing fired counts as
  ``routine`` (the engine's own fallback when it has nothing else);
- model alone: a failed/unparseable model answer counts as ``failed`` (wrong, neither under- nor over-triage);
- combined: the level the patient is shown.

Gold is a band (see evals.metrics.GoldBand): Semigran "non-emergent" accepts urgent or routine. Under-triage =
predicted below the band (for a non-emergency: self_care), over-triage = above it (for a non-emergency:
emergency). Multi-message vignettes run every message in one session; the model is asked only on the last one.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from chatbot.answer import TriageLevel
from chatbot.safety.triage import decided_by
from evals import charts
from evals.common import RunContext, SuiteResult
from evals.datasets import TRIAGE_DATASETS, Dataset, TriageCase, load_triage, triage_labels
from evals.metrics import FAILED, LEVELS, confusion, triage_outcome, triage_summary
from evals.report import table

NAME = "triage"
DATASETS = TRIAGE_DATASETS
NO_RULE = "routine"


def run(ctx: RunContext) -> SuiteResult:
    result = SuiteResult(NAME)
    use_model = not ctx.options.rules_only
    settings = ctx.settings()
    engine = ctx.engine(settings, with_llm=use_model)
    result.notes.append(
        "rules alone (red-flag rules and care floors): a case where nothing fired counts as 'routine'; "
        "model alone: a failed answer counts as wrong"
    )
    if not use_model:
        result.notes.append("--rules-only: the model was not run; 'combined' is the rules' level with the fallback")
    for name in ctx.options.datasets or TRIAGE_DATASETS:
        dataset = load_triage(name, ctx.options.limit, ctx.options.seed)
        result.add_dataset(dataset)
        checkpoint = ctx.checkpoint(NAME, name)
        cases, reused, redecided = [], 0, 0
        for case in ctx.progress(dataset.cases, f"triage {name}"):
            row = checkpoint.done.get(case.id)
            if row is None or row.get("used_model") != use_model:
                row = checkpoint.add(_run_case(engine, case, use_model))
            else:
                reused += 1
                updated = _redecide(engine, case, row)
                if updated is not row:
                    row, redecided = checkpoint.replace(updated), redecided + 1
            cases.append({**row, "band": case.gold})
        if reused:
            result.notes.append(f"{name}: {reused} cases reused from an earlier run in this folder (--resume)")
        if redecided:
            checkpoint.rewrite()
            result.notes.append(
                f"{name}: {redecided} reused cases were re-decided under the current red-flag rules, care floors "
                "and triage thresholds (rules re-run; the model level from its recorded level probabilities, "
                "which the model does not need to recompute)"
            )
        _score(ctx, result, dataset, cases, use_model)
    return result


def _run_case(engine: Any, case: TriageCase, use_model: bool) -> dict[str, Any]:
    """All messages in one session; only the last one asks the model (earlier ones just build the context)."""
    from chatbot.conversation import Session

    session = Session()
    started = time.perf_counter()
    for message in case.messages[:-1]:
        engine.triage_only(session, message, use_model=False)
    answer = engine.triage_only(session, case.messages[-1], use_model=use_model)
    triage = answer.triage
    deterministic = TriageLevel.highest(triage.rules_level, triage.floor_level)
    rules = deterministic.value if deterministic else None
    model = triage.model_level.value if triage.model_level else (FAILED if use_model else None)
    return {
        "id": case.id,
        "language": case.language,
        "style": case.style,
        "gold": case.gold.label,
        "used_model": use_model,
        "rules_raw": rules,
        "red_flag_level": triage.rules_level.value if triage.rules_level else None,
        "floor_level": triage.floor_level.value if triage.floor_level else None,
        "rules": rules or NO_RULE,
        "model": model,
        "combined": triage.level.value,
        "decided_by": triage.decided_by,
        "red_flags": [f.id for f in triage.red_flags],
        "care_floors": [f.id for f in triage.care_floors],
        "model_probabilities": triage.model_probabilities,
        "probe_level": triage.probe_level.value if triage.probe_level else None,
        "probe_probabilities": triage.probe_probabilities,
        "seconds": round(time.perf_counter() - started, 2),
    }


def _redecide(engine: Any, case: TriageCase, row: dict[str, Any]) -> dict[str, Any]:
    """A reused case under the current rules, care floors and thresholds; the same row when nothing changes.

    The deterministic layer is re-run on the case's messages (milliseconds); the model's level is re-decided from
    its recorded probabilities (a pure function of them and the thresholds), so the slow model is not re-run.
    """
    fresh = _run_case(engine, case, use_model=False)
    rules = TriageLevel(fresh["red_flag_level"]) if fresh.get("red_flag_level") else None
    floor = TriageLevel(fresh["floor_level"]) if fresh.get("floor_level") else None
    model = row.get("model")
    choice = engine.level_choice() if row.get("used_model") and row.get("model_probabilities") else None
    if choice is not None:
        model = choice.decide(row["model_probabilities"])
    model_level = TriageLevel(model) if model in LEVELS else None
    signs = engine.signs.fired(row.get("probe_probabilities") or {}) if row.get("used_model") else []
    probe = TriageLevel.highest(*(f.level for f in signs))
    final = TriageLevel.highest(model_level, rules, floor, probe) or TriageLevel.routine
    updated = {**row, "model": model, "combined": final.value, "probe_level": probe.value if probe else None,
               "decided_by": decided_by(rules, model_level, floor, probe)}
    for key in ("rules_raw", "red_flag_level", "floor_level", "rules", "red_flags"):
        updated[key] = fresh[key]
    updated["care_floors"] = [*fresh["care_floors"], *(f.id for f in signs)]
    same = all(updated.get(k) == row.get(k)
               for k in ("model", "combined", "rules", "red_flags", "care_floors", "probe_level"))
    return row if same else updated


def _predictors(use_model: bool) -> tuple[str, ...]:
    return ("rules", "model", "combined") if use_model else ("rules", "combined")


def _score(ctx: RunContext, result: SuiteResult, dataset: Dataset, cases: list[dict], use_model: bool) -> None:
    name, labels = dataset.name, triage_labels(dataset)
    golds = [c["band"] for c in cases]
    rows, matrices = [], {}
    for predictor in _predictors(use_model):
        predicted = [c[predictor] for c in cases]
        summary = triage_summary(predicted, golds)
        summary["rule_fired_rate"] = sum(1 for c in cases if c["rules_raw"]) / len(cases) if cases else 0.0
        if predictor != "rules":
            summary.pop("rule_fired_rate")
        result.add_metrics(f"{name}.{predictor}", summary)
        rows.append([predictor, *(summary[k] for k in _HEADLINE)])
        matrices[predictor] = confusion(predicted, golds, labels)
    result.add_metrics(f"{name}", {"seconds_per_case": _mean([c["seconds"] for c in cases])})
    _by_language(result, name, cases, use_model)
    headers = ["predictor", "accuracy", "emergency recall", "emergency ≥ urgent", "under-triage", "over-triage",
               "false emergency", "failed"]
    result.sections.append((f"Triage: {name} ({len(cases)} cases)", table(headers, rows)))
    result.sections += _confusion_tables(name, labels, matrices)
    result.sections.append((f"Triage: {name}, per case", _case_table(cases, use_model)))
    chart = charts.confusion_matrices(ctx.options.out, name, labels, [*LEVELS, FAILED], matrices)
    if chart:
        result.charts.append(chart)
    result.details[name] = [{k: v for k, v in c.items() if k != "band"} for c in cases]


_HEADLINE = ("accuracy", "emergency_recall", "emergency_at_least_urgent", "under_triage_rate", "over_triage_rate",
             "false_emergency_rate", "failed_rate")


def _by_language(result: SuiteResult, name: str, cases: list[dict], use_model: bool) -> None:
    """Per-language figures when a dataset mixes languages (English and Chinese), and per writing style when it
    records one (the vignette bank: lay, clinical, messy)."""
    for key in ("language", "style"):
        groups: dict[str, list[dict]] = defaultdict(list)
        for case in cases:
            if case.get(key):
                groups[case[key]].append(case)
        if len(groups) < 2:
            continue
        for value, group in sorted(groups.items()):
            for predictor in _predictors(use_model):
                summary = triage_summary([c[predictor] for c in group], [c["band"] for c in group])
                result.add_metrics(f"{name}-{value}.{predictor}", {k: summary[k] for k in _HEADLINE})


def _confusion_tables(name: str, labels: tuple[str, ...], matrices: dict[str, list[list[int]]]) -> list:
    columns = [*LEVELS, FAILED]
    sections = []
    for predictor, matrix in matrices.items():
        keep = [j for j, col in enumerate(columns) if col != FAILED or any(row[j] for row in matrix)]
        rows = [[label, *(row[j] for j in keep)] for label, row in zip(labels, matrix)]
        headers = ["gold \\ predicted", *(columns[j] for j in keep)]
        sections.append((f"Confusion: {name}, {predictor}", table(headers, rows)))
    return sections


def _case_table(cases: list[dict], use_model: bool) -> str:
    """Ids and labels only: Semigran's vignette text is not ours to copy into the repository."""
    rows = []
    for c in cases:
        marks = {p: _mark(triage_outcome(c[p], c["band"])) for p in _predictors(use_model)}
        row = [c["id"], c["language"], c["gold"], f"{c['rules_raw'] or '-'} {marks['rules']}"]
        if use_model:
            row.append(f"{c['model']} {marks['model']}")
        row += [f"{c['combined']} {marks['combined']}", ", ".join(c["red_flags"]) or "-", c["seconds"]]
        rows.append(row)
    headers = ["id", "lang", "gold", "rules", *(["model"] if use_model else []), "combined", "red flags", "s"]
    legend = "✓ correct, ↓ under-triage, ↑ over-triage, ✗ failed; rules '-' = no rule fired (scored as routine)\n\n"
    return legend + table(headers, rows)


def _mark(outcome: str) -> str:
    return {"correct": "✓", "under": "↓", "over": "↑"}.get(outcome, "✗")


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0

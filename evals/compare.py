"""Threshold checks and report-to-report comparison.

A thresholds file lists rules; each names a metric pattern (fnmatch: ``*`` also crosses dots) and any of
``min`` / ``max`` (absolute floor / ceiling on the new value) and ``max_drop`` / ``max_rise`` (largest allowed
change against an older report, in the metric's own unit). A metric missing from a run, or NaN, is skipped:
``--limit`` runs and partial suites compare only what they measured.
"""

from __future__ import annotations

import fnmatch
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from evals.report import table


@dataclass
class Check:
    metric: str
    rule: str
    value: float
    limit: float
    old: float | None
    passed: bool


def load_thresholds(path: Path) -> list[dict[str, Any]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    rules = data.get("rules", [])
    if not isinstance(rules, list) or not all(isinstance(r, dict) and "metric" in r for r in rules):
        raise ValueError(f"{path}: expected `rules:` as a list of mappings with a `metric` pattern")
    return rules


def load_metrics(path: Path) -> dict[str, float]:
    return json.loads(Path(path).read_text(encoding="utf-8")).get("metrics", {})


def check(new: dict[str, float], rules: list[dict[str, Any]], old: dict[str, float] | None = None) -> list[Check]:
    """Apply every rule to every metric it matches."""
    checks: list[Check] = []
    for rule in rules:
        for metric in sorted(fnmatch.filter(new, rule["metric"])):
            value = new[metric]
            if value is None or math.isnan(value):
                continue
            checks += _apply(metric, value, rule, (old or {}).get(metric))
    return checks


def _apply(metric: str, value: float, rule: dict[str, Any], old: float | None) -> list[Check]:
    out = []
    if "min" in rule:
        out.append(Check(metric, "min", value, rule["min"], old, value >= rule["min"] - 1e-9))
    if "max" in rule:
        out.append(Check(metric, "max", value, rule["max"], old, value <= rule["max"] + 1e-9))
    if old is not None and not math.isnan(old):
        if "max_drop" in rule:
            out.append(Check(metric, "max_drop", value, rule["max_drop"], old, old - value <= rule["max_drop"] + 1e-9))
        if "max_rise" in rule:
            out.append(Check(metric, "max_rise", value, rule["max_rise"], old, value - old <= rule["max_rise"] + 1e-9))
    return out


def deltas(new: dict[str, float], old: dict[str, float]) -> list[list[Any]]:
    """Rows of (metric, old, new, delta) for every metric both reports have and that changed."""
    rows = []
    for metric in sorted(set(new) & set(old)):
        a, b = old[metric], new[metric]
        if a is None or b is None or (math.isnan(a) and math.isnan(b)):
            continue
        if a != b:
            rows.append([metric, a, b, b - a])
    return rows


def render(checks: list[Check], delta_rows: list[list[Any]] | None = None) -> str:
    """Markdown: failed checks first, then a count of passes, then the deltas."""
    failed = [c for c in checks if not c.passed]
    parts = [f"{len(checks) - len(failed)} of {len(checks)} checks passed."]
    if failed:
        rows = [[c.metric, c.rule, c.limit, c.old if c.old is not None else float("nan"), c.value] for c in failed]
        parts.append("FAILED:\n\n" + table(["metric", "rule", "limit", "old", "new"], rows))
    if delta_rows:
        parts.append("Changes against the old report:\n\n" + table(["metric", "old", "new", "delta"], delta_rows))
    return "\n\n".join(parts)

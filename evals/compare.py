"""Threshold checks and report-to-report comparison.

A thresholds file lists rules; each names a metric pattern (fnmatch: ``*`` also crosses dots) and any of
``min`` / ``max`` (absolute floor / ceiling on the new value) and ``max_drop`` / ``max_rise`` (largest allowed
change against an older report, in the metric's own unit). A NaN value is skipped, and so is a rule about a part
the run did not measure (a suite that did not run, a dataset left out by ``--dataset``): partial runs compare only
what they measured. But a rule whose pattern matches no metric of a part the run did measure fails the gate: a
renamed metric must not switch a floor off silently.
"""

from __future__ import annotations

import fnmatch
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from evals.report import table

UNMATCHED = "matches no metric"
_WILDCARD = re.compile(r"[*?\[]")


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


@dataclass
class Scope:
    """What a run measured: the suites that ran, and ``suite.dataset`` for each dataset of those suites it left out."""

    suites: set[str]
    left_out: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, metrics: Iterable[str]) -> Scope:
        """Without a record of the run: the suites that have metrics, every dataset measured."""
        return cls({m.split(".", 1)[0] for m in metrics})


def load_metrics(path: Path) -> dict[str, float]:
    return json.loads(Path(path).read_text(encoding="utf-8")).get("metrics", {})


def check(
    new: dict[str, float],
    rules: list[dict[str, Any]],
    old: dict[str, float] | None = None,
    scope: Scope | None = None,
) -> list[Check]:
    """Apply every rule to every metric it matches; a rule that matches nothing the run measured is a failed check."""
    checks: list[Check] = []
    scope = scope if scope is not None else Scope.of(new)
    for rule in rules:
        matched = sorted(fnmatch.filter(new, rule["metric"]))
        if not matched and measured(rule["metric"], scope, new):
            checks.append(Check(rule["metric"], UNMATCHED, math.nan, math.nan, None, False))
        for metric in matched:
            value = new[metric]
            if value is None or math.isnan(value):
                continue
            checks += _apply(metric, value, rule, (old or {}).get(metric))
    return checks


def measured(pattern: str, scope: Scope, metrics: Iterable[str] = ()) -> bool:
    """Whether the run measured what ``pattern`` is about (so the pattern must match something).

    Not measured: the pattern's suite did not run, or its second part names a dataset the run left out (``kb-en``
    belongs to ``kb``), unless the run has metrics under that very name.
    """
    suite, _, rest = pattern.partition(".")
    if not _WILDCARD.search(suite) and suite not in scope.suites:
        return False
    group = rest.split(".", 1)[0]
    if not group or _WILDCARD.search(group):
        return True
    owners = [
        d for s, _, d in (item.partition(".") for item in scope.left_out)
        if fnmatch.fnmatchcase(s, suite) and (group == d or group.startswith(d + "-"))
    ]
    if not owners:
        return True
    return any(m.split(".")[1:2] == [group] and fnmatch.fnmatchcase(m.split(".", 1)[0], suite) for m in metrics)


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
    failed = [c for c in checks if not c.passed and c.rule != UNMATCHED]
    unmatched = [c for c in checks if c.rule == UNMATCHED]
    parts = [f"{len(checks) - len(failed) - len(unmatched)} of {len(checks)} checks passed."]
    if unmatched:
        names = "\n".join(f"- `{c.metric}`" for c in unmatched)
        parts.append(
            "FAILED: threshold patterns that match no metric of what this run measured (a metric renamed or no longer "
            "reported? Fix the pattern in the thresholds file; until then its floor checks nothing):\n\n" + names
        )
    if failed:
        rows = [[c.metric, c.rule, c.limit, c.old if c.old is not None else float("nan"), c.value] for c in failed]
        parts.append("FAILED:\n\n" + table(["metric", "rule", "limit", "old", "new"], rows))
    if delta_rows:
        parts.append("Changes against the old report:\n\n" + table(["metric", "old", "new", "delta"], delta_rows))
    return "\n\n".join(parts)

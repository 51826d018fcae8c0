"""report.json (every number, plus what produced it) and report.md (the same, as tables for people).

Why so much provenance: a number is only comparable with another if we know the code (git commit), the model
(name and sha256), the prompts (versions), the settings and the data (file sha256 and line counts) behind it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from chatbot.config import PROJECT_ROOT, Settings
from evals.common import RunOptions, SuiteResult


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table; floats print with 3 decimals, NaN as an en dash, pipes in text are escaped."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def metric_rows(metrics: dict[str, float]) -> list[list[Any]]:
    """(name, value) rows for a metrics table; counts (``n``) print as integers."""
    return [[k, int(v) if k == "n" or k.endswith(".n") else float(v)] for k, v in metrics.items()]


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.3f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        try:
            out = subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return out.stdout.strip() if out.returncode == 0 else ""

    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def prompt_versions(settings: Settings) -> dict[str, Any]:
    path = settings.prompts_dir / "VERSIONS.yaml"
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}


def knowledge_versions(settings: Settings) -> dict[str, str]:
    """sha256 (first 16 hex) of the rulebook, locale table, glossary and the topic files, read at run start.

    Rules, glossary and topics change how the engine behaves as much as code does, so a report must pin them.
    """
    files = {"rulebook": settings.path(settings.safety.rulebook), "locales": settings.path(settings.safety.locales)}
    glossary = getattr(settings.retrieval, "glossary", None)
    if glossary:
        files["glossary"] = settings.path(glossary)
    out = {name: _digest([path]) for name, path in files.items() if path.is_file()}
    topics = sorted(p for root in settings.ingest.paths for p in settings.path(root).rglob("*") if p.is_file())
    out["topics"] = f"{_digest(topics)} ({len(topics)} files)"
    return out


def _digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def settings_dump(settings: Settings) -> dict[str, Any]:
    data = settings.model_dump(mode="json")
    if data.get("server", {}).get("api_key"):
        data["server"]["api_key"] = "***"
    return data


def build_report(
    options: RunOptions,
    settings: Settings,
    model: dict[str, Any],
    results: list[SuiteResult],
    seconds: float,
    prompts: dict[str, Any] | None = None,
    knowledge: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Everything a later reader needs; ``prompts`` and ``knowledge`` are the versions read when the run started."""
    return {
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, "-m", "evals", *sys.argv[1:]]),
        "git": git_state(),
        "seed": options.seed,
        "limit": options.limit,
        "datasets": list(options.datasets),  # the --dataset choice (empty: each suite's defaults)
        "profile": settings.profile,
        "model": model,
        "rules_only": options.rules_only,
        "prompts": prompts if prompts is not None else prompt_versions(settings),
        "knowledge": knowledge if knowledge is not None else knowledge_versions(settings),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "settings": settings_dump(settings),
        "seconds": round(seconds, 1),
        "metrics": {f"{r.name}.{k}": v for r in results for k, v in r.metrics.items()},
        "suites": {
            r.name: {
                "seconds": round(r.seconds, 1),
                "datasets": r.datasets,
                "notes": r.notes,
                "charts": r.charts,
                "details": r.details,
            }
            for r in results
        },
    }


def write_report(out: Path, report: dict[str, Any], results: list[SuiteResult], checks: str = "") -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False, default=_json_default) + "\n")
    (out / "report.md").write_text(render_markdown(report, results, checks), encoding="utf-8")
    return out / "report.json"


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set):
        return sorted(value)
    return str(value)


def render_markdown(report: dict[str, Any], results: list[SuiteResult], checks: str = "") -> str:
    git = report["git"]
    lines = [
        "# Evaluation report",
        "",
        f"- created: {report['created']}; command: `{report['command']}`",
        f"- git: `{git['commit'][:12] or 'unknown'}`{' (uncommitted changes)' if git['dirty'] else ''}; "
        f"profile `{report['profile']}`; seed {report['seed']}; limit {report['limit']}",
        f"- model: `{report['model']['name']}` sha256 `{report['model']['sha256'][:16] or '-'}`"
        f"{'' if report['model'].get('loaded', True) else ' (not loaded by this run)'}; prompts {report['prompts']}",
        f"- knowledge: {', '.join(f'{k} `{v}`' for k, v in report['knowledge'].items())}",
        f"- machine: {report['machine']['platform']}, {report['machine']['cpus']} CPUs, load average at the end "
        f"{report['machine']['loadavg_at_end']} (timings are slower on a busy machine); run took {report['seconds']} s",
        "",
    ]
    for result in results:
        lines += _suite_markdown(result)
    if checks:
        lines += ["## Threshold checks", "", checks, ""]
    return "\n".join(lines)


def _suite_markdown(result: SuiteResult) -> list[str]:
    lines = [f"## Suite: {result.name} ({result.seconds:.0f} s)", ""]
    for name, info in result.datasets.items():
        files = "; ".join(f"{f['path']} sha256 {f['sha256'][:12]}, {f['lines']} lines" for f in info["files"])
        corpus = f", corpus {info['corpus']}" if info["corpus"] else ""
        lines.append(f"- dataset **{name}**: {info['cases']} cases{corpus} ({files})")
        lines += [f"  - {note}" for note in info["notes"]]
    lines += [f"- {note}" for note in result.notes]
    lines.append("")
    for title, body in result.sections:
        lines += [f"### {title}", "", body, ""]
    for chart in result.charts:
        lines += [f"![{chart}]({chart})", ""]
    return lines

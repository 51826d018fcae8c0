"""Every suite end to end through the real code path, on small seeded samples (CI smoke).

Real parts throughout: the MiniLM embedder and a real index of the bundled knowledge base, the real red-flag
rulebook and boundaries, a small MedQuAD sample, and SmolLM2 (the `test` profile) for the suites that generate.
SmolLM2's answers are poor on purpose-free grounds: the point is that each suite runs, scores and writes its
report, and that the CI floors in evals/thresholds-smoke.yaml hold. Marked slow: on 2 shared cores the first
index build alone takes about a minute.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatbot.config import PROJECT_ROOT
from evals.cli import main
from tests.conftest import require_shared_data

pytestmark = pytest.mark.slow
SMOKE_THRESHOLDS = PROJECT_ROOT / "evals" / "thresholds-smoke.yaml"

RUNS = {
    "safety": ["--suite", "safety", "--limit", "25"],
    "triage": ["--suite", "triage", "--rules-only", "--limit", "8"],
    "retrieval": ["--suite", "retrieval", "--dataset", "kb", "--dataset", "medquad", "--limit", "30",
                  "--medquad-sample", "80"],
    "grounding": ["--suite", "grounding", "--profile", "test", "--limit", "2"],
    "latency": ["--suite", "latency", "--profile", "test", "--limit", "1"],
}
CHARTS = {
    "safety": "safety.png",
    "triage": "triage-confusion-own.png",
    "retrieval": "retrieval-recall-kb-en.png",
    "grounding": "grounding.png",
    "latency": "latency.png",
}


@pytest.fixture(scope="module")
def smoke_data(tmp_path_factory) -> Path:
    require_shared_data()
    return tmp_path_factory.mktemp("evals-data")


@pytest.mark.parametrize("suite", list(RUNS))
def test_suite_runs_writes_its_report_and_meets_ci_floors(suite, smoke_data, tmp_path):
    out = tmp_path / suite
    args = ["run", *RUNS[suite], "--out", str(out), "--data-dir", str(smoke_data), "--no-progress",
            "--thresholds", str(SMOKE_THRESHOLDS)]
    assert main(args) == 0, (out / "report.md").read_text() if (out / "report.md").exists() else "no report"
    report = json.loads((out / "report.json").read_text())
    assert (out / "report.md").read_text().startswith("# Evaluation report")
    assert (out / CHARTS[suite]).stat().st_size > 1000
    assert any(key.startswith(f"{suite}.") for key in report["metrics"])
    assert report["git"]["commit"] and report["settings"]["llm"]["model"]
    assert all(f["sha256"] for d in report["suites"][suite]["datasets"].values() for f in d["files"])
    assert "FAILED" not in (out / "report.md").read_text()


"""The suites. Each module exposes NAME, DATASETS (names ``--dataset`` accepts) and ``run(ctx) -> SuiteResult``."""

from __future__ import annotations

from types import ModuleType

from evals.suites import grounding, latency, retrieval, safety, triage

# Order for ``--suite all``: the fast, model-free suites first, so a slow model run fails late, not early.
SUITES: dict[str, ModuleType] = {
    module.NAME: module for module in (safety, retrieval, triage, grounding, latency)
}

__all__ = ["SUITES"]

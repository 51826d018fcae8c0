"""The suites. Each module exposes NAME, DATASETS (names ``--dataset`` accepts) and ``run(ctx) -> SuiteResult``."""

from __future__ import annotations

from types import ModuleType

from evals.suites import grounding, injection, latency, retrieval, safety, triage

# Order for ``--suite all``: the fast, model-free suites first, so a slow model run fails late, not early;
# injection (a full model turn per case) last.
SUITES: dict[str, ModuleType] = {
    module.NAME: module for module in (safety, retrieval, triage, grounding, latency, injection)
}

__all__ = ["SUITES"]

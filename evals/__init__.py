"""Scripted evaluation suites: triage, retrieval, safety, grounding and latency (``python -m evals --help``)."""

"""The blind vignette bank: its fixed dev/test split, and what the issue asks of its contents."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from evals.build_bank import BANK, build
from evals.datasets import DatasetError, load_triage, load_vignettes


def _draft(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_split_alternates_within_each_stratum_and_is_deterministic(tmp_path):
    rows = [{"id": f"x-{i:02d}", "lang": "en", "text": f"t{i}", "gold": "urgent" if i % 2 else "routine",
             "style": "messy"} for i in range(12)]
    draft = _draft(tmp_path / "d.jsonl", rows)
    counts = build([draft], tmp_path / "bank.jsonl")
    assert counts == {"dev": 6, "test": 6}
    first = (tmp_path / "bank.jsonl").read_text()
    build([draft], tmp_path / "bank.jsonl")
    assert (tmp_path / "bank.jsonl").read_text() == first
    built = [json.loads(line) for line in first.splitlines()]
    per = Counter((r["gold"], r["split"]) for r in built)
    assert per == {("urgent", "dev"): 3, ("urgent", "test"): 3, ("routine", "dev"): 3, ("routine", "test"): 3}


def test_duplicate_ids_are_refused(tmp_path):
    draft = _draft(tmp_path / "d.jsonl", [{"id": "a", "text": "t", "gold": "urgent"}] * 2)
    with pytest.raises(SystemExit, match="duplicate"):
        build([draft], tmp_path / "bank.jsonl")


def test_a_split_with_no_cases_is_an_error(tmp_path):
    path = _draft(tmp_path / "v.jsonl", [{"id": "a", "messages": ["m"], "gold": "urgent", "split": "dev"}])
    assert len(load_vignettes(path, "v", split="dev").cases) == 1
    with pytest.raises(DatasetError, match="no case has split"):
        load_vignettes(path, "v", split="test")


def test_the_bundled_bank_meets_the_issue_and_its_halves_do_not_overlap():
    rows = [json.loads(line) for line in BANK.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(rows) >= 400
    assert sum(r["language"] == "zh" for r in rows) >= 100
    assert sum(r["gold"] == "emergency" for r in rows) >= 80
    assert sum(r["style"] == "messy" for r in rows) >= len(rows) / 3
    assert all(r["rationale"] and r["source"].startswith("https://") for r in rows)
    assert {r["population"] for r in rows} >= {"adult", "pregnancy", "infant", "child", "older"}
    dev, test = load_triage("bank-dev"), load_triage("bank-test")
    assert {c.id for c in dev.cases}.isdisjoint({c.id for c in test.cases})
    assert len(dev.cases) + len(test.cases) == len(rows)


def test_the_third_blind_bank_has_the_shape_its_readme_claims():
    """bank3: 160 held-out cases, 40 per level, 100 English / 60 Chinese, at least a third messy."""
    from collections import Counter

    from evals.datasets import load_triage

    cases = load_triage("bank3").cases
    assert len(cases) == 160
    assert Counter(c.gold.label for c in cases) == {level: 40 for level in ("emergency", "urgent", "routine",
                                                                            "self_care")}
    assert Counter(c.language for c in cases) == {"en": 100, "zh": 60}
    assert sum(c.style == "messy" for c in cases) >= len(cases) / 3

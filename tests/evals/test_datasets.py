"""Loaders over the shared public datasets (skipped when ../shared/data is absent) and our own files."""

from __future__ import annotations

from collections import Counter

from chatbot.config import PROJECT_ROOT
from chatbot.safety.language import has_cjk
from evals.datasets import (
    KB_QUESTIONS_ZH_HELDOUT,
    OUT_OF_SCOPE,
    OUT_OF_SCOPE_KINDS,
    binary_relevant,
    load_grounding,
    load_kb_questions,
    load_liveqa,
    load_medquad,
    load_out_of_scope,
    load_semigran,
    load_triage,
    read_jsonl,
)
from tests.conftest import require_shared_data


def test_semigran_both_versions_map_gold_to_bands():
    require_shared_data()
    for version in ("lay", "full"):
        dataset = load_semigran(version)
        assert len(dataset.cases) == 45
        assert Counter(c.gold.label for c in dataset.cases) == {"emergency": 15, "non_emergency": 15, "self_care": 15}
        see_doctor = next(c for c in dataset.cases if c.gold.label == "non_emergency")
        assert (see_doctor.gold.low, see_doctor.gold.high) == ("routine", "urgent")
    assert load_semigran("lay").cases[0].messages != load_semigran("full").cases[0].messages


def test_own_vignettes_and_limits():
    dataset = load_triage("own")
    assert len(dataset.cases) == 48 and {c.language for c in dataset.cases} == {"en", "zh"}
    assert any(len(c.messages) == 2 for c in dataset.cases)
    assert [c.id for c in load_triage("own", limit=5, seed=1).cases] == [c.id for c in load_triage("own", 5, 1).cases]


def test_kb_questions_gains():
    q = load_kb_questions().cases[1]
    assert q.gains == {"common-cold": 2.0, "sinusitis": 1.0}


def test_kb_zh_heldout_questions():
    rows = read_jsonl(KB_QUESTIONS_ZH_HELDOUT)
    assert len(rows) == 80
    assert [r["id"] for r in rows] == [f"kbz-{n:03d}" for n in range(1, 81)]
    assert all(r["language"] == "zh" and r["notes"] and has_cjk(r["question"]) for r in rows)
    assert all(r["style"] in {"plain", "lay", "typo", "child", "older", "followup"} for r in rows)
    topics = {p.stem for p in (PROJECT_ROOT / "knowledge" / "topics").glob("*.md")}
    assert all(1 <= len(r["topics"]) <= 3 and set(r["topics"]) <= topics for r in rows)
    assert len({r["topics"][0] for r in rows}) >= 50
    dataset = load_kb_questions(path=KB_QUESTIONS_ZH_HELDOUT, name="kb-zh-heldout")
    assert dataset.name == "kb-zh-heldout" and len(dataset.cases) == 80
    assert next(iter(dataset.cases[0].gains.values())) == 2.0
    assert not {q.text for q in dataset.cases} & {q.text for q in load_kb_questions().cases}


def test_medquad_sample_has_unique_ids_and_self_relevance():
    require_shared_data()
    dataset = load_medquad(sample_size=200, seed=0, query_limit=50)
    ids = [p.id for p in dataset.corpus]
    assert len(ids) == len(set(ids)) == 200
    assert len(dataset.cases) == 50
    assert all(q.id in q.gains for q in dataset.cases)


def test_liveqa_graded_pool():
    require_shared_data()
    dataset = load_liveqa()
    assert len(dataset.corpus) == 1935  # 2,479 judgements of 1,935 distinct answers
    assert 70 <= len(dataset.cases) <= 103
    q = dataset.cases[0]
    assert set(q.gains.values()) <= {0.0, 1.0, 2.0, 3.0}
    strict = binary_relevant(q.gains, "liveqa")
    assert strict and all(v >= 2 for v in strict.values())
    assert load_liveqa(field_name="nlm_summary").name == "liveqa-summary"
    assert all(p.text and not p.text.startswith("Question:") for p in dataset.corpus[:50])


def test_grounding_mixes_kb_and_out_of_scope_questions():
    dataset = load_grounding(20, seed=0)
    inside = [q for q in dataset.cases if q.in_scope]
    assert len(dataset.cases) == 20 and len(inside) == 15
    assert all(q.topics for q in inside)
    small = load_grounding(2, seed=0)
    assert [q.in_scope for q in small.cases] == [True, False]


def test_out_of_scope_questions_are_well_formed():
    rows = read_jsonl(OUT_OF_SCOPE)
    assert len(rows) >= 70
    assert [r["id"] for r in rows] == [f"oos-{n:03d}" for n in range(1, len(rows) + 1)]
    assert all(set(r) == {"id", "question", "language", "kind", "notes"} for r in rows)
    assert all(r["kind"] in OUT_OF_SCOPE_KINDS and r["notes"] for r in rows)
    assert all(has_cjk(r["question"]) == (r["language"] == "zh") for r in rows)
    assert sum(r["language"] == "zh" for r in rows) >= len(rows) // 5
    questions = [r["question"] for r in rows]
    assert len(set(questions)) == len(questions)
    assert not set(questions) & {q.text for q in load_kb_questions().cases}
    dataset = load_out_of_scope(limit=10, seed=1)
    assert len(dataset.cases) == 10 and all(q.gains == {} and q.style in OUT_OF_SCOPE_KINDS for q in dataset.cases)

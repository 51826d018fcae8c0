"""Retrieval quality of dense, BM25 and hybrid search: recall@k, MRR@10 and nDCG@10.

Each query is searched once per mode with the relevance floor switched off, keeping the whole fused list. From
that list we score two views: ``raw`` (the ranker alone) and the default view, the engine's own behaviour, where
hits below the floor (chatbot.retrieval.hybrid.passes_floor: cosine + coverage_weight x query coverage <
min_evidence, or a Chinese question the glossary cannot read) are dropped before the top k. ``no_hit_rate`` is
the share of queries for which the floor left nothing (the engine then says its sources do not cover the
question). The engine passes ``retrieval.top_k`` chunks to the model, so recall@top_k is "did a useful passage
reach the prompt".

``kb-zh-heldout`` (evals/data/kb_questions_zh_heldout.jsonl) runs the same searches and scores over the same index
for Chinese questions written without sight of the glossary: the glossary's held-out figure. It skips the out-of-KB
part (those questions are the kb dataset's).

The kb dataset also runs our out-of-KB questions (evals/data/out_of_scope_questions.jsonl) through the hybrid
retriever: ``oos_rejected_rate`` is the share the floor leaves with nothing (right), ``in_kb_no_hits_rate`` the
share of KB questions it leaves with nothing (wrong), per language and pooled (``retrieval.kb.hybrid.*``). A
table splits both sets by id parity (even ids: the half the floor was tuned on; odd: held out).

Knowledge base: a hit is a chunk whose topic_id is one of the question's topics; nDCG is topic-level (chunks of
one topic collapse to its best rank; main topic gain 2, others 1). MedQuAD: relevant = the query's own answer
passage. LiveQA: graded NIST judgements (see evals.datasets.load_liveqa).
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from chatbot.retrieval import HybridRetriever
from chatbot.retrieval.hybrid import evidence, passes_floor
from evals import charts
from evals.common import RunContext, SuiteResult
from evals.datasets import (
    KB_QUESTIONS,
    KB_QUESTIONS_ZH_HELDOUT,
    Query,
    binary_relevant,
    fingerprint,
    load_kb_questions,
    load_liveqa,
    load_medquad,
    load_out_of_scope,
)
from evals.metrics import floor_summary, ranking_summary, recall_at_k
from evals.report import table

NAME = "retrieval"
DATASETS = ("kb", "kb-zh-heldout", "medquad", "liveqa", "liveqa-summary")
DEFAULT_DATASETS = ("kb", "medquad", "liveqa")
MODES = ("dense", "bm25", "hybrid")
CURVE_KS = (1, 2, 3, 5, 10)


def run(ctx: RunContext) -> SuiteResult:
    result = SuiteResult(NAME)
    for name in ctx.options.datasets or DEFAULT_DATASETS:
        started = time.perf_counter()
        if name in KB_FILES:
            _run_kb(ctx, result, name)
        elif name in ("medquad", "liveqa", "liveqa-summary"):
            _run_corpus(ctx, result, name)
        else:
            raise ValueError(f"unknown retrieval dataset {name!r}; choose from {', '.join(DATASETS)}")
        result.details.setdefault("seconds", {})[name] = round(time.perf_counter() - started, 1)
    return result


# ---- datasets -----------------------------------------------------------------------------------------------------
KB_FILES = {"kb": KB_QUESTIONS, "kb-zh-heldout": KB_QUESTIONS_ZH_HELDOUT}


def _run_kb(ctx: RunContext, result: SuiteResult, name: str = "kb") -> None:
    dataset = load_kb_questions(ctx.options.limit, ctx.options.seed, KB_FILES[name], name)
    store = ctx.kb_store()
    result.add_dataset(dataset)
    result.notes.append(f"knowledge-base index: {store.count()} chunks ({ctx.kb_ingest.splitlines()[0]})")
    indexed = {c.metadata.get("topic_id") for c in store.all_chunks()}
    missing = sorted({t for q in dataset.cases for t in q.gains if t not in indexed})
    if missing:
        result.notes.append(f"labelled topics absent from the index (count as misses): {', '.join(missing)}")
    runs = _search_all(ctx, store, dataset.cases, name, lambda h: h.metadata.get("topic_id", ""))
    if name != "kb":
        _score(ctx, result, name, dataset.cases, runs)
        _kb_breakdowns(ctx, result, dataset.cases, runs, name)
        return
    for language in ("en", "zh"):
        chosen = [i for i, q in enumerate(dataset.cases) if q.language == language]
        if chosen:
            _score(ctx, result, f"kb-{language}", [dataset.cases[i] for i in chosen], _subset(runs, chosen))
    _kb_breakdowns(ctx, result, dataset.cases, runs)
    _kb_out_of_scope(ctx, result, store, dataset.cases, runs)


def _run_corpus(ctx: RunContext, result: SuiteResult, name: str) -> None:
    opts = ctx.options
    if name == "medquad":
        dataset = load_medquad(opts.medquad_sample, opts.seed, opts.limit)
        key = f"n{len(dataset.corpus)}-s{opts.seed}"
    else:
        dataset = load_liveqa(opts.limit, opts.seed, "message" if name == "liveqa" else "nlm_summary")
        key = fingerprint(dataset.files[-1])["sha256"][:10]
    store = ctx.passage_store(name.split("-")[0], dataset.corpus, key)
    result.add_dataset(dataset)
    runs = _search_all(ctx, store, dataset.cases, name, lambda h: h.id)
    _score(ctx, result, name, dataset.cases, runs)


# ---- searching ----------------------------------------------------------------------------------------------------
Ranked = dict[str, list[tuple[list[str], list[str]]]]  # mode -> per query (raw ranking, floored ranking)


def _search_all(ctx: RunContext, store: Any, queries: list[Query], name: str, item_of) -> Ranked:
    """Search every query in every mode once, with the floor off; apply the engine's floor afterwards."""
    settings = ctx.settings().retrieval
    retriever = HybridRetriever(store, settings)
    retriever.refresh()
    runs: Ranked = {mode: [] for mode in MODES}
    for query in ctx.progress(queries, f"retrieval {name}"):
        for mode in MODES:
            found = retriever.search(query.text, k=10_000, mode=mode, floor=False)
            raw = [item_of(h) for h in found.hits]
            floored = [item_of(h) for h in found.hits if passes_floor(h, settings, found.understood)]
            runs[mode].append((raw, floored))
    return runs


def _subset(runs: Ranked, chosen: list[int]) -> Ranked:
    return {mode: [rows[i] for i in chosen] for mode, rows in runs.items()}


# ---- scoring ------------------------------------------------------------------------------------------------------
def _score(ctx: RunContext, result: SuiteResult, name: str, queries: list[Query], runs: Ranked) -> None:
    top_k = ctx.settings().retrieval.top_k
    ks = tuple(sorted({1, top_k, 5, 10}))
    gains = [q.gains for q in queries]
    relevant = [binary_relevant(q.gains, name) for q in queries]
    rows, curves = [], {}
    for mode in MODES:
        floored = [f for _, f in runs[mode]]
        raw = [r for r, _ in runs[mode]]
        main = ranking_summary(floored, gains, relevant, ks)
        main["no_hit_rate"] = sum(1 for f in floored if not f) / len(floored)
        raw_summary = ranking_summary(raw, gains, relevant, ks)
        result.add_metrics(f"{name}.{mode}", main)
        result.add_metrics(f"{name}.{mode}.raw", {k: raw_summary[k] for k in (f"recall@{top_k}", "recall@10", "mrr")})
        rows.append([mode, *(main[f"recall@{k}"] for k in ks), main["mrr"], main["ndcg@10"], main["no_hit_rate"]])
        rows.append([f"{mode} (no floor)", *(raw_summary[f"recall@{k}"] for k in ks), raw_summary["mrr"],
                     raw_summary["ndcg@10"], 0.0])
        curves[mode] = [_mean_recall(floored, relevant, k) for k in CURVE_KS]
    headers = ["retriever", *(f"recall@{k}" for k in ks), "MRR@10", "nDCG@10", "no-hit rate"]
    result.sections.append((f"Retrieval: {name} ({len(queries)} queries)", table(headers, rows)))
    chart = charts.recall_curves(ctx.options.out, name, CURVE_KS, curves)
    if chart:
        result.charts.append(chart)


def _mean_recall(rankings: list[list[str]], relevant: list[dict[str, float]], k: int) -> float:
    return sum(recall_at_k(r, g, k) for r, g in zip(rankings, relevant)) / len(rankings) if rankings else 0.0


def _kb_breakdowns(ctx: RunContext, result: SuiteResult, queries: list[Query], runs: Ranked, name: str = "kb") -> None:
    """Hybrid recall@top_k by language and style, and the questions it misses (our own text: safe to show)."""
    label = "Knowledge base" if name == "kb" else f"Knowledge base ({name})"
    top_k = ctx.settings().retrieval.top_k
    by_style: dict[tuple[str, str], list[float]] = defaultdict(list)
    misses = []
    for query, (_, floored) in zip(queries, runs["hybrid"]):
        hit = recall_at_k(floored, query.gains, top_k)
        by_style[(query.language, query.style)].append(hit)
        if not hit:
            got = ", ".join(floored[:top_k]) or "(nothing above the floor)"
            misses.append([query.id, query.language, query.text, ", ".join(query.gains), got])
    rows = [[lang, style, len(v), sum(v) / len(v)] for (lang, style), v in sorted(by_style.items())]
    result.sections.append(
        (f"{label}: hybrid recall@{top_k} by style", table(["language", "style", "n", f"recall@{top_k}"], rows))
    )
    fields = ("id", "language", "question", "gold", "got")
    result.details[f"{name}_hybrid_misses"] = [dict(zip(fields, m)) for m in misses]
    shown = misses[:30]
    body = table(["id", "lang", "question", "gold topics", f"topics of the top {top_k} chunks"], shown)
    more = f"\n\n{len(misses) - len(shown)} more in report.json." if len(misses) > len(shown) else ""
    result.sections.append((f"{label}: hybrid misses at top {top_k} ({len(misses)})", body + more))


def _kb_out_of_scope(ctx: RunContext, result: SuiteResult, store: Any, queries: list[Query], runs: Ranked) -> None:
    """Out-of-KB questions through the hybrid retriever: how many does the floor reject, and at what cost?"""
    settings = ctx.settings().retrieval
    dataset = load_out_of_scope(ctx.options.limit, ctx.options.seed)
    result.add_dataset(dataset)
    retriever = HybridRetriever(store, settings)
    retriever.refresh()
    outside, passed = [], []
    for query in ctx.progress(dataset.cases, "retrieval out-of-kb"):
        found = retriever.search(query.text, k=10_000, floor=False)
        kept = [h for h in found.hits if passes_floor(h, settings, found.understood)]
        outside.append([h.metadata.get("topic_id", "") for h in kept])
        if kept:
            top = kept[0]
            topic = top.metadata.get("topic_id", "")
            scores = [top.similarity or 0.0, top.coverage or 0.0, evidence(top, settings)]
            passed.append([query.id, query.language, query.style, query.text, topic, *scores])
    inside = [floored for _, floored in runs["hybrid"]]
    result.add_metrics("kb.hybrid", floor_summary(inside, outside))
    for language in ("en", "zh"):
        ins = [f for q, f in zip(queries, inside) if q.language == language]
        outs = [f for q, f in zip(dataset.cases, outside) if q.language == language]
        if ins and outs:
            summary = floor_summary(ins, outs)
            result.add_metrics(f"kb-{language}.hybrid", {k: summary[k] for k in ("oos_rejected_rate", "oos_n")})

    headers = ["half", "language", "in-KB n", "recall@5", "main topic in top 5", "no hits", "out-of-KB n", "rejected"]
    note = (
        f"Floor: cosine + {settings.coverage_weight} x coverage >= {settings.min_evidence}; a Chinese question also "
        f"needs >= {settings.min_understood} of its text read by the glossary. Halves by id: tune = even, held out = "
        "odd. recall@5 counts any labelled topic; 'main topic' only the first."
    )
    body = table(headers, _floor_rows(queries, inside, dataset.cases, outside)) + "\n\n" + note
    result.sections.append(("Knowledge base: relevance floor on in-KB and out-of-KB questions (hybrid)", body))

    by_kind = []
    for kind in sorted({q.style for q in dataset.cases}):
        hits = [o for q, o in zip(dataset.cases, outside) if q.style == kind]
        by_kind.append([kind, len(hits), floor_summary([], hits)["oos_rejected_rate"]])
    body = table(["kind", "n", "rejected"], by_kind)
    if passed:
        headers = ["id", "lang", "kind", "question", "top topic", "cosine", "coverage", "evidence"]
        body += "\n\n" + table(headers, passed)
    fields = ("id", "language", "kind", "question", "topic", "similarity", "coverage", "evidence")
    result.details["out_of_kb_passed"] = [dict(zip(fields, row)) for row in passed]
    result.sections.append((f"Knowledge base: out-of-KB questions that still got passages ({len(passed)})", body))


def _floor_rows(queries: list[Query], inside: list[list[str]], oos: list[Query], outside: list[list[str]]) -> list:
    """Per half and language: recall@5 (any labelled topic, and the main one), no-hit rate, out-of-KB rejection."""
    rows = []
    for half, parity in (("tune", 0), ("held out", 1), ("all", None)):
        for language in ("en", "zh"):
            chosen = [i for i, q in enumerate(queries) if q.language == language and _in_half(q.id, parity)]
            if not chosen:
                continue
            floored = [inside[i] for i in chosen]
            gains = [queries[i].gains for i in chosen]
            main = [{next(iter(g)): 1.0} for g in gains]  # the first labelled topic is the main one
            out = [o for q, o in zip(oos, outside) if q.language == language and _in_half(q.id, parity)]
            summary = floor_summary(floored, out)
            recall = ranking_summary(floored, gains, ks=(5,))["recall@5"]
            main_recall = ranking_summary(floored, main, ks=(5,))["recall@5"]
            rows.append([half, language, len(chosen), recall, main_recall, summary["in_kb_no_hits_rate"], len(out),
                         summary["oos_rejected_rate"]])
    return rows


def _in_half(case_id: str, parity: int | None) -> bool:
    """Deterministic halves by the number in the id (kbq-0042, oos-013): even ids tune, odd ids are held out."""
    if parity is None:
        return True
    digits = "".join(c for c in case_id if c.isdigit())
    return bool(digits) and int(digits) % 2 == parity

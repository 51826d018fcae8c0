"""Retrieval quality of dense, BM25 and hybrid search: recall@k, MRR@10 and nDCG@10.

Each query is searched once per mode with the relevance floor switched off, keeping the whole fused list. From
that list we score two views: ``raw`` (the ranker alone) and the default view, the engine's own behaviour, where
hits below the floor (cosine < min_similarity and query coverage < min_query_coverage) are dropped before the
top k. ``no_hit_rate`` is the share of queries for which the floor left nothing (the engine then says its
sources do not cover the question). The engine passes ``retrieval.top_k`` chunks to the model, so recall@top_k is
"did a useful passage reach the prompt".

Knowledge base: a hit is a chunk whose topic_id is one of the question's topics; nDCG is topic-level (chunks of
one topic collapse to its best rank; main topic gain 2, others 1). MedQuAD: relevant = the query's own answer
passage. LiveQA: graded NIST judgements (see evals.datasets.load_liveqa).
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from chatbot.retrieval import Hit, HybridRetriever
from evals import charts
from evals.common import RunContext, SuiteResult
from evals.datasets import Query, binary_relevant, fingerprint, load_kb_questions, load_liveqa, load_medquad
from evals.metrics import ranking_summary, recall_at_k
from evals.report import table

NAME = "retrieval"
DATASETS = ("kb", "medquad", "liveqa", "liveqa-summary")
DEFAULT_DATASETS = ("kb", "medquad", "liveqa")
MODES = ("dense", "bm25", "hybrid")
CURVE_KS = (1, 2, 3, 5, 10)


def run(ctx: RunContext) -> SuiteResult:
    result = SuiteResult(NAME)
    for name in ctx.options.datasets or DEFAULT_DATASETS:
        started = time.perf_counter()
        if name == "kb":
            _run_kb(ctx, result)
        elif name in ("medquad", "liveqa", "liveqa-summary"):
            _run_corpus(ctx, result, name)
        else:
            raise ValueError(f"unknown retrieval dataset {name!r}; choose from {', '.join(DATASETS)}")
        result.details.setdefault("seconds", {})[name] = round(time.perf_counter() - started, 1)
    return result


# ---- datasets -----------------------------------------------------------------------------------------------------
def _run_kb(ctx: RunContext, result: SuiteResult) -> None:
    dataset = load_kb_questions(ctx.options.limit, ctx.options.seed)
    store = ctx.kb_store()
    result.add_dataset(dataset)
    result.notes.append(f"knowledge-base index: {store.count()} chunks ({ctx.kb_ingest.splitlines()[0]})")
    indexed = {c.metadata.get("topic_id") for c in store.all_chunks()}
    missing = sorted({t for q in dataset.cases for t in q.gains if t not in indexed})
    if missing:
        result.notes.append(f"labelled topics absent from the index (count as misses): {', '.join(missing)}")
    runs = _search_all(ctx, store, dataset.cases, "kb", lambda h: h.metadata.get("topic_id", ""))
    for language in ("en", "zh"):
        chosen = [i for i, q in enumerate(dataset.cases) if q.language == language]
        if chosen:
            _score(ctx, result, f"kb-{language}", [dataset.cases[i] for i in chosen], _subset(runs, chosen))
    _kb_breakdowns(ctx, result, dataset.cases, runs)


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
    retriever = HybridRetriever(store, settings.model_copy(update={"min_similarity": -1.0, "min_query_coverage": 0.0}))
    retriever.refresh()
    runs: Ranked = {mode: [] for mode in MODES}
    for query in ctx.progress(queries, f"retrieval {name}"):
        for mode in MODES:
            hits = retriever.search(query.text, k=10_000, mode=mode).hits
            raw = [item_of(h) for h in hits]
            floored = [item_of(h) for h in hits if _passes_floor(h, settings)]
            runs[mode].append((raw, floored))
    return runs


def _passes_floor(hit: Hit, settings: Any) -> bool:
    """The engine's relevance floor (HybridRetriever._is_relevant), applied to an unfloored result."""
    dense_ok = hit.similarity is not None and hit.similarity >= settings.min_similarity
    bm25_ok = hit.coverage is not None and hit.coverage >= settings.min_query_coverage
    return dense_ok or bm25_ok


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


def _kb_breakdowns(ctx: RunContext, result: SuiteResult, queries: list[Query], runs: Ranked) -> None:
    """Hybrid recall@top_k by language and style, and the questions it misses (our own text: safe to show)."""
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
        (f"Knowledge base: hybrid recall@{top_k} by style", table(["language", "style", "n", f"recall@{top_k}"], rows))
    )
    result.details["kb_hybrid_misses"] = [dict(zip(("id", "language", "question", "gold", "got"), m)) for m in misses]
    shown = misses[:30]
    body = table(["id", "lang", "question", "gold topics", f"topics of the top {top_k} chunks"], shown)
    more = f"\n\n{len(misses) - len(shown)} more in report.json." if len(misses) > len(shown) else ""
    result.sections.append((f"Knowledge base: hybrid misses at top {top_k} ({len(misses)})", body + more))


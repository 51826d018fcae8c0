"""Side-by-side figures for the consultation engine: our pipeline against the bare libraries it wraps.

Prints, in one run:
  1. ingestion chunks/s through Ingestor vs bare SentenceTransformer.encode on the same chunk texts;
  2. retrieval p50/p95 (dense, BM25, hybrid) on a MedQuAD index of --retrieval-chunks passages;
  3. time to first token and tokens/s of a chat turn vs bare llama-cpp-python on the same rendered prompt;
  4. second-turn time to first token with and without KV-cache prefix reuse;
  5. peak resident memory.
Usage: python bench/pipeline.py [--profile cpu] [--retrieval-chunks 20000] [--skip-chat]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import chatbot  # noqa: F401  (privacy guards)
from chatbot.config import PROJECT_ROOT, load_settings
from chatbot.embedding import make_embedder
from chatbot.knowledge.ingest import Ingestor, chunk_sections, discover, file_key
from chatbot.knowledge.loaders import load_file
from chatbot.retrieval import HybridRetriever
from chatbot.vectorstore import ChunkStore

MEDQUAD = PROJECT_ROOT.parent / "shared" / "data" / "medquad" / "medquad_flat.jsonl"
QUESTION = "What can I do at home for a sore throat, and when should I see a doctor?"
FOLLOW_UP = "How long does it usually last?"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def bench_ingestion(settings, topics: Path, rounds: int = 2) -> dict:
    """Alternate bare encode and full ingestion ``rounds`` times and keep each one's best, to damp machine noise."""
    embedder = make_embedder(settings)
    embedder.embed(["warm up"])  # load the model outside both timings
    chunks = []
    for path in discover([topics]):
        chunks += chunk_sections(load_file(path), file_key(path), "x", settings.ingest.chunk_size, 120)
    texts = [c.embed_text for c in chunks]
    bare, ours = 0.0, 0.0
    for _ in range(rounds):
        started = time.perf_counter()
        embedder.model.encode(texts, batch_size=embedder.batch_size, normalize_embeddings=True, show_progress_bar=False)
        bare = max(bare, len(texts) / (time.perf_counter() - started))
        with tempfile.TemporaryDirectory() as tmp:
            store = ChunkStore(embedder, "bench", Path(tmp))
            ingestor = Ingestor(store, settings.ingest.chunk_size, settings.ingest.chunk_overlap)
            report = ingestor.run([topics], progress=False)
        ours = max(ours, report.chunks_added / report.seconds)
    return {
        "chunks": len(texts),
        "bare_encode_chunks_per_s": round(bare, 1),
        "ingest_chunks_per_s": round(ours, 1),
        "ratio": round(ours / bare, 3),
    }


def medquad_store(settings, n_chunks: int, cache: Path) -> ChunkStore:
    """A MedQuAD answer index of n_chunks passages, cached on disk (embedding 20k passages takes minutes)."""
    store = ChunkStore(make_embedder(settings), f"medquad{n_chunks}", cache)
    if store.count() >= n_chunks:
        return store
    rows = [json.loads(line) for line in MEDQUAD.open(encoding="utf-8")]
    rows = [r for r in rows if (r.get("answer") or "").strip()]
    random.Random(0).shuffle(rows)
    from chatbot.knowledge.loaders import Section

    chunks = []
    for row in rows:
        section = Section(row.get("focus") or "", row.get("question") or "", row["answer"], url=row.get("url") or "")
        chunks += chunk_sections([section], f"medquad:{row['qid']}", "x", settings.ingest.chunk_size, 120)
        if len(chunks) >= n_chunks:
            break
    chunks = chunks[:n_chunks]
    for start in range(0, len(chunks), 256):
        batch = chunks[start : start + 256]
        vectors = store.embedder.embed([c.embed_text for c in batch])
        store.upsert([c.id for c in batch], [c.text for c in batch], [c.metadata for c in batch], vectors)
        print(f"  indexed {start + len(batch)}/{len(chunks)} MedQuAD chunks", file=sys.stderr, flush=True)
    return store


def bench_retrieval(settings, n_chunks: int, cache: Path, n_queries: int = 200) -> dict:
    store = medquad_store(settings, n_chunks, cache)
    retriever = HybridRetriever(store, settings.retrieval)
    started = time.perf_counter()
    retriever.refresh()
    bm25_build_s = time.perf_counter() - started
    rows = [json.loads(line) for line in MEDQUAD.open(encoding="utf-8")]
    questions = [r["question"] for r in random.Random(1).sample(rows, n_queries)]
    retriever.search("warm up")
    out = {"index_chunks": store.count(), "bm25_build_s": round(bm25_build_s, 2)}
    for mode in ("dense", "bm25", "hybrid"):
        times = []
        for q in questions:
            t0 = time.perf_counter()
            retriever.search(q, mode=mode)
            times.append((time.perf_counter() - t0) * 1000)
        out[mode] = {"p50_ms": round(pct(times, 0.5), 1), "p95_ms": round(pct(times, 0.95), 1)}
    return out


def bench_chat(settings) -> dict:
    from chatbot.conversation import Engine, Session

    engine = Engine(settings)
    engine.ensure_index(progress=False)
    llm = engine.llm
    session = Session()
    messages = engine.prompting.messages(session, QUESTION, "en", engine.retrieve(session, QUESTION, "en").hits)
    session.turns.clear()

    def bare_turn() -> tuple[float, float, int]:
        llm.reset_cache()
        t0 = time.perf_counter()
        first, n = None, 0
        for chunk in llm.llama.create_chat_completion(
            messages=messages,
            max_tokens=settings.llm.max_tokens,
            temperature=settings.llm.temperature,
            seed=settings.llm.seed,
            stream=True,
        ):
            if chunk["choices"][0].get("delta", {}).get("content"):
                first = first or time.perf_counter()
                n += 1
        end = time.perf_counter()
        return (first - t0) * 1000, n / (end - first), n

    def pipeline_turn(sess, text: str, reset: bool) -> tuple[float, float, int]:
        if reset:
            llm.reset_cache()
        t0 = time.perf_counter()
        first, n = None, 0
        for event in engine.stream(sess, text):
            if event.type == "token":
                first = first or time.perf_counter()
                n += 1
        end = time.perf_counter()
        return (first - t0) * 1000, n / (end - first), n

    bare_ttft, bare_tps, bare_n = bare_turn()
    pipe_session = Session()
    pipe_ttft, pipe_tps, pipe_n = pipeline_turn(pipe_session, QUESTION, reset=True)
    warm_ttft, _, _ = pipeline_turn(pipe_session, FOLLOW_UP, reset=False)
    pipe_session.turns = pipe_session.turns[:2]
    cold_ttft, _, _ = pipeline_turn(pipe_session, FOLLOW_UP, reset=True)
    return {
        "model": llm.name,
        "bare": {"ttft_ms": round(bare_ttft), "tokens_per_s": round(bare_tps, 2), "tokens": bare_n},
        "pipeline": {"ttft_ms": round(pipe_ttft), "tokens_per_s": round(pipe_tps, 2), "tokens": pipe_n},
        "ttft_overhead": round(pipe_ttft / bare_ttft - 1, 3),
        "second_turn_ttft_ms": {"with_prefix_reuse": round(warm_ttft), "without": round(cold_ttft)},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--retrieval-chunks", type=int, default=20000)
    parser.add_argument("--skip-chat", action="store_true")
    parser.add_argument("--skip-retrieval", action="store_true")
    parser.add_argument("--skip-ingestion", action="store_true")
    args = parser.parse_args()
    base = load_settings(args.profile)
    results: dict = {"profile": args.profile}
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            args.profile, overrides={"data_dir": tmp, "conversation": {"intake_enabled": False, "model_triage": False}}
        )
        if not args.skip_ingestion:
            print("ingestion ...", file=sys.stderr, flush=True)
            results["ingestion"] = bench_ingestion(settings, PROJECT_ROOT / "knowledge" / "topics")
            print(json.dumps(results["ingestion"]), file=sys.stderr)
        if not args.skip_retrieval and MEDQUAD.exists():
            print("retrieval ...", file=sys.stderr, flush=True)
            results["retrieval"] = bench_retrieval(settings, args.retrieval_chunks, base.data_dir / "bench-medquad")
            print(json.dumps(results["retrieval"]), file=sys.stderr)
        if not args.skip_chat:
            print("chat ...", file=sys.stderr, flush=True)
            results["chat"] = bench_chat(settings)
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

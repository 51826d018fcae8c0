"""Retrieval latency with the index embedded in the process vs on a Chroma server over loopback HTTP.

Builds the bundled knowledge (knowledge/topics) into both backends with the same vectors (each chunk is embedded
once), starts `chroma run` on a free 127.0.0.1 port with a temporary folder, and times, per mode, for the first
--queries questions of evals/data/kb_questions.jsonl (each asked --rounds times, modes interleaved):
  * search: HybridRetriever.search, what a patient turn pays (query embedding, dense query, BM25, similarities,
    and the store fingerprint check every retrieval.bm25_check_s seconds);
  * store query: the dense Chroma query alone with a precomputed vector (the transport's share).
Prints p50/p95 in ms and the http/embedded ratio at p95. Loopback only; bounded by --queries x --rounds and the
server's 60 s start timeout; the server and its folder are removed at the end.
Usage: python bench/retrieval_modes.py [--queries 50] [--rounds 3] [--embedder sentence-transformers|fake]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import chatbot  # noqa: F401  (privacy guards)
from chatbot.chroma_server import LocalChromaServer
from chatbot.config import PROJECT_ROOT, load_settings
from chatbot.embedding import Embedder, make_embedder
from chatbot.knowledge.ingest import Ingestor
from chatbot.retrieval import HybridRetriever
from chatbot.vectorstore import ChunkStore

QUESTIONS = PROJECT_ROOT / "evals" / "data" / "kb_questions.jsonl"


class _Memo:
    """Embeds each text once, so the second backend is built from the very same vectors at no cost."""

    def __init__(self, inner: Embedder) -> None:
        self.inner, self.name, self._seen = inner, inner.name, {}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._seen]
        if missing:
            self._seen.update(zip(missing, self.inner.embed(missing)))
        return np.stack([self._seen[t] for t in texts])


def questions(n: int) -> list[str]:
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [row["question"] for row in rows][:n]


def build(store: ChunkStore, settings) -> int:
    cfg = settings.ingest
    Ingestor(store, cfg.chunk_size, cfg.chunk_overlap).run([settings.path(p) for p in cfg.paths], progress=False)
    return store.count()


def measure(retrievers: dict[str, HybridRetriever], queries: list[str], rounds: int) -> dict[str, dict[str, list]]:
    """Interleave the modes query by query, so machine noise falls on both alike."""
    times: dict[str, dict[str, list]] = {mode: {"search": [], "store query": []} for mode in retrievers}
    vectors = next(iter(retrievers.values())).store.embedder.embed(queries)
    for _ in range(rounds):
        for query, vector in zip(queries, vectors):
            for mode, retriever in retrievers.items():
                started = time.perf_counter()
                retriever.search(query)
                middle = time.perf_counter()
                retriever.store.query(vector, retriever.settings.candidates)
                times[mode]["search"].append((middle - started) * 1000)
                times[mode]["store query"].append((time.perf_counter() - middle) * 1000)
    return times


def report(times: dict[str, dict[str, list]]) -> None:
    print(f"{'measure':12} {'mode':16} {'n':>5} {'p50 ms':>8} {'p95 ms':>8}")
    for measure_name in ("search", "store query"):
        p95 = {}
        for mode, by_measure in times.items():
            samples = by_measure[measure_name]
            p50, p95[mode] = np.percentile(samples, 50), np.percentile(samples, 95)
            print(f"{measure_name:12} {mode:16} {len(samples):>5} {p50:>8.2f} {p95[mode]:>8.2f}")
        ratio = p95["chroma-http"] / p95["chroma-embedded"]
        print(f"{measure_name:12} {'http/embedded':16} {'':>5} {'p95 x':>8} {ratio:>8.2f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=50, help="questions from kb_questions.jsonl (default 50)")
    parser.add_argument("--rounds", type=int, default=3, help="times each question is asked per mode (default 3)")
    parser.add_argument("--embedder", choices=["sentence-transformers", "fake"], default="sentence-transformers")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(overrides={"data_dir": tmp, "embedding": {"backend": args.embedder}}, environ={})
        embedder = _Memo(make_embedder(settings))
        retrievers = {}
        with LocalChromaServer(Path(tmp) / "server") as server:
            stores = {
                "chroma-embedded": ChunkStore(embedder, "bench", Path(tmp) / "embedded"),
                "chroma-http": ChunkStore(embedder, "bench", server=("127.0.0.1", server.port)),
            }
            for mode, store in stores.items():
                started = time.perf_counter()
                chunks = build(store, settings)
                store.embedder = embedder.inner  # searches embed every question afresh, in both modes
                print(f"{mode}: {chunks} chunks indexed in {time.perf_counter() - started:.1f} s", file=sys.stderr)
                retrievers[mode] = HybridRetriever(store, settings.retrieval)
                retrievers[mode].search("sore throat")  # BM25 built, model loaded, outside the timings
            queries = questions(args.queries)
            print(f"{len(queries)} questions x {args.rounds} rounds, embedder {embedder.name}, "
                  f"bm25_check_s {settings.retrieval.bm25_check_s}, server {server.url}")
            report(measure(retrievers, queries, args.rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

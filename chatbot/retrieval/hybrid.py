"""Dense + BM25 retrieval fused with reciprocal rank fusion (RRF).

Why both: the MiniLM embedder understands paraphrase ("tummy hurts" ~ "abdominal pain") while BM25 catches exact
terms, drug names and Chinese synonyms. RRF needs no score calibration between the two. A relevance floor on each
side decides whether the knowledge base covers the question at all: cosine similarity for dense hits, and for BM25
hits the share of the query's words the chunk contains (raw BM25 scores shift with corpus size; that share does not).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

from chatbot.config.settings import RetrievalSettings, resolve_path
from chatbot.retrieval.glossary import Glossary, has_cjk
from chatbot.retrieval.tokenize import tokenize
from chatbot.vectorstore import ChunkStore, StoredChunk


@dataclass
class Hit:
    id: str
    text: str
    metadata: dict
    similarity: float | None = None
    bm25: float | None = None
    coverage: float | None = None
    rrf: float = 0.0

    @property
    def score(self) -> float:
        """A 0..1 relevance figure for display: the dense similarity, or the share of query words found by BM25."""
        return round(max(0.0, self.similarity or 0.0, self.coverage or 0.0), 3)


@dataclass
class RetrievalResult:
    query: str
    hits: list[Hit] = field(default_factory=list)
    elapsed_ms: float = 0.0

    @property
    def relevant(self) -> bool:
        return bool(self.hits)


class HybridRetriever:
    """Owns the BM25 index (rebuilt from the store's chunks) and queries both retrievers."""

    def __init__(self, store: ChunkStore, settings: RetrievalSettings, glossary: Glossary | None = None) -> None:
        self.store = store
        self.settings = settings
        self.glossary = glossary if glossary is not None else _bundled_glossary(settings)
        self._lock = threading.Lock()
        self._bm25 = None
        self._chunks: list[StoredChunk] = []
        self._vocab: list[frozenset[str]] = []

    def refresh(self) -> None:
        """Rebuild BM25 from what the store holds; call after ingestion."""
        import bm25s

        chunks = self.store.all_chunks()
        corpus = [tokenize(_bm25_text(c)) for c in chunks]
        index = None
        if chunks:
            index = bm25s.BM25()
            index.index(corpus, show_progress=False)
        with self._lock:
            self._chunks, self._bm25, self._vocab = chunks, index, [frozenset(t) for t in corpus]

    def search(self, query: str, k: int | None = None, mode: str = "hybrid") -> RetrievalResult:
        started = time.perf_counter()
        if self._bm25 is None and not self._chunks:
            self.refresh()
        k = k or self.settings.top_k
        english = self.glossary.expand(query) if self.glossary and has_cjk(query) else ""
        dense = self.dense(english or query) if mode in ("hybrid", "dense") else []
        sparse = self.sparse(f"{english} {query}" if english else query, english) if mode in ("hybrid", "bm25") else []
        hits = [h for h in self._fuse(dense, sparse) if self._is_relevant(h)][:k]
        return RetrievalResult(query, hits, (time.perf_counter() - started) * 1000)

    def dense(self, query: str) -> list[Hit]:
        vector = self.store.embedder.embed([query])[0]
        return [
            Hit(c.id, c.text, c.metadata, similarity=c.similarity)
            for c in self.store.query(vector, self.settings.candidates)
        ]

    def sparse(self, query: str, judge: str = "") -> list[Hit]:
        """BM25 hits; ``coverage`` is the share of the words of ``judge`` (default: the query) a chunk holds."""
        tokens = tokenize(query)
        with self._lock:
            index, chunks, vocab = self._bm25, self._chunks, self._vocab
        if index is None or not tokens:
            return []
        n = min(self.settings.candidates, len(chunks))
        docs, scores = index.retrieve([tokens], k=n, show_progress=False, n_threads=1)
        wanted = set(tokenize(judge)) or set(tokens)
        return [
            Hit(
                chunks[i].id,
                chunks[i].text,
                chunks[i].metadata,
                bm25=float(s),
                coverage=len(wanted & vocab[i]) / len(wanted),
            )
            for i, s in zip(np.asarray(docs[0]).tolist(), np.asarray(scores[0]).tolist())
            if s > 0
        ]

    def _fuse(self, *rankings: list[Hit]) -> list[Hit]:
        merged: dict[str, Hit] = {}
        for ranking in rankings:
            for rank, hit in enumerate(ranking):
                current = merged.setdefault(hit.id, Hit(hit.id, hit.text, hit.metadata))
                current.rrf += 1.0 / (self.settings.rrf_k + rank + 1)
                current.similarity = hit.similarity if hit.similarity is not None else current.similarity
                current.bm25 = hit.bm25 if hit.bm25 is not None else current.bm25
                current.coverage = hit.coverage if hit.coverage is not None else current.coverage
        return sorted(merged.values(), key=lambda h: h.rrf, reverse=True)

    def _is_relevant(self, hit: Hit) -> bool:
        dense_ok = hit.similarity is not None and hit.similarity >= self.settings.min_similarity
        bm25_ok = hit.coverage is not None and hit.coverage >= self.settings.min_query_coverage
        return dense_ok or bm25_ok


def _bundled_glossary(settings: RetrievalSettings) -> Glossary | None:
    path = resolve_path(settings.glossary) if settings.glossary else None
    return Glossary.load(path) if path is not None and path.is_file() else None


def _bm25_text(chunk: StoredChunk) -> str:
    meta = chunk.metadata
    return " ".join(
        [meta.get("title", ""), meta.get("keywords", "").replace(" | ", " "), meta.get("section", ""), chunk.text]
    )

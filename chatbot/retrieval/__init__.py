"""Hybrid retrieval: dense (Chroma) + BM25 (bm25s), fused by reciprocal rank, with a relevance floor."""

from chatbot.retrieval.hybrid import Hit, HybridRetriever, RetrievalResult

__all__ = ["Hit", "HybridRetriever", "RetrievalResult"]

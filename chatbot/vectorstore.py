"""The vector store behind a small interface: Chroma, embedded (PersistentClient) or in memory for tests.

Why we pass embeddings ourselves: the collection is created with our embedding function (so Chroma never tries
to fetch its default ONNX model), but ingestion batches and times the embedding itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chatbot.config import Settings, SettingsError
from chatbot.embedding import Embedder


@dataclass
class StoredChunk:
    id: str
    text: str
    metadata: dict[str, Any]
    similarity: float = 0.0


class _Unavailable:
    """Stands in when Chroma rebuilds the function from stored config: we always pass our embedder explicitly."""

    def __init__(self, name: str) -> None:
        self.name = name

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        raise RuntimeError("open this collection through chatbot.vectorstore.ChunkStore")


def _chroma_embedding_function(embedder: Embedder) -> Any:
    from chromadb.api.types import Documents, EmbeddingFunction, Embeddings

    class _Adapter(EmbeddingFunction[Documents]):
        def __init__(self, inner: Embedder) -> None:
            self._inner = inner

        def __call__(self, input: Documents) -> Embeddings:
            return list(self._inner.embed(list(input)))

        @staticmethod
        def name() -> str:
            return "private-health-chatbot"

        def get_config(self) -> dict[str, Any]:
            return {"model": self._inner.name}

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> EmbeddingFunction[Documents]:
            return _Adapter(_Unavailable(str(config.get("model", ""))))

        def is_legacy(self) -> bool:
            return False

        def default_space(self) -> str:
            return "cosine"

    return _Adapter(embedder)


class ChunkStore:
    """Chunks with metadata and embeddings; cosine similarity search."""

    def __init__(self, embedder: Embedder, collection: str, path: Path | None = None) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        if path is None:
            self._client = chromadb.EphemeralClient(settings=chroma_settings)
        else:
            path.mkdir(parents=True, exist_ok=True)
            self._client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        self.embedder = embedder
        self._collection = self._client.get_or_create_collection(
            name=collection,
            embedding_function=_chroma_embedding_function(embedder),
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"embedder": embedder.name},
        )

    def count(self) -> int:
        return self._collection.count()

    def upsert(self, ids: Sequence[str], texts: Sequence[str], metadatas: Sequence[dict], vectors: np.ndarray) -> None:
        if ids:
            self._collection.upsert(
                ids=list(ids), documents=list(texts), metadatas=list(metadatas), embeddings=vectors.tolist()
            )

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self._collection.delete(ids=list(ids))

    def by_file(self, file: str) -> list[StoredChunk]:
        got = self._collection.get(where={"file": file}, include=["metadatas"])
        return [StoredChunk(i, "", m or {}) for i, m in zip(got["ids"], got["metadatas"])]

    def files(self) -> set[str]:
        got = self._collection.get(include=["metadatas"])
        return {m.get("file", "") for m in got["metadatas"] if m}

    def all_chunks(self) -> list[StoredChunk]:
        got = self._collection.get(include=["documents", "metadatas"])
        return [StoredChunk(i, d or "", m or {}) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"])]

    def similarities(self, vector: np.ndarray, ids: Sequence[str]) -> dict[str, float]:
        """Cosine similarity of ``vector`` to the stored chunks ``ids`` (for hits the dense search did not rank)."""
        if not ids:
            return {}
        got = self._collection.get(ids=list(ids), include=["embeddings"])
        if got["embeddings"] is None or not len(got["embeddings"]):
            return {}
        matrix = np.asarray(got["embeddings"], dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1) * (np.linalg.norm(vector) or 1.0)
        norms[norms == 0] = 1.0
        return {i: float(s) for i, s in zip(got["ids"], matrix @ np.asarray(vector, dtype=np.float32) / norms)}

    def query(self, vector: np.ndarray, n: int) -> list[StoredChunk]:
        n = min(n, self.count())
        if n <= 0:
            return []
        got = self._collection.query(
            query_embeddings=[vector.tolist()], n_results=n, include=["documents", "metadatas", "distances"]
        )
        return [
            StoredChunk(i, d or "", m or {}, similarity=1.0 - float(dist))
            for i, d, m, dist in zip(got["ids"][0], got["documents"][0], got["metadatas"][0], got["distances"][0])
        ]


STORE_BACKENDS = ("chroma",)


def make_store(settings: Settings, embedder: Embedder, path: Path | None = None) -> ChunkStore:
    """The knowledge store ``vector_store.backend`` names (``path`` defaults to the settings' Chroma folder)."""
    backend = settings.vector_store.backend
    if backend == "chroma":
        return ChunkStore(embedder, settings.vector_store.collection, path or settings.chroma_dir)
    choices = ", ".join(STORE_BACKENDS)
    raise SettingsError(f"vector_store.backend {backend!r} is not supported; choose one of: {choices}")

"""The vector store behind a small interface: Chroma embedded in this process, or a Chroma server over HTTP.

Backends (``vector_store.backend``): ``chroma-embedded`` (default; ``chroma`` is its old name) opens a database
folder with ``PersistentClient`` -- one process owns it. ``chroma-http`` talks to a server started with
``chroma run --path DIR --host 127.0.0.1 --port N`` through ``HttpClient``, so several replicas (web, API, an
ingest job) share one index. Both write and read the same way; telemetry is off on the client in both modes (the
Rust server of ``chroma run`` sends no product telemetry and exports OpenTelemetry only when configured to).

Why we pass embeddings ourselves: the collection is created with our embedding function (so Chroma never tries
to fetch its default ONNX model), but ingestion batches and times the embedding itself.

Why every write stamps a revision into the collection's metadata: another replica's BM25 index is built from the
chunks and must notice when they change; ``fingerprint`` (revision, count) costs two small calls, not a download.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chatbot.config import Settings, SettingsError
from chatbot.embedding import Embedder
from chatbot.index_health import (
    StoreError,
    check_folder,
    collection_unusable,
    explain,
    folder_unusable,
    unreachable,
    write_marker,
)

EMBEDDED, HTTP = "chroma-embedded", "chroma-http"
STORE_BACKENDS = (EMBEDDED, HTTP)
REVISION = "revision"  # collection metadata key: changes on every write (see ``ChunkStore.fingerprint``)


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


def _chroma_settings() -> Any:
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


def _open_errors() -> tuple[type[BaseException], ...]:
    """What Chroma raises for a damaged or incompatible index (its own errors; SQLite's and the file system's)."""
    from chromadb.errors import ChromaError

    return ChromaError, sqlite3.Error, OSError


def connect_server(host: str, port: int) -> Any:
    """A Chroma ``HttpClient`` with telemetry off, or ``StoreUnreachable`` saying how to start the server."""
    import chromadb

    try:
        return chromadb.HttpClient(host=host, port=port, settings=_chroma_settings())
    except ValueError as exc:  # chromadb's "Could not connect to a Chroma server"
        raise unreachable(f"http://{host}:{port}", str(exc)) from None


def rename_collection(host: str, port: int, name: str, new_name: str) -> bool:
    """Rename a collection on a Chroma server (``ingest --rebuild`` keeps the old one); False when there is none."""
    client = connect_server(host, port)
    if name not in {c.name for c in client.list_collections()}:
        return False
    client.get_collection(name).modify(name=new_name)
    return True


class ChunkStore:
    """Chunks with metadata and embeddings; cosine similarity search.

    ``path``: an embedded database folder (``None``: in memory, for tests); ``server``: ``(host, port)`` of a Chroma
    server instead. Opening checks the index is usable (``chatbot.index_health``) and raises ``StoreError`` with
    an operator message otherwise, so a broken folder never surfaces as a stack trace mid-conversation.
    """

    def __init__(
        self, embedder: Embedder, collection: str, path: Path | None = None, server: tuple[str, int] | None = None
    ) -> None:
        self.embedder = embedder
        self.name = collection
        self.path = path
        self.url = f"http://{server[0]}:{server[1]}" if server else None
        self.location = f"collection {collection!r} at {self.url}" if self.url else str(path or "memory")
        self._metadata = {"embedder": embedder.name}
        self._function = _chroma_embedding_function(embedder)
        try:
            self._client = self._connect(server)
            self._collection = self._client.get_or_create_collection(
                name=collection,
                embedding_function=self._function,
                configuration={"hnsw": {"space": "cosine"}},
                metadata=self._metadata,
            )
            self._check()
        except StoreError:
            raise
        except _open_errors() as exc:
            raise self.unusable(explain(exc)) from None
        if path is not None:
            write_marker(path)

    def _connect(self, server: tuple[str, int] | None) -> Any:
        import chromadb

        if server is not None:
            return connect_server(*server)
        if self.path is None:
            return chromadb.EphemeralClient(settings=_chroma_settings())
        check_folder(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(self.path), settings=_chroma_settings())

    def _check(self) -> None:
        """Refuse an index built with another embedder, then read one vector back and search with it: a missing or
        damaged segment file fails here, at open, rather than on a patient's first question."""
        built_with = (self._collection.metadata or {}).get("embedder")
        if built_with and built_with != self.embedder.name:
            raise self.unusable(f"it was built with the embedder {built_with!r}, but the settings use "
                                f"{self.embedder.name!r} (its vectors cannot be compared)")
        if self._collection.count():
            got = self._collection.get(limit=1, include=["embeddings"])
            self._collection.query(query_embeddings=[got["embeddings"][0]], n_results=1, include=[])

    def unusable(self, reason: str) -> StoreError:
        if self.url:
            return collection_unusable(self.name, self.url, reason)
        return folder_unusable(self.path or Path("memory"), reason)

    def count(self) -> int:
        return self._collection.count()

    def fingerprint(self) -> tuple[str | None, int]:
        """(revision, chunk count): changes whenever any client writes through a ChunkStore, and the count catches
        writers that do not stamp. Two small calls (over HTTP: two loopback requests)."""
        current = self._client.get_collection(self.name, embedding_function=self._function)
        return (current.metadata or {}).get(REVISION), current.count()

    def upsert(self, ids: Sequence[str], texts: Sequence[str], metadatas: Sequence[dict], vectors: np.ndarray) -> None:
        if ids:
            self._collection.upsert(
                ids=list(ids), documents=list(texts), metadatas=list(metadatas), embeddings=vectors.tolist()
            )
            self._stamp()

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self._collection.delete(ids=list(ids))
            self._stamp()

    def _stamp(self) -> None:
        """A new revision after the data is written, so a reader that sees it also sees the data."""
        self._collection.modify(metadata={**self._metadata, REVISION: uuid.uuid4().hex})

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


def make_store(settings: Settings, embedder: Embedder, path: Path | None = None) -> ChunkStore:
    """The knowledge store ``vector_store.backend`` names. An explicit ``path`` always means an embedded folder there
    (evaluation indexes, never the shared server's collection); otherwise the embedded one is ``data_dir/chroma``."""
    cfg = settings.vector_store
    if path is not None or cfg.backend in (EMBEDDED, "chroma"):  # "chroma": the old name, for hand-built settings
        return ChunkStore(embedder, cfg.collection, path or settings.chroma_dir)
    if cfg.backend == HTTP:
        return ChunkStore(embedder, cfg.collection, server=(cfg.host, cfg.port))
    choices = ", ".join(STORE_BACKENDS)
    raise SettingsError(f"vector_store.backend {cfg.backend!r} is not supported; choose one of: {choices}")

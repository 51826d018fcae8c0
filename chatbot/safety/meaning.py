"""A classifier on sentence meaning, beside the n-gram ones: paraphrases that share few words with any example.

Why: the TF-IDF classifiers of the self-harm and harmful-request layers read characters and words, so a request
phrased unlike every example ("what should the note say so my boss doesn't ask, I wasn't really ill") slips under
their bar. Logistic regression on the retrieval embedder's sentence vectors reads the meaning instead. The bundled
embedder (MiniLM) is English-only, so callers use it for English text only.

The examples' vectors are computed once and kept in ``cache_dir`` under a key made of the embedder's name and the
examples' text (about 10 s for a thousand examples on two cores the first time; milliseconds after). Nothing a
patient writes is cached: only our own examples.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from chatbot.cachefile import write_atomic

log = logging.getLogger(__name__)


class MeaningModel:
    """P(positive) for a text from its sentence vector; fitted on ``texts`` / ``positive`` at construction."""

    def __init__(self, embedder: Any, texts: Sequence[str], positive: Sequence[int], cache_dir: Path | None) -> None:
        from sklearn.linear_model import LogisticRegression

        self.embedder = embedder
        vectors = example_vectors(embedder, texts, cache_dir)
        self.model = LogisticRegression(C=4.0, class_weight="balanced", max_iter=3000).fit(vectors, list(positive))

    def probability(self, text: str) -> float:
        return float(self.model.predict_proba(self.embedder.embed([text]))[0][1])


def example_vectors(embedder: Any, texts: Sequence[str], cache_dir: Path | None) -> np.ndarray:
    """The examples' sentence vectors, from the cache when the embedder and the texts are the same."""
    key = hashlib.sha256("\n".join([getattr(embedder, "name", type(embedder).__name__), *texts]).encode()).hexdigest()
    path = cache_dir / f"examples-{key[:20]}.npy" if cache_dir is not None else None
    if path is not None and path.is_file():
        try:
            vectors = np.load(path)
            if vectors.shape[0] == len(texts):
                return vectors
        except (OSError, ValueError) as exc:
            log.warning("example vectors cache %s unreadable (%s): recomputing", path.name, exc)
    vectors = np.asarray(embedder.embed(list(texts)), dtype=np.float32)
    if path is not None:
        buffer = io.BytesIO()
        np.save(buffer, vectors)
        write_atomic(path, buffer.getvalue())
    return vectors

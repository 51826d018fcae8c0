"""What every suite shares: run options, a context that builds engine parts once, and the result shape.

Why a context object: ``--suite all`` runs five suites in one process, and loading the 1.5B model or embedding
the knowledge base twice would cost minutes. The context builds each expensive part on first use and hands the
same instance to every suite. Suites stay small: ``run(ctx) -> SuiteResult``.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import shutil
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from chatbot.config import Settings, load_settings
from evals.datasets import Dataset, Passage, fingerprint

log = logging.getLogger("evals")


@dataclass
class RunOptions:
    """The command line, parsed; defaults are what ``python -m evals run`` uses."""

    suites: list[str]
    out: Path
    datasets: list[str] = field(default_factory=list)
    limit: int | None = None
    seed: int = 0
    models: list[str] = field(default_factory=list)
    profile: str | None = None
    config: Path | None = None
    data_dir: Path | None = None
    rules_only: bool = False
    with_model: bool = False
    medquad_sample: int = 2000
    progress: bool = True
    compare: Path | None = None
    thresholds: Path | None = None
    resume: bool = False


@dataclass
class SuiteResult:
    """One suite's output: flat metrics (the compared numbers), Markdown sections, JSON details and charts."""

    name: str
    metrics: dict[str, float] = field(default_factory=dict)
    sections: list[tuple[str, str]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    charts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    datasets: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def add_dataset(self, dataset: Dataset, cases: int | None = None) -> None:
        self.datasets[dataset.name] = {
            "cases": cases if cases is not None else len(dataset.cases),
            "corpus": len(dataset.corpus) or None,
            "files": [fingerprint(f) for f in dataset.files if f.is_file()],
            "notes": dataset.notes,
        }

    def add_metrics(self, prefix: str, values: dict[str, float]) -> None:
        self.metrics.update({f"{prefix}.{k}": float(v) for k, v in values.items()})


class CachingEmbedder:
    """Remembers recent query vectors: dense and hybrid retrieval embed the same query; once is enough."""

    def __init__(self, inner: Any, size: int = 4096) -> None:
        self.inner = inner
        self.name = inner.name
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._size = size

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) != 1:  # bulk indexing: nothing to reuse
            return self.inner.embed(texts)
        key = texts[0]
        if key not in self._cache:
            self._cache[key] = self.inner.embed(texts)
            if len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return self._cache[key]


class RunContext:
    """Builds settings, the embedder, indexes, LLMs and engines once per run and shares them between suites."""

    def __init__(self, options: RunOptions) -> None:
        self.options = options
        self._embedder: Any = None
        self._kb_store: Any = None
        self._llms: dict[str, Any] = {}
        self.kb_ingest: str = ""

    # ---- settings ---------------------------------------------------------------------------------------------
    @property
    def model(self) -> str | None:
        return self.options.models[0] if self.options.models else None

    def settings(self, model: str | None = None, **sections: dict) -> Settings:
        """The run's settings (profile, config file, --model, --data-dir) with per-suite section overrides."""
        overrides: dict[str, Any] = {k: dict(v) for k, v in sections.items()}
        chosen = model or self.model
        if chosen:
            overrides.setdefault("llm", {})["model"] = chosen
        if self.options.data_dir:
            overrides["data_dir"] = str(self.options.data_dir)
        return load_settings(self.options.profile, self.options.config, overrides=overrides)

    @property
    def cache_dir(self) -> Path:
        return self.settings().data_dir / "eval-cache"

    # ---- retrieval parts --------------------------------------------------------------------------------------
    def embedder(self) -> CachingEmbedder:
        if self._embedder is None:
            from chatbot.embedding import make_embedder

            self._embedder = CachingEmbedder(make_embedder(self.settings()))
        return self._embedder

    def kb_store(self) -> Any:
        """The bundled knowledge base in an eval-only index, refreshed (changed files only) on every run.

        Why not the user's index: it may be stale or hold the user's own documents; evals must measure the
        knowledge files in this checkout.
        """
        if self._kb_store is None:
            from chatbot.knowledge.ingest import Ingestor
            from chatbot.vectorstore import make_store

            settings = self.settings()
            path = self.cache_dir / f"kb-{_slug(self.embedder().name)}"
            store = make_store(settings, self.embedder(), path)
            paths = [settings.path(p) for p in settings.ingest.paths]
            cfg = settings.ingest
            report = Ingestor(store, cfg.chunk_size, cfg.chunk_overlap).run(paths, prune=True, progress=False)
            self.kb_ingest = report.summary()
            self._kb_store = store
        return self._kb_store

    def passage_store(self, name: str, passages: list[Passage], key: str) -> Any:
        """An index of a public corpus (one chunk per passage), cached on disk under ``key`` so reruns are fast."""
        from chatbot.vectorstore import ChunkStore

        ids_digest = hashlib.sha256("\n".join(p.id for p in passages).encode()).hexdigest()[:12]
        path = self.cache_dir / f"{name}-{key}-{_slug(self.embedder().name)}"
        manifest = path / "manifest.json"
        expected = {"ids": ids_digest, "count": len(passages), "embedder": self.embedder().name}
        if manifest.is_file() and json.loads(manifest.read_text()) == expected:
            store = ChunkStore(self.embedder(), name, path)
            if store.count() == len(passages):
                return store
        shutil.rmtree(path, ignore_errors=True)
        store = ChunkStore(self.embedder(), name, path)
        self._index_passages(store, name, passages)
        manifest.write_text(json.dumps(expected))
        return store

    def _index_passages(self, store: Any, name: str, passages: list[Passage], batch: int = 64) -> None:
        bar = tqdm(total=len(passages), desc=f"indexing {name}", unit="passage", disable=not self.options.progress)
        with bar:
            for start in range(0, len(passages), batch):
                part = passages[start : start + batch]
                # Same shape as the knowledge base's Chunk.embed_text: title and heading give the passage its subject.
                vectors = self.embedder().embed([f"{p.title}. {p.section}. {p.text}" for p in part])
                metas = [
                    {"title": p.title, "section": p.section, "url": p.url, "topic_id": p.topic_id, "file": name}
                    for p in part
                ]
                store.upsert([p.id for p in part], [p.text for p in part], metas, vectors)
                bar.update(len(part))

    # ---- model parts ------------------------------------------------------------------------------------------
    def llm(self, settings: Settings) -> Any:
        """One loaded model per distinct LLM configuration, shared by every engine that uses it."""
        from chatbot.generation import make_llm

        key = settings.llm.model_dump_json()
        if key not in self._llms:
            self._llms[key] = make_llm(settings)
        return self._llms[key]

    def drop_llms(self) -> None:
        """Free loaded models (the latency suite measures each model's memory on its own)."""
        self._llms.clear()
        gc.collect()

    def engine(self, settings: Settings, with_llm: bool = True) -> Any:
        from chatbot.conversation import Engine

        engine = Engine(settings, llm=self.llm(settings) if with_llm else None, store=self.kb_store())
        engine.ensure_index(progress=False)
        return engine

    def checkpoint(self, suite: str, dataset: str) -> Checkpoint:
        """Per-case results of a slow suite, saved as they complete so ``--resume`` can skip finished cases."""
        return Checkpoint(self.options.out / "cases" / f"{suite}-{_slug(dataset)}.jsonl", self.options.resume)

    def progress(self, items: Iterable, desc: str, total: int | None = None) -> tqdm:
        """The progress bar every suite uses: cases done, rate and time left."""
        return tqdm(items, desc=desc, total=total, unit="case", disable=not self.options.progress, dynamic_ncols=True)


class Checkpoint:
    """A JSON-lines file of finished cases keyed by ``id``; a model run of an hour survives an interruption."""

    def __init__(self, path: Path, resume: bool) -> None:
        self.path = path
        self.done: dict[str, dict] = {}
        if resume and path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    row = json.loads(line)
                    self.done[row["id"]] = row
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("", encoding="utf-8")

    def add(self, row: dict) -> dict:
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        self.done[row["id"]] = row
        return row

    def replace(self, row: dict) -> dict:
        """Swap a finished case for an updated one; ``rewrite`` then saves the file, one line per case."""
        self.done[row["id"]] = row
        return row

    def rewrite(self) -> None:
        lines = [json.dumps(r, ensure_ascii=False, default=str) for r in self.done.values()]
        self.path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text)[:60]


def model_record(settings: Settings, llm: Any = None) -> dict[str, str]:
    """Model name and sha256, from the loaded model or the catalogue (a rules-only run never loads one)."""
    if llm is not None and getattr(llm, "sha256", ""):
        return {"name": llm.name, "sha256": llm.sha256}
    if settings.llm.model_path:
        return {"name": Path(settings.llm.model_path).name, "sha256": ""}
    from chatbot.models.catalogue import load_catalogue

    entry = load_catalogue().get(settings.llm.model)
    return {"name": settings.llm.model, "sha256": (entry.sha256 or "") if entry else ""}

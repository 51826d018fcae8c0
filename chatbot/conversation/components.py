"""The assistant's parts, built lazily once per process from the settings and shared by every session.

Why a room of its own: which backend is used (llama.cpp or an OpenAI-compatible server, Chroma or the fake store,
MiniLM or the hashed embedder) and how each safety table is loaded is configuration, not the turn's logic. The
engine (``conversation/engine.py``) inherits these parts and only runs turns with them; a test swaps one part by
passing it in (``llm=``, ``store=``, ``embedder=``) or by assigning the attribute.
"""

from __future__ import annotations

import logging
import threading
from functools import cached_property
from typing import Any

from chatbot import __version__
from chatbot.answer import ModelInfo
from chatbot.config import Settings
from chatbot.conversation.prompting import PromptBuilder
from chatbot.generation import ChatLLM, PromptLibrary, make_llm
from chatbot.generation.citations import CitationCheck, Cues
from chatbot.knowledge.criteria import CriteriaIndex, load_index, rulebook_files
from chatbot.knowledge.sign_translations import load_sign_translations
from chatbot.knowledge.topic_names import load_topic_names
from chatbot.retrieval import HybridRetriever
from chatbot.safety import RedFlagScreen, load_locales, load_rulebook
from chatbot.safety.consistency import ConsistencyCheck
from chatbot.safety.crisis import CrisisClassifier, load_classifier
from chatbot.safety.floors import CareFloors
from chatbot.safety.harmful import HarmfulRequestFilter, load_filter
from chatbot.safety.locales import LocaleTable
from chatbot.safety.minimising import Minimising

log = logging.getLogger(__name__)


class Components:
    """Shared parts of the assistant, built lazily once per process and used by every session."""

    def __init__(self, settings: Settings, llm: ChatLLM | None = None, store: Any = None, embedder: Any = None):
        self.settings = settings
        self._llm = llm
        self._store = store
        self._embedder = embedder
        self._index_lock = threading.Lock()

    @property
    def llm(self) -> ChatLLM:
        if self._llm is None:
            self._llm = make_llm(self.settings)
        return self._llm

    @property
    def store(self) -> Any:
        if self._store is None:
            from chatbot.embedding import make_embedder
            from chatbot.vectorstore import make_store

            self._store = make_store(self.settings, self._embedder or make_embedder(self.settings))
        return self._store

    @cached_property
    def retriever(self) -> HybridRetriever:
        return HybridRetriever(self.store, self.settings.retrieval)

    @cached_property
    def red_flags(self) -> RedFlagScreen:
        return RedFlagScreen(load_rulebook(self.settings.path(self.settings.safety.rulebook)))

    @cached_property
    def criteria(self) -> CriteriaIndex:
        """Which of the library's warning signs each rule recognises (probed once, cached in data_dir/cache)."""
        rulebook, knowledge = self.settings.path(self.settings.safety.rulebook), self.settings.knowledge_dir
        return load_index(knowledge / "topics", rulebook_files(rulebook), self.red_flags,
                          knowledge / "warning_signs_exempt.yaml", self.settings.data_dir / "cache")

    @cached_property
    def sign_translations(self) -> dict[tuple[str, str], str]:
        """Chinese versions of the warning-sign bullets (knowledge/warning_signs_zh/)."""
        return load_sign_translations(self.settings.knowledge_dir / "warning_signs_zh")

    @cached_property
    def floors(self) -> CareFloors:
        return CareFloors.from_path(self.settings.path(self.settings.safety.care_floors))

    @cached_property
    def crisis(self) -> CrisisClassifier:
        cfg = self.settings.safety
        return load_classifier(str(self.settings.path(cfg.crisis_examples)), cfg.crisis_threshold)

    @cached_property
    def harmful(self) -> HarmfulRequestFilter:
        cfg = self.settings.safety
        weight = self._meaning_weight(cfg.harmful_meaning_weight)
        threshold = cfg.harmful_threshold if weight > 0 else cfg.harmful_threshold_words_only
        return load_filter(str(self.settings.path(cfg.harmful_examples)), str(self.settings.path(cfg.harmful_patterns)),
                           threshold, cfg.harmful_covert_threshold, cfg.harmful_threshold_zh,
                           *((self.embedder, weight, str(self.settings.data_dir / "cache")) if weight > 0 else ()))

    def _meaning_weight(self, weight: float) -> float:
        """The meaning classifier's share, or 0 with an embedder that reads shared words only (the fake)."""
        if weight > 0 and not getattr(self.embedder, "semantic", True):
            log.info("embedder %s reads no meaning: the harmful-request filter uses its n-grams only",
                     getattr(self.embedder, "name", "?"))
            return 0.0
        return weight

    @cached_property
    def consistency(self) -> ConsistencyCheck:
        path = self.settings.path(self.settings.safety.consistency)
        return ConsistencyCheck.from_path(self.locales, self.locale, path)

    @cached_property
    def embedder(self) -> Any:
        """The retrieval embedder, shared by the checks that read meaning (citations, harmful requests)."""
        from chatbot.embedding import make_embedder

        return getattr(self.store, "embedder", None) or self._embedder or make_embedder(self.settings)

    @cached_property
    def citations(self) -> CitationCheck:
        cfg = self.settings.generation
        return CitationCheck(self.embedder, Cues.from_path(self.settings.path(cfg.citation_cues)),
                             cfg.citation_min_support, cfg.citation_lexical_weight, self.retriever.glossary,
                             cfg.citation_min_support_zh)

    @cached_property
    def topic_names(self) -> dict[str, dict[str, str]]:
        return load_topic_names(self.settings.knowledge_dir / "topics")

    @cached_property
    def minimising(self) -> Minimising:
        return Minimising.from_path(self.settings.path(self.settings.safety.minimising))

    @cached_property
    def locales(self) -> LocaleTable:
        return load_locales(self.settings.path(self.settings.safety.locales))

    @cached_property
    def prompts(self) -> PromptLibrary:
        return PromptLibrary(self.settings.prompts_dir)

    @cached_property
    def prompting(self) -> PromptBuilder:
        """Every prompt of a turn, from one view of the conversation (conversation/prompting.py)."""
        return PromptBuilder(self.settings, self.prompts, self.minimising, lambda: self.llm)

    @property
    def locale(self) -> str:
        return self.settings.safety.locale

    def ensure_index(self, progress: bool = True) -> int:
        """Build the index from the bundled knowledge on first run, so a fresh machine can chat at once."""
        from chatbot.knowledge.ingest import Ingestor

        with self._index_lock:
            if self.store.count() == 0:
                cfg = self.settings.ingest
                report = Ingestor(self.store, cfg.chunk_size, cfg.chunk_overlap, max_file_mb=cfg.max_file_mb).run(
                    [self.settings.path(p) for p in cfg.paths], progress=progress
                )
                log.info("built index: %s", report.summary().replace("\n", "; "))
            self.retriever.refresh()
            return self.store.count()

    def model_info(self) -> ModelInfo:
        llm = self._llm
        if llm is None:
            return ModelInfo(name=self.settings.llm.model)
        return ModelInfo(name=llm.name, sha256=llm.sha256, gpu_layers=llm.gpu_layers)

    def status(self) -> dict[str, Any]:
        return {
            "version": __version__,
            "profile": self.settings.profile,
            "model": self.model_info().model_dump(),
            "model_loaded": self._llm is not None,
            "index_chunks": self.store.count() if self._store is not None else None,
            "locale": self.locale,
        }

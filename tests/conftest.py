"""Shared fixtures: fast fakes for unit tests, real components for integration tests (all offline)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import chatbot  # noqa: F401  (sets the privacy environment before anything else is imported)
from chatbot.config import PROJECT_ROOT, load_settings

SHARED_DATA = (PROJECT_ROOT.parent / "shared" / "data").resolve()
TOPICS = PROJECT_ROOT / "knowledge" / "topics"

os.environ.setdefault("CHATBOT_PROFILE", "cpu")


def fake_settings(tmp_path: Path, **overrides):
    base = {
        "data_dir": str(tmp_path / "data"),
        "llm": {"backend": "fake"},
        "embedding": {"backend": "fake"},
        "conversation": {"intake_enabled": False},
    }
    for key, value in overrides.items():
        base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
    return load_settings("cpu", overrides=base, environ={})


def long_conversation(engine, last: str, n_ctx: int = 1200) -> list:
    """Eight long turns, then a context window shrunk to ``n_ctx`` and ``last`` asked: the model calls of that
    last turn (tests of prompt fitting)."""
    from chatbot.conversation import Session

    session = Session()
    for i in range(8):
        engine.ask(session, f"Question {i} about sore throat and swallowing pain " + "detail " * 150)
    engine.llm.n_ctx = n_ctx
    engine.llm.calls.clear()
    engine.ask(session, last)
    return engine.llm.calls


@pytest.fixture
def settings(tmp_path):
    return fake_settings(tmp_path)


@pytest.fixture
def mini_corpus(tmp_path) -> Path:
    """A handful of real topics copied aside, so tests can edit and delete files freely."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name in ("sore-throat.md", "chest-pain.md", "headache.md", "fever-in-children.md", "constipation.md"):
        if (TOPICS / name).exists():
            shutil.copy(TOPICS / name, folder / name)
    return folder


@pytest.fixture
def engine(tmp_path, mini_corpus):
    from chatbot.conversation import Engine
    from chatbot.embedding import FakeEmbedder
    from chatbot.generation import FakeLLM
    from chatbot.vectorstore import ChunkStore

    settings = fake_settings(tmp_path, ingest={"paths": [str(mini_corpus)]})
    store = ChunkStore(FakeEmbedder(), "knowledge", settings.chroma_dir)
    eng = Engine(settings, llm=FakeLLM(), store=store)
    eng.ensure_index(progress=False)
    return eng


def require_shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} is absent (CI always has it)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def real_data_dir(tmp_path_factory) -> Path:
    """One data folder whose index of the bundled knowledge (real MiniLM) is built once per test session."""
    return tmp_path_factory.mktemp("real-data")

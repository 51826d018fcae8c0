"""Vector store backends and the BM25 staleness check, with the fake embedder (the HTTP server: tests/integration)."""

import shutil
import time

import pytest

from chatbot.config import load_settings
from chatbot.config.settings import RetrievalSettings
from chatbot.embedding import FakeEmbedder
from chatbot.index_health import StoreUnreachable
from chatbot.knowledge.ingest import Ingestor
from chatbot.retrieval import HybridRetriever
from chatbot.vectorstore import ChunkStore, make_store
from tests.conftest import TOPICS


def test_the_old_backend_name_still_means_embedded(tmp_path):
    old = load_settings(overrides={"data_dir": str(tmp_path), "vector_store": {"backend": "chroma"}}, environ={})
    assert old.vector_store.backend == "chroma-embedded"
    assert load_settings(environ={}).vector_store.backend == "chroma-embedded"


def test_http_backend_reads_host_and_port_from_the_environment():
    env = {
        "CHATBOT__VECTOR_STORE__BACKEND": "chroma-http",
        "CHATBOT__VECTOR_STORE__HOST": "127.0.0.1",
        "CHATBOT__VECTOR_STORE__PORT": "8001",
    }
    cfg = load_settings(environ=env).vector_store
    assert (cfg.backend, cfg.host, cfg.port) == ("chroma-http", "127.0.0.1", 8001)


def test_an_unreachable_server_says_how_to_start_it(tmp_path):
    from chatbot.chroma_server import free_port

    port = free_port()  # nothing listens there
    settings = load_settings(
        overrides={"data_dir": str(tmp_path), "vector_store": {"backend": "chroma-http", "port": port}}, environ={}
    )
    with pytest.raises(StoreUnreachable) as caught:
        make_store(settings, FakeEmbedder())
    text = str(caught.value)
    assert f"http://127.0.0.1:{port}" in text and f"chroma run --path DIR --host 127.0.0.1 --port {port}" in text


def test_the_fingerprint_changes_on_every_write_and_not_on_reads(tmp_path, mini_corpus):
    store = ChunkStore(FakeEmbedder(), "knowledge", tmp_path / "chroma")
    empty = store.fingerprint()
    Ingestor(store).run([mini_corpus], progress=False)
    built = store.fingerprint()
    assert built != empty and built[1] == store.count()
    store.all_chunks()
    store.query(FakeEmbedder().embed(["sore throat"])[0], 3)
    assert store.fingerprint() == built
    some = [c.id for c in store.all_chunks()][:1]
    store.upsert(some, ["rewritten text, same id"], [{"file": "x"}], FakeEmbedder().embed(["rewritten"]))
    rewritten = store.fingerprint()
    assert rewritten[1] == built[1] and rewritten != built  # same count: only the revision tells
    store.delete(some)
    assert store.fingerprint()[1] == built[1] - 1


def _topics(hits):
    return {h.metadata["topic_id"] for h in hits}


def _two_clients(tmp_path, mini_corpus, check_s, clock=time.monotonic):
    """Two stores on one folder stand for two replicas; the reader's retriever is built before the writer ingests."""
    reader = ChunkStore(FakeEmbedder(), "knowledge", tmp_path / "chroma")
    Ingestor(reader).run([mini_corpus], progress=False)
    retriever = HybridRetriever(reader, RetrievalSettings(bm25_check_s=check_s))
    retriever.clock = clock
    retriever.refresh()
    extra = tmp_path / "more"
    extra.mkdir()
    shutil.copy(TOPICS / "gout.md", extra / "gout.md")
    writer = ChunkStore(FakeEmbedder(), "knowledge", tmp_path / "chroma")
    assert "gout" not in _topics(retriever.sparse("gout uric acid"))
    Ingestor(writer).run([extra], progress=False)
    return retriever


def test_bm25_sees_chunks_another_client_ingested(tmp_path, mini_corpus):
    retriever = _two_clients(tmp_path, mini_corpus, check_s=0.0)
    hits = retriever.search("gout uric acid joint", mode="bm25", floor=False).hits
    assert hits and hits[0].metadata["topic_id"] == "gout"


def test_bm25_checks_the_store_at_most_every_bm25_check_s(tmp_path, mini_corpus):
    now = [1000.0]
    retriever = _two_clients(tmp_path, mini_corpus, check_s=30.0, clock=lambda: now[0])
    now[0] += 29.0
    retriever.search("headache", mode="bm25")  # within the interval: no check, the new topic is not seen yet
    assert "gout" not in _topics(retriever.sparse("gout uric acid"))
    now[0] += 2.0
    hits = retriever.search("gout uric acid joint", mode="bm25", floor=False).hits
    assert hits and hits[0].metadata["topic_id"] == "gout"


def test_an_explicit_folder_stays_embedded_even_with_a_server_configured(tmp_path):
    """Evaluation indexes pass their own folder; they must never write into the shared server's collection."""
    from chatbot.chroma_server import free_port

    settings = load_settings(
        overrides={"data_dir": str(tmp_path), "vector_store": {"backend": "chroma-http", "port": free_port()}},
        environ={},
    )
    store = make_store(settings, FakeEmbedder(), tmp_path / "eval-index")
    assert store.url is None and store.location == str(tmp_path / "eval-index") and store.count() == 0

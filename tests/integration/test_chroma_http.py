"""chroma-http against a real `chroma run` on a free loopback port: the CLI works through it, retrieval returns the
same chunks as embedded mode, and a second replica's ingestion reaches the first one's BM25 (fake embedder/LLM)."""

import ipaddress
import json
import os
import shutil
import subprocess
import sys
import time

import httpx
import psutil
import pytest

from chatbot.chroma_server import LocalChromaServer, free_port
from chatbot.config import PROJECT_ROOT
from chatbot.embedding import FakeEmbedder
from chatbot.knowledge.ingest import Ingestor
from chatbot.retrieval import HybridRetriever
from chatbot.vectorstore import make_store
from tests.conftest import TOPICS, fake_settings

pytestmark = pytest.mark.slow

FIRST = ("sore-throat.md", "headache.md", "chest-pain.md", "common-cold.md", "constipation.md", "sinusitis.md")
LATER = ("gout.md", "shingles.md")
QUERIES = ["sore throat and it hurts to swallow", "blocked nose and pain in my cheeks", "crushing chest pain",
           "I have not pooped for four days", "throbbing headache behind the eyes", "喉咙痛"]


def _folder(root, names):
    root.mkdir()
    for name in names:
        shutil.copy(TOPICS / name, root / name)
    return root


def _cli(env, *args, timeout=300):
    return subprocess.run([sys.executable, "-m", "chatbot", *args], env=env, cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=timeout)


def _loopback_only(pid):
    remote = [c.raddr.ip for c in psutil.Process(pid).net_connections(kind="inet") if c.raddr]
    return [ip for ip in remote if not ipaddress.ip_address(ip).is_loopback]


def _ids(retriever, query):
    return [h.id for h in retriever.search(query, k=5, floor=False).hits]


def test_http_backend_matches_embedded_and_sees_another_replicas_chunks(tmp_path):
    first, later = _folder(tmp_path / "topics", FIRST), _folder(tmp_path / "later", LATER)
    embedded = make_store(fake_settings(tmp_path / "embedded"), FakeEmbedder())
    Ingestor(embedded).run([first], progress=False)
    with LocalChromaServer(tmp_path / "server") as server:
        env = {**os.environ, "CHATBOT__VECTOR_STORE__BACKEND": "chroma-http",
               "CHATBOT__VECTOR_STORE__HOST": "127.0.0.1", "CHATBOT__VECTOR_STORE__PORT": str(server.port),
               "CHATBOT__DATA_DIR": str(tmp_path / "replica"), "CHATBOT__LLM__BACKEND": "fake",
               "CHATBOT__EMBEDDING__BACKEND": "fake", "CHATBOT__INGEST__PATHS": f"[{first}]",
               "CHATBOT__CONVERSATION__INTAKE_ENABLED": "false"}
        done = _cli(env, "ingest")
        assert done.returncode == 0, done.stderr
        assert f"chunks in collection 'knowledge' at {server.url}" in " ".join(done.stdout.split())
        assert not (tmp_path / "replica" / "chroma").exists()  # nothing went to a local folder

        settings = fake_settings(tmp_path / "client", vector_store={"backend": "chroma-http", "port": server.port},
                                 retrieval={"bm25_check_s": 0.0})
        remote = make_store(settings, FakeEmbedder())
        assert remote.count() == embedded.count() > 0
        assert {c.id for c in remote.all_chunks()} == {c.id for c in embedded.all_chunks()}
        over_http = HybridRetriever(remote, settings.retrieval)
        in_process = HybridRetriever(embedded, settings.retrieval)
        for query in QUERIES:
            assert _ids(over_http, query) == _ids(in_process, query), query

        # Another replica ingests more topics; this client's BM25 must see them without being told.
        assert "gout" not in {h.metadata["topic_id"] for h in over_http.sparse("gout uric acid")}
        more = _cli(env, "ingest", str(later))
        assert more.returncode == 0, more.stderr
        bm25 = over_http.search("gout uric acid big toe", mode="bm25", floor=False).hits
        assert bm25 and bm25[0].metadata["topic_id"] == "gout"
        Ingestor(embedded).run([later], progress=False)
        for query in ("gout uric acid big toe", "painful blistering rash on one side", *QUERIES[:2]):
            assert _ids(over_http, query) == _ids(in_process, query), query

        asked = _cli(env, "ask", "--json", "What helps a sore throat?")
        assert asked.returncode == 0, asked.stderr
        assert json.loads(asked.stdout)["sources"]
        _serve_answers_health(env, remote.count())
        assert _loopback_only(server.process.pid) == [] and _loopback_only(os.getpid()) == []
    assert server.process.poll() is not None  # stopped


def _serve_answers_health(env, chunks):
    port = free_port()
    serve = subprocess.Popen([sys.executable, "-m", "chatbot", "serve", "--port", str(port)], env=env,
                             cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            assert serve.poll() is None, serve.stderr.read().decode()
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("serve did not answer /healthz")
        assert health["index_chunks"] == chunks
    finally:
        serve.terminate()
        serve.wait(timeout=30)

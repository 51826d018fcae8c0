"""The real ``llm-server`` (llama.cpp's server via xllamacpp, test-fixture model SmolLM2) on a free loopback port,
used through ``llm.backend: openai``: one streamed chat turn and one calibrated triage call, then a clean stop.
SmolLM2's text is never judged for quality, only for the contract."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from chatbot.config import PROJECT_ROOT
from chatbot.conversation import Engine, Session
from chatbot.embedding import FakeEmbedder
from chatbot.safety import LEVELS, decide_level
from chatbot.vectorstore import ChunkStore
from tests.conftest import TOPICS, fake_settings

pytestmark = pytest.mark.slow
_START_TIMEOUT_S = 240


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def llm_server():
    """``python -m chatbot --profile test llm-server`` as a child process; yields (base_url, process)."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATBOT__")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "chatbot", "--profile", "test", "llm-server", "--port", str(port), "--parallel", "2"],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"llm-server exited with {proc.returncode}: {proc.stderr.read()[-2000:]}")
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail(f"llm-server did not answer /health within {_START_TIMEOUT_S} s")
        yield f"{base}/v1", proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def server_engine(llm_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("llm-server")
    corpus = tmp / "corpus"
    corpus.mkdir()
    for name in ("sore-throat.md", "common-cold.md", "cough.md"):
        (corpus / name).write_text((TOPICS / name).read_text(encoding="utf-8"), encoding="utf-8")
    settings = fake_settings(
        tmp,
        ingest={"paths": [str(corpus)]},
        llm={"backend": "openai", "base_url": llm_server[0], "model": "smollm2", "max_tokens": 48, "n_ctx": 2048},
        triage={"calibrated_for": "smollm2"},  # so the calibrated path (logprobs at the level token) runs
        generation={"citation_check": False},  # the 135M model cannot cite; this tests the serving path
    )
    engine = Engine(settings, store=ChunkStore(FakeEmbedder(), "knowledge", settings.chroma_dir))
    engine.ensure_index(progress=False)
    engine.warm_up()
    return engine


def test_a_streamed_chat_turn_through_the_server(server_engine):
    events = list(server_engine.stream(Session(), "My sore throat hurts when I swallow, what can I do at home?"))
    answer = events[-1].answer
    assert answer.kind == "answer", answer.answer
    assert len([e for e in events if e.type == "token"]) > 3
    assert answer.model.name == "smollm2"  # the server's alias: the catalogue name
    assert server_engine.llm.n_ctx == 2048  # each of the 2 slots holds the whole configured context


def test_a_calibrated_triage_call_reads_the_servers_logprobs(server_engine):
    triage = server_engine.triage_only(Session(), "I have had a mild cough for two days", use_model=True).triage
    probs = triage.model_probabilities
    assert set(probs) == set(LEVELS) and sum(probs.values()) == pytest.approx(1.0, abs=1e-3)
    assert triage.model_level == decide_level(probs, server_engine.settings.triage.thresholds)


def test_prompt_fitting_counts_with_the_servers_tokenizer(server_engine):
    llm = server_engine.llm
    messages = [{"role": "user", "content": "hello there"}]
    assert llm.count_tokens(messages) < llm._estimate(messages)  # the estimate over-counts on purpose
    assert llm._counter == llm._count_llamacpp


def test_the_server_prints_its_base_url_and_stops_cleanly_on_sigterm(llm_server, server_engine):
    url, proc = llm_server
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    assert f"CHATBOT__LLM__BACKEND=openai CHATBOT__LLM__BASE_URL={url}" in out

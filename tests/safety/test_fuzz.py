"""Property-based fuzzing (hypothesis, seeded and bounded) of every text surface a patient or client controls:
chat messages through the deterministic layer and a whole engine turn, and API bodies and headers. Each must give
a clear answer or error and never crash, leak a stack trace, or lower an emergency that the same message carries.

The default run uses a few hundred cases per surface; ``-m slow`` runs 10,000 per deterministic surface.
"""

from __future__ import annotations

import json
import os

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from chatbot.answer import TriageLevel
from chatbot.conversation import Session
from chatbot.conversation.engine import InputError, clean_message
from chatbot.interfaces.http.app import create_api
from chatbot.safety.facts import extract_facts
from chatbot.safety.intake import intake_questions
from chatbot.safety.refusals import check_boundaries
from chatbot.safety.screen import default_screen

EMERGENCY = "crushing chest pain spreading to my left arm and I'm sweating"
# Hostile pieces: control characters, bidi overrides, zero-width, BOM, surrogates, emoji, CJK, Arabic, combining.
HOSTILE = [
    "\x00", "\x07", "\x1b[31m", "\u202e", "\u200b", "\u200d", "\ufeff", "\ud800", "🔥", "胸痛", "مرحبا", "e\u0301",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467", "\r\n", "\t", "<script>", "{{", "%s", "\\", "'", '"', "[/INST]",
    "<|im_end|>",
]
messages = st.lists(st.one_of(st.text(max_size=60), st.sampled_from(HOSTILE)), max_size=12).map("".join)
DEFAULT = settings(max_examples=300, deadline=None, derandomize=True,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
LARGE = settings(DEFAULT, max_examples=10_000)
N = LARGE if os.environ.get("FUZZ_LARGE") else DEFAULT


def _deterministic_layer(text: str) -> None:
    try:
        cleaned = clean_message(text, 4000)
    except InputError as exc:  # empty or too long: a clear message, nothing else to check
        assert str(exc).strip()
        return
    assert isinstance(cleaned, str) and "\x00" not in cleaned
    result = default_screen().screen([cleaned])
    assert result.level is None or isinstance(result.level, TriageLevel)
    refusal = check_boundaries(cleaned, "en", "US")
    assert refusal is None or refusal.message.strip()
    intake_questions(extract_facts(cleaned), [cleaned], "en")
    # Anything appended to an emergency keeps it an emergency (hostile text never lowers a level).
    assert default_screen().screen([EMERGENCY + " " + cleaned]).level == TriageLevel.emergency


@N
@seed(20261204)
@given(messages)
def test_deterministic_layer_survives_any_message(text):
    _deterministic_layer(text)


@pytest.mark.slow
@LARGE
@seed(20261205)
@given(messages)
def test_deterministic_layer_survives_ten_thousand_messages(text):
    _deterministic_layer(text)


@settings(DEFAULT, max_examples=150)
@seed(20261206)
@given(messages)
def test_an_engine_turn_never_crashes(engine, text):
    try:
        answer = engine.ask(Session(), text)
    except InputError as exc:  # the documented contract: interfaces show this message and keep the text
        assert str(exc).strip()
        return
    assert answer.answer.strip() and "Traceback" not in answer.answer


@pytest.fixture(scope="module")
def mini_corpus_module(tmp_path_factory):
    import shutil

    from tests.conftest import TOPICS

    folder = tmp_path_factory.mktemp("fuzz-corpus")
    for name in ("sore-throat.md", "chest-pain.md"):
        shutil.copy(TOPICS / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def api_client(tmp_path_factory, mini_corpus_module):
    from chatbot.conversation import Engine
    from chatbot.embedding import FakeEmbedder
    from chatbot.generation import FakeLLM
    from chatbot.vectorstore import ChunkStore
    from tests.conftest import fake_settings

    tmp = tmp_path_factory.mktemp("fuzz-api")
    # a limit no fuzz run reaches: these tests are about bodies and headers (rate limits: tests/web/test_api.py)
    config = fake_settings(tmp, ingest={"paths": [str(mini_corpus_module)]}, server={"rate_limit": "100000/minute"})
    engine = Engine(config, llm=FakeLLM(), store=ChunkStore(FakeEmbedder(), "knowledge", config.chroma_dir))
    engine.ensure_index(progress=False)
    with TestClient(create_api(engine), raise_server_exceptions=False) as client:
        yield client


scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | messages
json_values = st.recursive(scalars,
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(messages, inner, max_size=4),
                           max_leaves=12)
bodies = st.one_of(
    st.dictionaries(st.sampled_from(["message", "messages", "session_id", "language", "stream", "model", "x"]),
                    json_values, max_size=5),
    json_values,
)


@settings(DEFAULT, max_examples=200)
@seed(20261207)
@given(st.sampled_from(["/v1/chat", "/v1/triage", "/v1/chat/completions"]), bodies,
       st.dictionaries(st.sampled_from(["content-type", "x-session", "accept", "authorization"]),
                       st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
                       max_size=3))
def test_api_bodies_and_headers_get_a_clear_answer_or_error(api_client, path, body, headers):
    # ensure_ascii: lone surrogates travel as \\ud800 escapes, so the server (not the client) meets them.
    response = api_client.post(path, content=json.dumps(body).encode(),
                               headers={"content-type": "application/json", **headers})
    assert response.status_code < 500, response.text[:300]
    assert "Traceback" not in response.text


@settings(DEFAULT, max_examples=100)
@seed(20261208)
@given(st.binary(max_size=2000))
def test_api_survives_raw_bytes(api_client, raw):
    response = api_client.post("/v1/chat", content=raw, headers={"content-type": "application/json"})
    assert response.status_code < 500 and "Traceback" not in response.text

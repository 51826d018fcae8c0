"""The openai backend against a fake OpenAI-compatible server (httpx.MockTransport), plus one dead loopback port.

Covers streaming, the level probabilities read from logprobs at the level token, missing logprobs, another model
being served, token counting through each server dialect, error statuses and an unreachable server."""

from __future__ import annotations

import json
import logging
import math
import shutil
import socket

import httpx
import pytest

from chatbot.config import SettingsError, load_settings
from chatbot.config.settings import LevelThresholds
from chatbot.conversation import Session
from chatbot.generation import Choice, GenerationError, make_llm
from chatbot.generation import openai_backend as backend
from chatbot.generation.openai_backend import OpenAIChatLLM, level_probabilities
from chatbot.interfaces import cli
from chatbot.safety import LEVEL_TRIGGER, LEVELS, MODEL_TRIAGE_SCHEMA, decide_level
from tests.conftest import TOPICS

CUTS = LevelThresholds(emergency=0.15, urgent=0.5, self_care=0.5)
MESSAGES = [{"role": "system", "content": "be kind"}, {"role": "user", "content": "I have a cough"}]


def _top(**probs: float) -> list[dict]:
    return [{"token": token, "logprob": math.log(p)} for token, p in probs.items()]


# The model writes {"level":"urgent" in five tokens; at "u" it gave u 0.5, e 0.2, emergency 0.1, s 0.15, x 0.05.
LEVEL_TOKENS = [
    {"token": '{"', "logprob": -0.1, "top_logprobs": _top(**{'{"': 0.9})},
    {"token": "level", "logprob": -0.1, "top_logprobs": _top(level=0.9)},
    {"token": '":"', "logprob": -0.1, "top_logprobs": _top(**{'":"': 0.9})},
    {"token": "u", "logprob": math.log(0.5), "top_logprobs": _top(u=0.5, e=0.2, emergency=0.1, s=0.15, x=0.05)},
    {"token": "rgent", "logprob": -0.01, "top_logprobs": _top(rgent=0.99)},
]


class FakeServer:
    """Answers like llama.cpp's server (or vLLM's, with ``dialect="vllm"``) and records every request body."""

    def __init__(self, pieces=("Hello", " there", "."), logprobs=None, model_id="default", dialect="llamacpp",
                 n_ctx=2048, status=200):
        self.pieces, self.logprobs, self.model_id, self.dialect = pieces, logprobs, model_id, dialect
        self.n_ctx, self.status = n_ctx, status
        self.requests: list[tuple[str, dict]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        body = json.loads(request.content) if request.content else {}
        self.requests.append((path, body))
        if path == "/v1/models":
            meta = {"meta": {"n_ctx": self.n_ctx}} if self.dialect == "llamacpp" else {"max_model_len": self.n_ctx}
            return httpx.Response(200, json={"data": [{"id": self.model_id, "owned_by": self.dialect, **meta}]})
        if path == "/apply-template" and self.dialect == "llamacpp":
            return httpx.Response(200, json={"prompt": "".join(m["content"] for m in body["messages"])})
        if path == "/tokenize" and self.dialect == "llamacpp":
            return httpx.Response(200, json={"tokens": list(range(len(body["content"].split())))})
        if path == "/tokenize" and self.dialect == "vllm":
            return httpx.Response(200, json={"count": 7 * len(body["messages"]), "tokens": []})
        if path == "/v1/chat/completions":
            return self._completion(body)
        return httpx.Response(404, json={"error": {"message": "not found"}})

    def _completion(self, body: dict) -> httpx.Response:
        if self.status != 200:
            return httpx.Response(self.status, json={"error": {"message": "the request exceeds the context size"}})
        lines = []
        for i, piece in enumerate(self.pieces):
            choice = {"index": 0, "delta": {"content": piece}}
            if self.logprobs is not None and body.get("logprobs"):
                choice["logprobs"] = {"content": [self.logprobs[i]]}
            lines.append("data: " + json.dumps({"choices": [choice]}))
        lines.append("data: [DONE]")
        return httpx.Response(200, text="\n\n".join(lines) + "\n\n", headers={"content-type": "text/event-stream"})


def _llm(server: FakeServer, expected="default", api_key=None, n_ctx=4096) -> OpenAIChatLLM:
    return OpenAIChatLLM("http://llm.test/v1", api_key, expected, n_ctx, 0.2, 42, transport=httpx.MockTransport(server))


def _choice() -> Choice:
    return Choice(LEVEL_TRIGGER, LEVELS, lambda p: decide_level(p, CUTS).value)


def _level_server(**kwargs) -> FakeServer:
    pieces = [t["token"] for t in LEVEL_TOKENS]
    return FakeServer(pieces=pieces, logprobs=LEVEL_TOKENS, **kwargs)


def _dead_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"  # nothing listens there once the probe is closed


def test_stream_yields_the_servers_pieces_and_names_the_served_model():
    server = FakeServer()
    llm = _llm(server, api_key="s3cret")
    assert "".join(llm.stream(MESSAGES, 32)) == "Hello there."
    path, body = server.requests[-1]
    assert path == "/v1/chat/completions"
    assert body["stream"] is True and body["model"] == "default" and body["max_tokens"] == 32
    assert body["messages"] == MESSAGES and body["temperature"] == 0.2 and body["seed"] == 42
    assert "logprobs" not in body and "grammar" not in body
    assert llm.name == "default"


def test_api_key_is_sent_as_a_bearer_token():
    seen = []
    server = FakeServer()

    def handler(request):
        seen.append(request.headers.get("authorization"))
        return server(request)

    transport = httpx.MockTransport(handler)
    llm = OpenAIChatLLM("http://llm.test/v1", "s3cret", "default", 4096, 0.2, 42, transport=transport)
    list(llm.stream(MESSAGES, 8))
    assert seen and set(seen) == {"Bearer s3cret"}


def test_triage_reads_the_level_probabilities_at_the_level_token():
    server = _level_server()
    choice = _choice()
    raw = _llm(server).complete_json(MESSAGES, MODEL_TRIAGE_SCHEMA, 16, choice=choice)
    assert raw == '{"level":"urgent'
    # e + emergency = 0.3 of the 0.95 the options hold; "x" belongs to no level
    assert choice.probabilities["emergency"] == pytest.approx(0.3 / 0.95, abs=1e-3)
    assert choice.probabilities["urgent"] == pytest.approx(0.5 / 0.95, abs=1e-3)
    assert choice.probabilities["routine"] == 0.0
    assert choice.chosen == "emergency"  # the calibrated cut, although the model wrote "urgent"
    body = server.requests[-1][1]
    assert body["logprobs"] is True and body["top_logprobs"] == backend.TOP_LOGPROBS
    assert "level-kv" in body["grammar"] and "response_format" not in body  # llama.cpp: in-process grammar


def test_a_vllm_server_gets_the_json_schema_response_format():
    server = _level_server(dialect="vllm")
    choice = _choice()
    _llm(server).complete_json(MESSAGES, MODEL_TRIAGE_SCHEMA, 16, choice=choice)
    body = server.requests[-1][1]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == MODEL_TRIAGE_SCHEMA and "grammar" not in body
    assert choice.chosen == "emergency"


def test_no_logprobs_leaves_the_greedy_level_and_says_so_once(caplog):
    server = FakeServer(pieces=['{"level":"urgent"}'], logprobs=None)
    llm = _llm(server)
    with caplog.at_level(logging.WARNING, logger="chatbot.generation.openai_backend"):
        for _ in range(2):
            choice = _choice()
            assert llm.complete_json(MESSAGES, MODEL_TRIAGE_SCHEMA, 16, choice=choice) == '{"level":"urgent"}'
            assert choice.chosen is None and choice.probabilities == {}
    warnings = [r.getMessage() for r in caplog.records if "no logprobs" in r.getMessage()]
    assert len(warnings) == 1 and "greedy level" in warnings[0]


def test_another_served_model_never_gets_the_calibrated_thresholds(caplog):
    server = _level_server(model_id="/models/llama-3-70b.gguf")
    choice = _choice()
    with caplog.at_level(logging.WARNING, logger="chatbot.generation.openai_backend"):
        _llm(server, expected="default").complete_json(MESSAGES, MODEL_TRIAGE_SCHEMA, 16, choice=choice)
    assert choice.chosen is None
    assert any("not the configured model 'default'" in r.getMessage() for r in caplog.records)


def test_level_probabilities_need_the_trigger_at_a_token_boundary():
    merged = [{"token": '{"level":"u', "logprob": -0.1, "top_logprobs": _top(u=0.5)}]
    assert level_probabilities(merged, _choice()) is None
    no_option = [*LEVEL_TOKENS[:3], {"token": "x", "logprob": -0.1, "top_logprobs": _top(x=0.9, y=0.1)}]
    assert level_probabilities(no_option, _choice()) is None


def test_token_counting_uses_each_servers_own_tokenizer_or_a_conservative_estimate():
    llamacpp = _llm(FakeServer())
    assert llamacpp.count_tokens(MESSAGES) == 5  # the fake tokenizer: words of the server-formatted prompt
    vllm = _llm(FakeServer(dialect="vllm"))
    assert vllm.count_tokens(MESSAGES) == 14
    plain = _llm(FakeServer(dialect="other"))
    text = "<|im_start|>system\nbe kind<|im_end|>\n<|im_start|>user\nI have a cough<|im_end|>\n<|im_start|>assistant\n"
    assert plain.count_tokens(MESSAGES) == math.ceil(len(text.encode()) / backend.BYTES_PER_TOKEN)


def test_context_is_the_smaller_of_the_settings_and_the_servers_slot():
    assert _llm(FakeServer(n_ctx=2048), n_ctx=4096).n_ctx == 2048
    assert _llm(FakeServer(n_ctx=8192, dialect="vllm"), n_ctx=4096).n_ctx == 4096


def test_a_refused_request_carries_the_servers_message():
    llm = _llm(FakeServer(status=400))
    with pytest.raises(GenerationError, match="HTTP 400 the request exceeds the context size"):
        list(llm.stream(MESSAGES, 8))
    with pytest.raises(GenerationError, match="check llm.api_key"):
        list(_llm(FakeServer(status=401)).stream(MESSAGES, 8))


def test_an_unreachable_server_is_a_clear_generation_error_and_counting_still_works():
    url = _dead_url()
    llm = OpenAIChatLLM(url, None, "default", 4096, 0.2, 42)
    with pytest.raises(GenerationError, match=f"cannot reach the LLM server at {url}.*llm-server"):
        list(llm.stream(MESSAGES, 8))
    with pytest.raises(GenerationError, match="cannot reach"):
        llm.complete_json(MESSAGES, MODEL_TRIAGE_SCHEMA, 16, choice=_choice())
    assert llm.count_tokens(MESSAGES) > 0 and llm.n_ctx == 4096 and llm.name == "default"


def test_engine_answers_with_its_fallback_when_the_server_is_down(engine):
    engine._llm = OpenAIChatLLM(_dead_url(), None, "default", 4096, 0.2, 42)
    answer = engine.ask(Session(), "I have had a sore throat for two days, what can I do?")
    assert answer.kind == "error"
    assert answer.triage is not None  # the rules' level stands without the model


def test_settings_switch_every_command_to_the_server_by_environment():
    env = {"CHATBOT__LLM__BACKEND": "openai", "CHATBOT__LLM__BASE_URL": "http://127.0.0.1:8080/v1"}
    llm = make_llm(load_settings(environ=env))
    assert isinstance(llm, OpenAIChatLLM) and llm.base_url == "http://127.0.0.1:8080/v1"
    assert llm.root == "http://127.0.0.1:8080" and llm.expected_model == "default"
    with pytest.raises(SettingsError, match="needs llm.base_url"):
        load_settings(environ={"CHATBOT__LLM__BACKEND": "openai"})
    with pytest.raises(SettingsError, match="must start with http"):
        load_settings(environ={**env, "CHATBOT__LLM__BASE_URL": "127.0.0.1:8080"})


def test_cli_reports_a_dead_server_in_one_line(tmp_path, monkeypatch, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(TOPICS / "sore-throat.md", corpus / "sore-throat.md")
    for key, value in {
        "CHATBOT__DATA_DIR": str(tmp_path / "data"),
        "CHATBOT__LLM__BACKEND": "openai",
        "CHATBOT__LLM__BASE_URL": _dead_url(),
        "CHATBOT__EMBEDDING__BACKEND": "fake",
        "CHATBOT__INGEST__PATHS": f"[{corpus}]",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(backend, "_WAIT_FOR_SERVER_S", 0.0)
    code = cli.main(["ask", "What helps a sore throat?"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Problem: cannot reach the LLM server" in err and "Traceback" not in err


def test_engine_level_choice_goes_through_the_server(engine):
    """The whole path: the engine's calibrated Choice, settled from the server's logprobs."""
    engine._llm = _llm(_level_server())
    triage = engine.triage_only(Session(), "I have had a mild runny nose for two days", use_model=True).triage
    assert triage.model_probabilities["urgent"] == pytest.approx(0.5 / 0.95, abs=1e-3)
    assert triage.model_level == decide_level(triage.model_probabilities, engine.settings.triage.thresholds)



def test_a_yes_no_reading_takes_one_token_and_its_probabilities():
    from chatbot.safety.probes import ANSWERS, FIRST_TOKEN

    first = {"token": "Yes", "logprob": math.log(0.6), "top_logprobs": _top(Yes=0.6, No=0.3, Maybe=0.1)}
    server = FakeServer(pieces=["Yes"], logprobs=[first])
    choice = Choice(FIRST_TOKEN, ANSWERS, lambda p: max(p, key=p.__getitem__))
    _llm(server).choose(MESSAGES, choice)
    assert choice.probabilities["Yes"] == pytest.approx(0.6 / 0.9, abs=1e-3)
    body = server.requests[-1][1]
    assert body["max_tokens"] == 1 and body["logprobs"] is True and "grammar" not in body
    unread = Choice(FIRST_TOKEN, ANSWERS, lambda p: max(p, key=p.__getitem__))
    _llm(FakeServer(pieces=["Yes"], logprobs=None)).choose(MESSAGES, unread)
    assert unread.chosen is None  # no logprobs: no reading, never a guess

"""The official ``openai`` Python client against our OpenAI-compatible API, served by uvicorn on loopback in this
process (settings with the fake model and embedder backends, as ``CHATBOT__LLM__BACKEND=fake`` gives).

What an OpenAI-speaking tool sees: the model list, whole and streamed completions (an emergency's escalation comes
first in both), and errors mapped to the client's exception classes.
"""

from __future__ import annotations

import shutil
import threading
import time

import openai
import pytest
import uvicorn

from chatbot.conversation import Engine
from chatbot.interfaces.http.app import create_api
from chatbot.interfaces.server import warm_up
from tests.conftest import TOPICS, fake_settings

KEY = "openai-client-test-key-0123456789"
EMERGENCY = "crushing chest pain spreading to my left arm"
QUESTION = "My sore throat hurts when I swallow, what can I do at home?"
START_TIMEOUT_S = 30


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(base URL, engine) of the API with a key, on an ephemeral loopback port; stopped after the module."""
    root = tmp_path_factory.mktemp("openai-client")
    corpus = root / "corpus"
    corpus.mkdir()
    for name in ("sore-throat.md", "chest-pain.md", "heart-attack.md"):
        if (TOPICS / name).exists():
            shutil.copy(TOPICS / name, corpus / name)
    settings = fake_settings(root, ingest={"paths": [str(corpus)]}, server={"api_key": KEY})
    engine = Engine(settings)  # the backends come from the settings: fake model, fake embedder
    engine.ensure_index(progress=False)
    warm_up(engine)  # as `serve` does, so the model named by /v1/models is the loaded one
    config = uvicorn.Config(create_api(engine), host="127.0.0.1", port=0, log_level="warning", access_log=False,
                            log_config=None)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-openai-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the API did not start on loopback")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/v1", engine
    server.should_exit = True
    thread.join(timeout=15)
    assert not thread.is_alive(), "the API did not stop"


def _client(base_url: str, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=60)


def _health(obj) -> dict:
    """Our extension field: the full Answer object, carried next to OpenAI's fields."""
    return obj.model_extra["health_answer"]


def test_models_list_names_the_chat_model(served):
    url, engine = served
    models = list(_client(url).models.list())
    assert [m.id for m in models] == [engine.model_info().name] and models[0].id
    model = models[0]
    assert model.object == "model" and model.owned_by and isinstance(model.created, int) and model.created > 0
    reply = _client(url).chat.completions.create(model=model.id, messages=[{"role": "user", "content": QUESTION}])
    assert reply.model == model.id  # the completions name the same model the list does


def test_completion_of_an_emergency_starts_with_the_escalation(served):
    url, _ = served
    reply = _client(url).chat.completions.create(
        model="any", messages=[{"role": "user", "content": EMERGENCY}], temperature=1.5
    )
    assert reply.object == "chat.completion" and reply.id.startswith("chatcmpl-")
    choice = reply.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    health = _health(reply)
    assert health["triage"]["level"] == "emergency" and health["escalation"]
    assert choice.message.content.startswith(health["escalation"])


def test_streamed_emergency_sends_the_escalation_first(served):
    url, _ = served
    stream = _client(url).chat.completions.create(
        model="any", messages=[{"role": "user", "content": EMERGENCY}], stream=True
    )
    chunks = list(stream)
    assert chunks and all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    texts = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    health = _health(chunks[-1])
    assert chunks[-1].choices[0].finish_reason == "stop" and health["triage"]["level"] == "emergency"
    assert texts[0].strip() == health["escalation"].strip()  # before any model token
    assert len(texts) > 1  # the answer follows the escalation


def test_streamed_answer_ends_with_its_sources(served):
    url, _ = served
    stream = _client(url).chat.completions.create(
        model="any", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    chunks = list(stream)
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    health = _health(chunks[-1])
    assert not health["escalation"] and health["sources"]
    assert content.rstrip().endswith(health["sources"][-1]["url"] or health["sources"][-1]["title"])
    assert "Sources:" in content and health["answer"].split("[1]")[0].strip() in content


@pytest.mark.parametrize("call", ["models", "completion", "stream"])
def test_a_wrong_api_key_is_an_authentication_error(served, call):
    url, _ = served
    client = _client(url, key="not-the-key")
    messages = [{"role": "user", "content": QUESTION}]
    with pytest.raises(openai.AuthenticationError) as caught:
        if call == "models":
            client.models.list()
        else:
            client.chat.completions.create(model="any", messages=messages, stream=call == "stream")
    assert caught.value.status_code == 401 and caught.value.body["type"] == "authentication_error"


@pytest.mark.parametrize("stream", [False, True])
def test_an_empty_message_is_a_client_error_the_client_raises(served, stream):
    url, _ = served
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        _client(url).chat.completions.create(model="any", messages=[{"role": "user", "content": "   "}], stream=stream)
    assert caught.value.status_code == 422
    assert caught.value.body["type"] == "invalid_message" and caught.value.body["message"]

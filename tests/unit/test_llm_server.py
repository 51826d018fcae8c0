"""``llm-server``: the parameters handed to llama.cpp's server (no model is loaded here), and its refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatbot.config import load_settings
from chatbot.generation import llm_server
from chatbot.interfaces import cli
from chatbot.models.catalogue import ResolvedModel

MODEL = ResolvedModel("default", Path("/models/m.gguf"), "")


def test_params_give_every_slot_the_whole_context_and_serve_under_the_catalogue_name():
    settings = load_settings(environ={}, overrides={"llm": {"n_ctx": 3000, "n_threads": 3, "api_key": "k"}})
    params = llm_server.server_params(settings, MODEL, "127.0.0.1", 8099, parallel=4)
    assert params.n_parallel == 4 and params.n_ctx == 12000 and params.kv_unified is False
    assert params.cont_batching is True
    assert params.model.path == str(MODEL.path) and params.model_alias == {"default"}
    assert params.hostnames == ["127.0.0.1"] and params.port == 8099
    assert params.api_keys == ["k"] and params.offline is True and params.ui is False
    assert params.cpuparams.n_threads == 3 and params.sampling.seed == settings.llm.seed
    assert params.verbosity < 4  # llama.cpp's debug log would print prompts past our redaction
    assert llm_server.server_params(settings, MODEL, "127.0.0.1", 8099, 1, verbose=True).verbosity < 4


def test_default_port_follows_the_configured_base_url():
    assert llm_server.default_port(load_settings(environ={})) == llm_server.DEFAULT_PORT
    env = {"CHATBOT__LLM__BACKEND": "openai", "CHATBOT__LLM__BASE_URL": "http://127.0.0.1:8123/v1"}
    assert llm_server.default_port(load_settings(environ=env)) == 8123


def test_refuses_a_public_address_without_a_key_before_loading_anything(monkeypatch, capsys):
    monkeypatch.setattr(llm_server, "resolve_model", lambda *a: pytest.fail("must not load the model"))
    assert llm_server.serve_llm(load_settings(environ={}), host="0.0.0.0", port=8099) == 2
    assert "Refusing to listen on 0.0.0.0" in capsys.readouterr().err
    assert llm_server.serve_llm(load_settings(environ={}), port=8099, parallel=0) == 2
    assert llm_server.is_loopback("127.0.0.1") and llm_server.is_loopback("::1") and llm_server.is_loopback("localhost")
    assert not llm_server.is_loopback("0.0.0.0") and not llm_server.is_loopback("example.org")


def test_cli_has_the_llm_server_command(monkeypatch):
    calls = []
    monkeypatch.setattr(llm_server, "serve_llm", lambda settings, **kw: calls.append(kw) or 0)
    assert cli.main(["llm-server", "--port", "8111", "--parallel", "3"]) == 0
    assert calls == [{"host": None, "port": 8111, "parallel": 3, "verbose": False}]

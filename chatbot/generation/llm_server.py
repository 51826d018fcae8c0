"""``python -m chatbot llm-server``: llama.cpp's own OpenAI-compatible server on the bundled (or configured) model.

Why not our own server: xllamacpp runs llama.cpp's native C++ server in this process, from a prebuilt wheel, with
K parallel slots, continuous batching, prompt caching, JSON-schema grammars and logprobs; this module only fills in
its parameters from the settings and waits for Ctrl-C (or SIGTERM). The assistant then talks to it through
``llm.backend: openai`` (chatbot/generation/openai_backend.py).

Choices made here:
* The model is served under its catalogue name (``default``, ``smollm2``…; a ``model_path`` file under its stem),
  which is how the openai backend knows the calibrated level thresholds apply to it.
* Each slot gets the whole ``llm.n_ctx`` (the server's context is ``n_ctx`` x slots, KV cache not shared), so a
  prompt that fits the in-process model fits any slot.
* Loopback only unless an API key is set (``llm.api_key``, which the server then requires).
* llama.cpp logs to stderr itself, past our log redaction: its verbosity stays at warnings (info with ``-v``) and
  never reaches debug, where it would print prompts.
"""

from __future__ import annotations

import ipaddress
import signal
import sys
import threading
from typing import Any
from urllib.parse import urlparse

from chatbot.config import Settings
from chatbot.models.catalogue import ResolvedModel, resolve_model

DEFAULT_PORT = 8080  # llama.cpp's own default
_LOG_WARNINGS, _LOG_INFO = 2, 3  # llama.cpp verbosity levels (4 = debug, which prints prompts: never used)


def default_port(settings: Settings) -> int:
    """The port of ``llm.base_url`` when one is configured, so the two ends agree without repeating it."""
    url = settings.llm.base_url
    port = urlparse(url).port if url else None
    return port or DEFAULT_PORT


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def server_params(
    settings: Settings, model: ResolvedModel, host: str, port: int, parallel: int, verbose: bool = False
) -> Any:
    """xllamacpp's ``CommonParams`` for this model and these slots (imported here: only this command needs it)."""
    import xllamacpp

    cfg = settings.llm
    params = xllamacpp.CommonParams()
    params.model.path = str(model.path)
    params.model_alias = {model.name}
    params.hostnames = [host]
    params.port = port
    params.n_parallel = parallel
    params.n_ctx = cfg.n_ctx * parallel
    params.kv_unified = False  # each slot owns n_ctx tokens of KV cache: no slot starves another
    params.cont_batching = True
    params.ui = False
    params.offline = True  # never look anything up on a model hub
    params.verbosity = _LOG_INFO if verbose else _LOG_WARNINGS
    params.sampling.seed = cfg.seed
    if cfg.n_gpu_layers != "auto":  # auto: llama.cpp's own default offloads what fits on a GPU, if it has one
        params.n_gpu_layers = int(cfg.n_gpu_layers)
    if cfg.n_threads:
        params.cpuparams.n_threads = cfg.n_threads
        params.cpuparams_batch.n_threads = cfg.n_threads
    if cfg.api_key:
        params.api_keys = [cfg.api_key]
    return params


def serve_llm(
    settings: Settings, host: str | None = None, port: int | None = None, parallel: int = 4, verbose: bool = False
) -> int:
    """Start the server, print the base URL to set, and serve until Ctrl-C or SIGTERM."""
    host = host or "127.0.0.1"
    port = default_port(settings) if port is None else port
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    if not is_loopback(host) and not settings.llm.api_key:
        say(f"Refusing to listen on {host}: other computers could use the model. Set llm.api_key first "
            "(CHATBOT__LLM__API_KEY=<long random key>), or leave --host out to stay on 127.0.0.1.")
        return 2
    if parallel < 1:
        say("--parallel must be at least 1.")
        return 2
    try:
        import xllamacpp
    except ImportError:
        say("llm-server needs xllamacpp: pip install -r requirements.txt")
        return 2
    cfg = settings.llm
    model = resolve_model(cfg.model, settings.path(cfg.model_path) if cfg.model_path else None,
                          settings.model_cache_dir)
    say(f"Loading {model.name} ({model.path}) with {parallel} parallel slots of {cfg.n_ctx} tokens…")
    try:
        server = xllamacpp.Server(server_params(settings, model, host, port, parallel, verbose))
    except Exception as exc:  # the binding raises plain exceptions (a port in use, an unreadable model file)
        reason = str(exc).rstrip(".")
        say(f"The LLM server did not start on {host}:{port}: {reason}. Is the port in use? Choose another with --port.")
        return 2
    url = f"{server.listening_address.rstrip('/')}/v1"
    say(f"LLM server ready: {url} · model {model.name} · {parallel} slots · continuous batching. Ctrl-C stops it.")
    say("Point the assistant at it with:")
    print(f"CHATBOT__LLM__BACKEND=openai CHATBOT__LLM__BASE_URL={url}", flush=True)
    _wait_for_stop()
    say("Stopping the LLM server…")
    del server  # its destructor stops the server's threads and frees the model
    return 0


def _wait_for_stop() -> None:
    """Block until Ctrl-C or SIGTERM (what a service manager or a test sends)."""
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)

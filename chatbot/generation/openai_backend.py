"""Chat LLM over an OpenAI-compatible HTTP server: llama.cpp's server, vLLM, or ``python -m chatbot llm-server``.

Why a server: the in-process model answers one request at a time behind a lock; a server with several slots and
continuous batching answers several patients at once, and can run on another (GPU) machine.

What differs from the in-process backend, and how it is handled:

* The chat template: the server formats messages with its own (the model file's) template. Prompt fitting counts
  tokens with the server's own template and tokenizer where it offers them (llama.cpp: ``/apply-template`` then
  ``/tokenize``; vLLM: ``/tokenize`` with the messages); otherwise with a conservative estimate (UTF-8 bytes / 1.5
  of the ChatML text: our prompts measured at 1.85 bytes a token at worst, so the estimate over-counts).
* The level probabilities: the in-process backend reads every level token's probability at the level and lets only
  the decided level through. Over HTTP the output cannot be steered mid-way, so the triage call asks for
  ``logprobs`` with the top ``TOP_LOGPROBS`` alternatives and reads the levels' probabilities at the level token
  afterwards (raw, before the JSON grammar, as in-process; levels outside the top 20 count as 0). The decided
  level then replaces the written one (the engine does that for every backend); free text the model wrote
  (``triage.model_writes: full``) was written for its greedy pick.
* The thresholds belong to one model: the level probabilities are read only when the server says it serves the
  configured catalogue model (its model id is the catalogue name: ``llm-server`` sets that alias; pass
  ``--alias default`` to llama.cpp or ``--served-model-name default`` to vLLM). Otherwise, and when the server
  returns no logprobs, the model's own greedy level is used and the log says why.
* Errors (server down, refused request, time-out) become ``GenerationError`` with a message naming the server; the
  conversation turns that into its safe fallback and the rules' level still stands.

Proxy variables in the environment are ignored: patient text goes straight to ``llm.base_url``.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from chatbot.generation.llm import Choice, GenerationError, Message, render_chat

log = logging.getLogger(__name__)

TOP_LOGPROBS = 20  # the most the OpenAI API allows, and vLLM's default max_logprobs
BYTES_PER_TOKEN = 1.5  # the fallback count: below the fewest bytes a token measured on our prompts (1.85)
_CONNECT_TIMEOUT_S = 5.0
_READ_TIMEOUT_S = 300.0  # between two streamed pieces; a busy server queues a request before its first token
_WAIT_FOR_SERVER_S = 20.0  # warm_up waits this long for a server that is still loading its model


@dataclass(frozen=True)
class ServedModel:
    """What the server says it serves: the model id requests must name, and the context one request may use."""

    id: str
    n_ctx: int | None = None
    owned_by: str = ""  # "llamacpp" for llama.cpp's server, "vllm" for vLLM


class OpenAIChatLLM:
    """``ChatLLM`` on a server's ``/chat/completions`` (streamed), with its token counting where it has one."""

    sha256 = ""  # the server's file is not ours to hash
    gpu_layers = 0  # unknown here; the server decides its own offload

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        expected_model: str | None,
        n_ctx: int,
        temperature: float,
        seed: int,
        chat_format: str = "chatml",
        transport: httpx.BaseTransport | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.root = self.base_url.removesuffix("/v1")  # llama.cpp and vLLM serve /tokenize beside /v1, not in it
        self.expected_model = expected_model
        self.configured_ctx = n_ctx
        self.temperature = temperature
        self.seed = seed
        self.chat_format = chat_format
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        timeout = httpx.Timeout(_READ_TIMEOUT_S, connect=_CONNECT_TIMEOUT_S)
        self._http = httpx.Client(headers=headers, timeout=timeout, transport=transport, trust_env=False)
        self._served: ServedModel | None = None
        self._counter: Callable[[Sequence[Message]], int] | None = None
        self._warned: set[str] = set()

    # ---- what the server serves ---------------------------------------------------------------------------------
    def served_model(self) -> ServedModel:
        """The server's model, asked once (``/models``); a GenerationError when the server cannot be reached."""
        if self._served is None:
            self._served = _parse_models(self._request("GET", f"{self.base_url}/models").json())
            log.info("LLM server %s serves %s (context %s)", self.base_url, self._served.id, self._served.n_ctx)
        return self._served

    @property
    def name(self) -> str:
        try:
            return self.served_model().id
        except GenerationError:
            return self.expected_model or "unreachable server"

    @property
    def n_ctx(self) -> int:
        """The configured context, or the server's per-request context when that is smaller (a slot's share)."""
        try:
            served = self.served_model().n_ctx
        except GenerationError:
            served = None
        return min(self.configured_ctx, served) if served else self.configured_ctx

    def warm_up(self, prefix: Sequence[Message]) -> None:
        """Wait briefly for a server that is still loading, so starting both at once works; then fail clearly."""
        waited_until = time.monotonic() + _WAIT_FOR_SERVER_S
        while True:
            try:
                self.served_model()
                return
            except GenerationError:
                if time.monotonic() > waited_until:
                    raise
                self._warn_once("wait", "waiting for the LLM server at %s …", self.base_url)
                time.sleep(1.0)

    # ---- generation ---------------------------------------------------------------------------------------------
    def stream(self, messages: Sequence[Message], max_tokens: int, deadline: float | None = None) -> Iterator[str]:
        for chunk in self._chunks(self._payload(messages, max_tokens), deadline):
            piece = _delta(chunk)
            if piece:
                yield piece

    def complete_json(
        self,
        messages: Sequence[Message],
        schema: dict,
        max_tokens: int,
        deadline: float | None = None,
        choice: Choice | None = None,
    ) -> str:
        payload = self._payload(messages, max_tokens)
        payload.update(self._constraint(schema))
        if choice is not None:
            payload.update(logprobs=True, top_logprobs=TOP_LOGPROBS)
        pieces: list[str] = []
        tokens: list[dict[str, Any]] = []
        for chunk in self._chunks(payload, deadline):
            pieces.append(_delta(chunk) or "")
            tokens.extend(_logprob_entries(chunk))
        if choice is not None:
            self._settle(choice, tokens)
        return "".join(pieces)

    def choose(self, messages: Sequence[Message], choice: Choice, deadline: float | None = None) -> None:
        payload = self._payload(messages, 1)
        payload.update(logprobs=True, top_logprobs=TOP_LOGPROBS)
        tokens: list[dict[str, Any]] = []
        for chunk in self._chunks(payload, deadline):
            tokens.extend(_logprob_entries(chunk))
        self._settle(choice, tokens)

    def _constraint(self, schema: dict) -> dict[str, Any]:
        """The request fields that constrain the output to ``schema``.

        llama.cpp gets the very grammar the in-process backend uses (llama-cpp-python's, which allows at most one
        space between tokens): its own schema grammar lets the model write ``{\\n  "level": "``, and the level
        probabilities after that differ from the ones the thresholds were fitted on (measured: P(self_care) 0.11 vs
        0.33 on one vignette). Other servers get the OpenAI ``json_schema`` response format.
        """
        if self.served_model().owned_by == "llamacpp":
            return {"grammar": _gbnf(json.dumps(schema))}  # property order is the output order: no sorting
        return {"response_format": {"type": "json_schema",
                                    "json_schema": {"name": "triage", "schema": schema, "strict": True}}}

    def _settle(self, choice: Choice, tokens: list[dict[str, Any]]) -> None:
        """Decide the choice (a level, or a yes/no reading) from its probabilities when they can be read and belong
        to the calibrated model."""
        served = self.served_model().id
        if served != self.expected_model:
            self._warn_once(
                "model", "the LLM server serves %r, not the configured model %r: its level is its own greedy pick "
                "(the calibrated thresholds belong to %r)", served, self.expected_model, self.expected_model,
            )
            return
        if not tokens:
            self._warn_once(
                "logprobs", "the LLM server at %s returned no logprobs: the model's greedy level is used instead of "
                "the calibrated decision", self.base_url,
            )
            return
        probabilities = level_probabilities(tokens, choice)
        if probabilities is None:
            log.warning("no option probabilities at the choice token in the server's logprobs; the model's own "
                        "pick is used (for a yes/no reading: no reading)")
            return
        choice.settle(probabilities)

    def _payload(self, messages: Sequence[Message], max_tokens: int) -> dict[str, Any]:
        return {
            "model": self.served_model().id,
            "messages": list(messages),
            "max_tokens": max_tokens,
            "temperature": self.temperature,
            "seed": self.seed,
            "stream": True,
        }

    def _chunks(self, payload: dict[str, Any], deadline: float | None) -> Iterator[dict[str, Any]]:
        """The streamed chunks as dicts; stops at ``deadline`` (closing the stream makes the server stop too)."""
        url = f"{self.base_url}/chat/completions"
        try:
            with self._http.stream("POST", url, json=payload) as response:
                _check(response, url)
                for line in response.iter_lines():
                    chunk = _sse_data(line)
                    if chunk is None:
                        continue
                    if chunk == "[DONE]":
                        return
                    if isinstance(chunk, dict) and chunk.get("error"):
                        raise GenerationError(f"the LLM server at {self.base_url} failed: {_error_text(chunk)}")
                    yield chunk
                    if deadline is not None and time.monotonic() > deadline:
                        log.warning("generation stopped at its deadline")
                        return
        except httpx.TimeoutException as exc:
            if deadline is not None and time.monotonic() > deadline:
                log.warning("generation stopped at its deadline (the server was still busy)")
                return
            raise GenerationError(f"the LLM server at {self.base_url} did not answer in time ({exc})") from None
        except httpx.HTTPError as exc:
            raise GenerationError(self._unreachable(exc)) from None

    # ---- token counting -----------------------------------------------------------------------------------------
    def count_tokens(self, messages: Sequence[Message]) -> int:
        """Tokens of the prompt as the server formats it; never raises (the generation call reports a dead server)."""
        if self._counter is None:
            try:
                self._counter = self._pick_counter()
            except GenerationError:
                return self._estimate(messages)
        try:
            return self._counter(messages)
        except (GenerationError, _Unsupported):
            return self._estimate(messages)

    def _pick_counter(self) -> Callable[[Sequence[Message]], int]:
        """The server's own counting when it offers one, else the estimate; the choice is logged once."""
        probe: list[Message] = [{"role": "user", "content": "hi"}]
        for name, counter in (("llama.cpp /apply-template + /tokenize", self._count_llamacpp),
                              ("vLLM /tokenize", self._count_vllm)):
            try:
                counter(probe)
            except _Unsupported:
                continue
            log.info("prompt fitting counts tokens with the server's %s", name)
            return counter
        log.warning("the LLM server offers no tokenizer endpoint: prompt fitting estimates tokens (bytes / %s)",
                    BYTES_PER_TOKEN)
        return self._estimate

    def _count_llamacpp(self, messages: Sequence[Message]) -> int:
        prompt = self._post_json(f"{self.root}/apply-template", {"messages": list(messages)}).get("prompt")
        if not isinstance(prompt, str):
            raise _Unsupported
        body = {"content": prompt, "add_special": True, "parse_special": True}
        tokens = self._post_json(f"{self.root}/tokenize", body).get("tokens")
        if not isinstance(tokens, list):
            raise _Unsupported
        return len(tokens)

    def _count_vllm(self, messages: Sequence[Message]) -> int:
        body = {"model": self.served_model().id, "messages": list(messages), "add_generation_prompt": True}
        count = self._post_json(f"{self.root}/tokenize", body).get("count")
        if not isinstance(count, int):
            raise _Unsupported
        return count

    def _estimate(self, messages: Sequence[Message]) -> int:
        text = render_chat(self.chat_format, messages) + "<|im_start|>assistant\n"
        return math.ceil(len(text.encode("utf-8")) / BYTES_PER_TOKEN)

    # ---- HTTP ---------------------------------------------------------------------------------------------------
    def _post_json(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self._request("POST", url, json=body, missing_ok=True)
        try:
            data = response.json()
        except ValueError:
            raise _Unsupported from None
        if not isinstance(data, dict):
            raise _Unsupported
        return data

    def _request(self, method: str, url: str, missing_ok: bool = False, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise GenerationError(self._unreachable(exc)) from None
        if missing_ok and response.status_code in {400, 404, 405, 501}:
            raise _Unsupported
        _check(response, url)
        return response

    def _unreachable(self, exc: httpx.HTTPError) -> str:
        return (
            f"cannot reach the LLM server at {self.base_url} ({type(exc).__name__}: {exc}). Start one with "
            "`python -m chatbot llm-server`, or point llm.base_url at a running server."
        )

    def _warn_once(self, key: str, message: str, *args: Any) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message, *args)


class _Unsupported(Exception):
    """The server has no such endpoint (or answers it in another dialect)."""


def level_probabilities(tokens: Sequence[dict[str, Any]], choice: Choice) -> dict[str, float] | None:
    """The options' probabilities at the first token after ``choice.trigger``, from its top alternatives.

    A token counts for an option when its text starts exactly one option ("e", "emer", "emergency" for emergency),
    as in-process. None when the trigger is never reached at a token boundary or no option is among the tokens.
    """
    text = ""
    for entry in tokens:
        if choice.trigger.search(text):
            return _option_mass(entry, choice.options)
        text += str(entry.get("token", ""))
    return None


def _option_mass(entry: dict[str, Any], options: tuple[str, ...]) -> dict[str, float] | None:
    candidates = {str(c.get("token", "")): c.get("logprob") for c in entry.get("top_logprobs") or []}
    candidates.setdefault(str(entry.get("token", "")), entry.get("logprob"))  # the written token, if not listed
    mass: dict[str, float] = {}
    for token, logprob in candidates.items():
        owners = [o for o in options if token and o.startswith(token)]
        if len(owners) == 1 and isinstance(logprob, int | float):
            mass[owners[0]] = mass.get(owners[0], 0.0) + math.exp(logprob)
    return mass or None


def _parse_models(data: Any) -> ServedModel:
    """llama.cpp reports a slot's context as ``meta.n_ctx``, vLLM as ``max_model_len``."""
    models = data.get("data") if isinstance(data, dict) else None
    if not models or not isinstance(models[0], dict) or not models[0].get("id"):
        raise GenerationError("the LLM server's /models lists no model")
    first = models[0]
    n_ctx = (first.get("meta") or {}).get("n_ctx") or first.get("max_model_len")
    n_ctx = int(n_ctx) if isinstance(n_ctx, int) and n_ctx > 0 else None
    return ServedModel(str(first["id"]), n_ctx, str(first.get("owned_by") or ""))


@functools.lru_cache(maxsize=8)
def _gbnf(schema_json: str) -> str:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    return json_schema_to_gbnf(schema_json)


def _sse_data(line: str) -> Any:
    """The payload of one server-sent-events line: a dict, "[DONE]", or None for comments and blank lines."""
    if not line.startswith(("data:", "error:")):
        return None
    field, _, value = line.partition(":")
    value = value.strip()
    if value == "[DONE]":
        return value
    try:
        data = json.loads(value)
    except json.JSONDecodeError:
        return {"error": value} if field == "error" else None
    return {"error": data} if field == "error" and not (isinstance(data, dict) and "error" in data) else data


def _delta(chunk: dict[str, Any]) -> str | None:
    choices = chunk.get("choices") or [{}]
    return (choices[0].get("delta") or {}).get("content")


def _logprob_entries(chunk: dict[str, Any]) -> list[dict[str, Any]]:
    choices = chunk.get("choices") or [{}]
    return list(((choices[0].get("logprobs") or {}).get("content")) or [])


def _check(response: httpx.Response, url: str) -> None:
    """An error status becomes a GenerationError with the server's own message (e.g. a prompt too long)."""
    if response.status_code < 400:
        return
    response.read()
    try:
        detail = _error_text(response.json())
    except ValueError:
        detail = response.text[:300]
    hint = " (check llm.api_key)" if response.status_code in {401, 403} else ""
    raise GenerationError(f"the LLM server refused {url}: HTTP {response.status_code} {detail}{hint}")


def _error_text(data: Any) -> str:
    error = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(error, dict):
        return str(error.get("message") or error)[:300]
    return str(error)[:300]

"""Chat LLM backends behind one small interface.

``LlamaCppLLM`` runs a local GGUF with llama-cpp-python. Every prompt starts with the same system message, and
llama.cpp keeps the tokens of the last evaluation in its KV cache and re-evaluates only what differs, so the fixed
system prefix (and, within a turn, the whole answer context for the triage call) is computed once, not per call.
A first-come-first-served queue (chatbot.generation.queue) serialises access: a single model instance serves every
session without being loaded twice, and a waiting caller can tell its patient its place in line.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from chatbot.config import Settings
from chatbot.generation.queue import GenerationQueue
from chatbot.models.catalogue import ResolvedModel, resolve_model

log = logging.getLogger(__name__)
Message = dict[str, str]


class GenerationError(RuntimeError):
    """The model failed to load or to generate; the conversation turns this into a safe fallback."""


def _chatml(messages: Sequence[Message]) -> str:
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)


# The prompt text of each chat format (the catalogue's ``chat_format``), for counting a prompt's tokens before it
# is sent. llama.cpp formats the real prompt with the GGUF file's own template; when a model is loaded, that
# template is checked against the configured format.
CHAT_TEMPLATES: dict[str, Callable[[Sequence[Message]], str]] = {"chatml": _chatml}
_FORMAT_MARKERS = {"chatml": "<|im_start|>"}


def render_chat(chat_format: str, messages: Sequence[Message]) -> str:
    """``messages`` as the model reads them in ``chat_format``; an unknown format is an error, never a guess."""
    if chat_format not in CHAT_TEMPLATES:
        raise GenerationError(
            f"chat format {chat_format!r} is not supported; token counting knows {', '.join(CHAT_TEMPLATES)}"
        )
    return CHAT_TEMPLATES[chat_format](messages)


def check_chat_template(model: ResolvedModel, metadata: dict[str, str] | None) -> bool:
    """Whether the GGUF file's own chat template is the configured format; a mismatch is logged (token counts for
    prompt fitting are then approximate). Files without a template are not judged."""
    template = (metadata or {}).get("tokenizer.chat_template", "")
    marker = _FORMAT_MARKERS.get(model.chat_format)
    if not template or marker is None or marker in template:
        return True
    log.warning(
        "model %s: its chat template is not %s, the format prompt fitting counts tokens in; counts are approximate",
        model.name, model.chat_format,
    )
    return False


@dataclass
class Choice:
    """A point in constrained output where the model picks one of ``options``; ``decide`` makes the pick instead.

    Why: a small model's greedy pick can be badly biased (the 1.5B default model almost never writes "emergency"),
    yet the probabilities it gives the options still rank cases well. When the generated text first matches
    ``trigger``, the backend records the probability of each option (normalised over the options), calls ``decide``
    and lets only the decided option through, so the rest of the output (e.g. the reasons) is written for it.
    """

    trigger: re.Pattern[str]
    options: tuple[str, ...]
    decide: Callable[[dict[str, float]], str]
    probabilities: dict[str, float] = field(default_factory=dict)
    chosen: str | None = None

    def settle(self, probabilities: dict[str, float]) -> str:
        """Record normalised probabilities and the decision (one place, shared by every backend)."""
        total = sum(probabilities.values()) or 1.0
        self.probabilities = {o: round(probabilities.get(o, 0.0) / total, 4) for o in self.options}
        self.chosen = self.decide(self.probabilities)
        return self.chosen


class ChatLLM(Protocol):
    name: str
    sha256: str
    gpu_layers: int
    n_ctx: int

    def stream(self, messages: Sequence[Message], max_tokens: int, deadline: float | None = None) -> Iterator[str]:
        """Yield text pieces as they are generated; stop early at ``deadline`` (time.monotonic())."""

    def complete_json(
        self,
        messages: Sequence[Message],
        schema: dict,
        max_tokens: int,
        deadline: float | None = None,
        choice: Choice | None = None,
    ) -> str:
        """Return raw text constrained to the JSON schema (may be cut short at the deadline).

        With ``choice``, the backend fills in its probabilities and decision if it can read them (FakeLLM only when
        scripted); a backend that cannot leaves ``choice.chosen`` as None and the output as the model wrote it.
        """

    def choose(self, messages: Sequence[Message], choice: Choice, deadline: float | None = None) -> None:
        """Settle ``choice`` at the reply's first token (one token is generated): a yes/no reading of a message.
        A backend that cannot read the probabilities leaves ``choice.chosen`` as None."""

    def count_tokens(self, messages: Sequence[Message]) -> int:
        """Tokens the chat-formatted messages take, for fitting the context window."""


def choose_gpu_layers(setting: int | str) -> int:
    """``auto`` offloads every layer when this llama.cpp build can, and none otherwise."""
    if setting != "auto":
        return int(setting)
    import llama_cpp

    return -1 if llama_cpp.llama_supports_gpu_offload() else 0


@dataclass
class _Call:
    messages: list[Message]
    max_tokens: int
    deadline: float | None
    response_format: dict | None = None
    logits_processor: Callable[[Any, Any], Any] | None = None


class LlamaCppLLM:
    """A GGUF model in-process via llama-cpp-python, loaded lazily on first use."""

    def __init__(
        self, model: ResolvedModel, n_ctx: int, n_threads: int | None, gpu_layers: int, temperature: float, seed: int
    ):
        self.model = model
        self.name = model.name
        self.sha256 = model.sha256
        self.gpu_layers = gpu_layers
        self.n_ctx = n_ctx
        self.n_threads = n_threads or max(1, (os.cpu_count() or 2))
        self.temperature = temperature
        self.seed = seed
        self._llama: Any = None
        # Neither is tied to a thread: a streamed answer is a generator that Gradio or Starlette may resume, or close
        # (Stop), from another thread than the one that started it, and only a Lock (or a ticket) may be freed there.
        self.queue = GenerationQueue()  # one generation at a time, in the order asked
        self._load_lock = threading.Lock()  # one load; taken inside a generation too (logits processor)
        self._option_tokens: dict[tuple[str, ...], dict[str, list[int]]] = {}

    @property
    def llama(self) -> Any:
        with self._load_lock:
            if self._llama is None:
                from llama_cpp import Llama

                started = time.perf_counter()
                try:
                    self._llama = Llama(
                        model_path=str(self.model.path),
                        n_ctx=self.n_ctx,
                        n_threads=self.n_threads,
                        n_gpu_layers=self.gpu_layers,
                        seed=self.seed,
                        verbose=False,
                    )
                except (ValueError, RuntimeError) as exc:
                    raise GenerationError(f"could not load model {self.model.path}: {exc}") from exc
                check_chat_template(self.model, getattr(self._llama, "metadata", None))
                log.info(
                    "loaded %s in %.1f s (gpu_layers=%s)", self.name, time.perf_counter() - started, self.gpu_layers
                )
            return self._llama

    def warm_up(self, prefix: Sequence[Message]) -> None:
        """Evaluate the fixed prompt prefix once, so the first patient turn reuses it from the KV cache."""
        with self.queue.hold(timed=False):  # not a patient's turn: kept out of the wait estimate
            for _ in self.stream([*prefix, {"role": "user", "content": "hi"}], 1):
                pass

    def reset_cache(self) -> None:
        """Forget the KV cache (benchmarks use this to measure a turn without prefix reuse)."""
        with self.queue.hold():
            self.llama.reset()

    def stream(self, messages: Sequence[Message], max_tokens: int, deadline: float | None = None) -> Iterator[str]:
        yield from self._run(_Call(list(messages), max_tokens, deadline))

    def complete_json(
        self,
        messages: Sequence[Message],
        schema: dict,
        max_tokens: int,
        deadline: float | None = None,
        choice: Choice | None = None,
    ) -> str:
        fmt = {"type": "json_object", "schema": schema}
        processor = self._choice_processor(choice) if choice is not None else None
        return "".join(self._run(_Call(list(messages), max_tokens, deadline, fmt, processor)))

    def choose(self, messages: Sequence[Message], choice: Choice, deadline: float | None = None) -> None:
        for _ in self._run(_Call(list(messages), 1, deadline, None, self._choice_processor(choice))):
            pass

    def _choice_processor(self, choice: Choice) -> Callable[[Any, Any], Any]:
        """A llama.cpp logits processor that reads the options' probabilities at the trigger and masks the others.

        It runs before the grammar, on the raw logits of the whole vocabulary, once per generated token until the
        trigger is reached (detokenising the few tokens generated so far is cheap next to a forward pass).
        """
        import numpy as np

        tokens = self.option_tokens(choice.options)
        start: list[int] = []

        def process(input_ids: Any, scores: Any) -> Any:
            if choice.chosen is not None:
                return scores
            if not start:
                start.append(len(input_ids))
            text = self.llama.detokenize(list(input_ids[start[0] :])).decode("utf-8", "ignore")
            if not choice.trigger.search(text):
                return scores
            logits = scores.astype(np.float64)
            probs = np.exp(logits - logits.max())
            probs /= probs.sum()
            chosen = choice.settle({o: float(probs[ids].sum()) for o, ids in tokens.items()})
            for option, ids in tokens.items():
                if option != chosen:
                    scores[ids] = -np.inf
            return scores

        return process

    def option_tokens(self, options: tuple[str, ...]) -> dict[str, list[int]]:
        """Single tokens that start exactly one option ("e", "emer", "emergency" for emergency), per option.

        An option's probability is the mass of every token that could begin it, since the grammar accepts any of
        them; a token that could begin two options is left out of both (the levels start with distinct letters).
        """
        if options not in self._option_tokens:
            starts: dict[int, set[str]] = {}
            for option in options:
                for k in range(1, len(option) + 1):
                    ids = self.llama.tokenize(option[:k].encode("utf-8"), add_bos=False, special=False)
                    if len(ids) == 1:
                        starts.setdefault(ids[0], set()).add(option)
            self._option_tokens[options] = {
                o: sorted(t for t, owners in starts.items() if owners == {o}) for o in options
            }
        return self._option_tokens[options]

    def count_tokens(self, messages: Sequence[Message]) -> int:
        text = render_chat(self.model.chat_format, messages)
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)) + 3

    def _run(self, call: _Call) -> Iterator[str]:
        with self.queue.hold():
            try:
                chunks = self.llama.create_chat_completion(
                    messages=call.messages,
                    max_tokens=call.max_tokens,
                    temperature=self.temperature,
                    seed=self.seed,
                    stream=True,
                    response_format=call.response_format,
                    logits_processor=_processors(call.logits_processor),
                )
                for chunk in chunks:
                    piece = chunk["choices"][0].get("delta", {}).get("content")
                    if piece:
                        yield piece
                    if call.deadline is not None and time.monotonic() > call.deadline:
                        log.warning("generation stopped at its deadline")
                        break
            except (ValueError, RuntimeError) as exc:
                raise GenerationError(str(exc)) from exc


def _processors(processor: Callable[[Any, Any], Any] | None) -> Any:
    if processor is None:
        return None
    from llama_cpp import LogitsProcessorList

    return LogitsProcessorList([processor])


class FakeLLM:
    """Deterministic stand-in for unit tests: cites the first passage and emits schema-shaped JSON for triage.

    ``triage_json`` lets a test script the model's triage output (including garbage), ``choice_probabilities`` the
    probabilities it gives a ``Choice`` (the decided option then replaces the level in its JSON),
    ``yes_probability`` its P(Yes) for a yes/no reading (``choose``; from the prompt's last message), and ``fail``
    makes every call raise, to exercise the fallback paths. ``delay_s`` pauses before each streamed word and each
    triage reply (``llm.fake_delay_s``), so a browser test can watch a turn unfold and stop it mid-answer. Its calls
    wait in a ``GenerationQueue`` as the real model's do, so queuing is tested without a model.
    """

    name = "fake"
    sha256 = ""
    gpu_layers = 0
    n_ctx = 4096

    def __init__(
        self,
        answer: str | None = None,
        triage_json: str | list[str] | None = None,
        fail: bool = False,
        choice_probabilities: dict[str, float] | None = None,
        delay_s: float = 0.0,
        yes_probability: Callable[[str], float | None] | None = None,
    ):
        self.answer = answer
        self.delay_s = delay_s
        self.triage_json = triage_json
        self.fail = fail
        self.choice_probabilities = choice_probabilities
        self.yes_probability = yes_probability
        self.calls: list[list[Message]] = []
        self.queue = GenerationQueue()

    def stream(self, messages: Sequence[Message], max_tokens: int, deadline: float | None = None) -> Iterator[str]:
        with self.queue.hold():
            self.calls.append(list(messages))
            if self.fail:
                raise GenerationError("fake failure")
            text = self.answer or _fake_answer(messages[-1]["content"])
            for word in text.split(" "):
                if self.delay_s:
                    time.sleep(self.delay_s)
                yield word + " "

    def complete_json(
        self,
        messages: Sequence[Message],
        schema: dict,
        max_tokens: int,
        deadline: float | None = None,
        choice: Choice | None = None,
    ) -> str:
        with self.queue.hold():
            return self._complete_json(messages, choice)

    def choose(self, messages: Sequence[Message], choice: Choice, deadline: float | None = None) -> None:
        """``yes_probability`` (given the prompt's last message) scripts a yes/no reading; without it, no reading."""
        with self.queue.hold():
            self.calls.append(list(messages))
            if self.fail:
                raise GenerationError("fake failure")
            p = self.yes_probability(messages[-1]["content"]) if self.yes_probability else None
            if p is not None and choice.options == ("Yes", "No"):
                choice.settle({"Yes": p, "No": 1.0 - p})

    def _complete_json(self, messages: Sequence[Message], choice: Choice | None) -> str:
        self.calls.append(list(messages))
        if self.fail:
            raise GenerationError("fake failure")
        if self.delay_s:
            time.sleep(self.delay_s)
        raw = self._scripted_json()
        if choice is not None and self.choice_probabilities is not None:
            chosen = choice.settle(self.choice_probabilities)
            raw = re.sub(r'("level"\s*:\s*")[a-z_]*(")', rf"\g<1>{chosen}\g<2>", raw, count=1)
        return raw

    def _scripted_json(self) -> str:
        if isinstance(self.triage_json, list):
            return self.triage_json.pop(0) if self.triage_json else "{}"
        if self.triage_json is not None:
            return self.triage_json
        return json.dumps(
            {
                "level": "routine",
                "reasons": ["fake model reason"],
                "red_flags": [],
                "possible_conditions": [],
                "follow_up_questions": [],
            }
        )

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return sum(len(m["content"]) // 4 + 4 for m in messages)


def _fake_answer(prompt: str) -> str:
    """Quote passage [1]'s first real sentence and cite it (so the citation check keeps it), then a safety net."""
    passage = re.search(r"^\[1\][^\n]*\n(.*?)(?=^\[2\]|\Z)", prompt, re.M | re.S)
    if passage is None:
        return "My sources do not cover this question."
    lines = [line.lstrip("-* ").strip() for line in passage.group(1).splitlines()]
    first = next((ln for ln in lines if len(ln.split()) >= 4 and not ln.endswith(":")), "here is some information")
    sentence = re.split(r"(?<=[.!?])\s", first)[0].rstrip(".:")
    return f"{sentence} [1]. See a doctor if it gets worse."


def make_llm(settings: Settings) -> ChatLLM:
    cfg = settings.llm
    if cfg.backend == "fake":
        return FakeLLM(delay_s=cfg.fake_delay_s)
    if cfg.backend == "openai":
        from chatbot.generation.openai_backend import OpenAIChatLLM

        # The calibrated thresholds apply only if the server serves the configured catalogue model under its name.
        expected = cfg.model if cfg.model_path is None else None
        return OpenAIChatLLM(cfg.base_url or "", cfg.api_key, expected, cfg.n_ctx, cfg.temperature, cfg.seed)
    model = resolve_model(
        cfg.model, settings.path(cfg.model_path) if cfg.model_path else None, settings.model_cache_dir
    )
    layers = choose_gpu_layers(cfg.n_gpu_layers)
    log.info("model %s: n_gpu_layers=%s (%s)", model.name, layers, "GPU offload" if layers else "CPU only")
    return LlamaCppLLM(model, cfg.n_ctx, cfg.n_threads, layers, cfg.temperature, cfg.seed)

"""Latency and memory per model: time to first token, generation speed, whole-turn time, peak RSS.

Each model answers the same fixed English questions (intake off, model triage on: a real patient turn) through
``Engine.stream``, timing the events as they arrive. Definitions:

- ``load_s``: loading the GGUF (before the first question; not part of any turn);
- ``ttft_ms``: turn start to first streamed answer token (screen + retrieval + prompt evaluation);
- ``tokens_per_s``: (answer tokens - 1) / (last token time - first token time), tokens counted with the model's
  own tokenizer when it has one, else len(text) / 4;
- ``total_ms``: the whole turn, including the model triage call after the answer;
- ``peak_rss_mb``: highest resident memory of this process, sampled every 50 ms while the model is in use
  (models run one after another in one process and are freed in between, so later ones may start higher).
"""

from __future__ import annotations

import gc
import threading
import time
from typing import Any

import psutil

from evals import charts
from evals.common import RunContext, SuiteResult
from evals.datasets import KB_QUESTIONS, read_jsonl
from evals.metrics import describe
from evals.report import table

NAME = "latency"
DATASETS = ("latency",)
# Fixed, varied, English, single-turn questions from our own KB set (cold, cough, heartburn, wart, stiff neck).
QUESTION_IDS = ("kbq-0001", "kbq-0009", "kbq-0110", "kbq-0167", "kbq-0176")


class PeakRSS:
    """Samples this process's RSS in a background thread; ``peak_mb`` is the highest value seen."""

    def __init__(self, interval: float = 0.05) -> None:
        self._process = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self.peak = self._process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20


def questions(limit: int | None) -> list[dict]:
    rows = {r["id"]: r for r in read_jsonl(KB_QUESTIONS)}
    chosen = [rows[i] for i in QUESTION_IDS if i in rows] or list(rows.values())[:5]
    return chosen[: limit or len(chosen)]


def run(ctx: RunContext) -> SuiteResult:
    result = SuiteResult(NAME)
    models = ctx.options.models or [ctx.settings().llm.model]
    chosen = questions(ctx.options.limit)
    result.notes.append(f"questions: {', '.join(q['id'] for q in chosen)}; models in order: {', '.join(models)}")
    samples: dict[str, dict[str, list[float]]] = {}
    rows = []
    for model in models:
        record = _run_model(ctx, model, chosen)
        result.add_metrics(model, record["metrics"])
        samples[model] = {"ttft_s": [t / 1000 for t in record["ttft_ms"]], "total_s": [t / 1000 for t in
                                                                                       record["total_ms"]]}
        m = record["metrics"]
        rows.append([model, (record["sha256"] or "-")[:12], m["load_s"], m["ttft_ms.p50"], m["tokens_per_s.mean"],
                     m["total_ms.p50"], m["total_ms.max"], m["answer_tokens.mean"], m["peak_rss_mb"]])
        result.details[model] = record
    headers = ["model", "sha256", "load s", "TTFT p50 ms", "tokens/s", "turn p50 ms", "turn max ms", "tokens",
               "peak RSS MB"]
    result.sections.append(("Latency per model", table(headers, rows)))
    chart = charts.latency_distribution(ctx.options.out, samples)
    if chart:
        result.charts.append(chart)
    return result


def _run_model(ctx: RunContext, model: str, chosen: list[dict]) -> dict[str, Any]:
    ctx.drop_llms()
    settings = ctx.settings(model=model, conversation={"intake_enabled": False})
    with PeakRSS() as rss:
        engine = ctx.engine(settings)
        started = time.perf_counter()
        _load(engine.llm)
        load_s = time.perf_counter() - started
        turns = [_turn(engine, q["question"]) for q in ctx.progress(chosen, f"latency {model}")]
    record = {
        "name": getattr(engine.llm, "name", model),
        "sha256": getattr(engine.llm, "sha256", ""),
        "threads": getattr(engine.llm, "n_threads", None),
        "turns": turns,
        "ttft_ms": [t["ttft_ms"] for t in turns],
        "total_ms": [t["total_ms"] for t in turns],
    }
    metrics: dict[str, float] = {"load_s": load_s, "peak_rss_mb": rss.peak_mb}
    for key in ("ttft_ms", "tokens_per_s", "total_ms", "answer_tokens", "triage_ms"):
        metrics.update({f"{key}.{k}": v for k, v in describe([t[key] for t in turns]).items()})
    record["metrics"] = metrics
    del engine
    gc.collect()
    return record


def _load(llm: Any) -> None:
    """Force the lazy model load now, so it is timed apart from the first turn."""
    if hasattr(llm, "llama"):
        _ = llm.llama


def _turn(engine: Any, question: str) -> dict[str, Any]:
    from chatbot.conversation import Session

    started = time.perf_counter()
    first = last = done = None
    answer = None
    for event in engine.stream(Session(), question):
        now = time.perf_counter()
        if event.type == "token":
            first = first or now
            last = now
        elif event.type == "answer":
            done, answer = now, event.answer
    text = answer.answer if answer else ""
    tokens = _count_tokens(engine.llm, text)
    gen_s = (last - first) if first and last else 0.0
    return {
        "kind": answer.kind if answer else "none",
        "ttft_ms": (first - started) * 1000 if first else float("nan"),
        "tokens_per_s": (tokens - 1) / gen_s if gen_s > 0 and tokens > 1 else float("nan"),
        "total_ms": ((done or time.perf_counter()) - started) * 1000,
        "triage_ms": ((done - last) * 1000) if done and last else float("nan"),
        "answer_tokens": float(tokens),
    }


def _count_tokens(llm: Any, text: str) -> int:
    if not text:
        return 0
    try:
        return len(llm.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))
    except AttributeError:
        return max(1, len(text) // 4)

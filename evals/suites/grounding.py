"""Grounding of generated answers: are answer sentences supported by the passages they cite?

Runs full turns (``Engine.ask``; intake and model triage off, so every turn writes an answer) on a seeded sample
of English knowledge-base questions plus questions the knowledge base does not cover
(``evals/data/out_of_scope_questions.jsonl``). Scores (details in evals.support):

- in-KB: share of answer sentences supported by their cited chunks (semantic or lexical), share of answers
  with >= 1 valid citation, share whose citations include a labelled topic, share answered at all;
- out-of-KB: pass = kind ``no_sources``, an out-of-scope refusal, or an answer that says its sources do not
  cover the question.

The cited chunks' text is captured by wrapping the engine's retriever (Answer.sources carries no text).
"""

from __future__ import annotations

import re
import time
from typing import Any

from chatbot.safety.language import cjk_count
from evals import charts
from evals.common import RunContext, SuiteResult
from evals.datasets import GroundingQuestion, load_grounding
from evals.report import metric_rows, table
from evals.support import LEXICAL_THRESHOLD, SEMANTIC_THRESHOLD, citations, declines, score_answer

NAME = "grounding"
DATASETS = ("grounding", "grounding-zh")
DEFAULT_DATASETS = ("grounding",)
# metric parts per dataset: English keeps the names earlier reports used
_PARTS = {"grounding": ("in_kb", "out_of_kb"), "grounding-zh": ("in_kb_zh", "out_of_kb_zh")}
DEFAULT_QUESTIONS = 20


class RecordingRetriever:
    """Passes searches through to the real retriever and keeps the last result, so we know the chunk texts."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.last: Any = None

    def search(self, *args: Any, **kwargs: Any) -> Any:
        self.last = self.inner.search(*args, **kwargs)
        return self.last

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def run(ctx: RunContext) -> SuiteResult:
    result = SuiteResult(NAME)
    settings = ctx.settings(conversation={"intake_enabled": False, "model_triage": False})
    engine = ctx.engine(settings)
    recorder = RecordingRetriever(engine.retriever)
    engine.__dict__["retriever"] = recorder  # Engine.retriever is a cached_property: this replaces it
    result.notes.append(
        f"support: semantic >= {SEMANTIC_THRESHOLD} (MiniLM cosine vs cited chunk sentences) or lexical >= "
        f"{LEXICAL_THRESHOLD} (share of content words in the cited chunks); see evals/support.py"
    )
    for name in ctx.options.datasets or DEFAULT_DATASETS:
        dataset = load_grounding(ctx.options.limit or DEFAULT_QUESTIONS, ctx.options.seed,
                                 "zh" if name == "grounding-zh" else "en")
        result.add_dataset(dataset)
        checkpoint = ctx.checkpoint(NAME, "questions" if name == "grounding" else name)
        reused = sum(1 for q in dataset.cases if q.id in checkpoint.done)
        rows = [
            checkpoint.done.get(q.id) or checkpoint.add(_run_question(ctx, engine, recorder, q))
            for q in ctx.progress(dataset.cases, name)
        ]
        if reused:
            result.notes.append(f"{name}: {reused} answers reused from an earlier run in this folder (--resume)")
        _score(ctx, result, rows, *_PARTS[name])
    return result


def _run_question(ctx: RunContext, engine: Any, recorder: RecordingRetriever, q: GroundingQuestion) -> dict:
    from chatbot.conversation import Session

    recorder.last = None
    started = time.perf_counter()
    answer = engine.ask(Session(), q.question)
    seconds = time.perf_counter() - started
    hits = recorder.last.hits if recorder.last is not None else []
    limit = getattr(engine.settings.retrieval, "max_passage_chars", None)
    # the answer lists the sources it cites, renumbered (the citation check): find each one's retrieved text
    by_id = {h.id: h for h in hits}
    listed = [by_id.get(s.chunk_id) for s in answer.sources]
    chunks = [_as_prompted(h.text, limit) for h in listed if h is not None]
    consistent = None not in listed
    sentences = score_answer(answer.answer, chunks, ctx.embedder()) if answer.kind == "answer" and consistent else []
    cited = citations(answer.answer, len(answer.sources))
    cited_topics = [answer.sources[n - 1].topic_id for n in cited]
    return {
        "id": q.id,
        "in_scope": q.in_scope,
        "question": q.question,
        "gold_topics": q.topics,
        "kind": answer.kind,
        "refusal": answer.refusal.kind if answer.refusal else None,
        "answer": answer.answer,
        "sources": [s.topic_id or s.title for s in answer.sources],
        "cited": cited,
        "cited_topics": cited_topics,
        "sources_consistent": consistent,
        "sentences": [vars(s) | {"supported": s.supported} for s in sentences],
        "supported": sum(1 for s in sentences if s.supported),
        "scored": len(sentences),
        "declines": declines(answer.answer),
        "seconds": round(seconds, 1),
    }


def _as_prompted(text: str, limit: int | None) -> str:
    """The passage as the model saw it: the engine clips passages (at a sentence end) before the prompt.

    Evidence must be what the model was given, not the whole chunk. The engine's helper is private, so fall back
    to the whole chunk if it moves (the engine could expose the prompted passages on the answer instead).
    """
    try:
        from chatbot.conversation.prompting import clip as _clip
    except ImportError:
        return text
    return _clip(text, limit) if limit else text


def _score(ctx: RunContext, result: SuiteResult, rows: list[dict], part_in: str = "in_kb",
           part_out: str = "out_of_kb") -> None:
    inside = [r for r in rows if r["in_scope"]]
    outside = [r for r in rows if not r["in_scope"]]
    answered = [r for r in inside if r["kind"] == "answer"]
    scored = [r for r in answered if r["scored"]]
    sentences = [s for r in answered for s in r["sentences"]]
    metrics_in = {
        "n": len(inside),
        "answer_rate": _share(inside, lambda r: r["kind"] == "answer"),
        "no_sources_rate": _share(inside, lambda r: r["kind"] == "no_sources"),
        # none of the model's claims held, so the passages' own sentences were quoted (not scored as the model's)
        "quoted_rate": _share(inside, lambda r: r["kind"] == "quoted"),
        "citation_rate": _share(answered, lambda r: bool(r["cited"])),
        "cited_gold_topic_rate": _share(answered, lambda r: bool(set(r["cited_topics"]) & set(r["gold_topics"]))),
        "supported_sentence_share": _share(sentences, lambda s: s["supported"]),
        "mean_answer_support": _mean([r["supported"] / r["scored"] for r in scored]),
        "semantic_mean": _mean([s["semantic"] for s in sentences]),
        "lexical_mean": _mean([s["lexical"] for s in sentences]),
        # the model's own instructions or a repeated sentence in the final text (an evals-side phrase list, written
        # apart from chatbot/generation/echo.py, so the filter is not checked against itself)
        "prompt_echo_rate": _share(answered, lambda r: _echoes_prompt(r["answer"])),
        "repeated_sentence_rate": _share(answered, lambda r: _repeats(r["answer"])),
        "seconds_per_answer": _mean([r["seconds"] for r in inside]),
    }
    result.add_metrics(part_in, metrics_in)
    result.add_metrics(part_out, {"n": len(outside), "pass_rate": _share(outside, _declined),
                                     "no_sources_rate": _share(outside, lambda r: r["kind"] == "no_sources")})
    if any(not r["sources_consistent"] for r in rows):
        result.notes.append("some answers' sources differed from the recorded retrieval; they were not scored")
    result.sections.append((f"Grounding summary ({part_in})", table(["metric", "value"],
                                                                     metric_rows(result.metrics))))
    result.sections.append((f"Grounding per question ({part_in})", _case_table(rows)))
    result.sections.append((f"Answers (for reading, {part_in})", _answers(rows)))
    labels = ["answered", "cited", "cited gold topic", "sentences supported", "out-of-KB pass"]
    values = [metrics_in["answer_rate"], metrics_in["citation_rate"], metrics_in["cited_gold_topic_rate"],
              metrics_in["supported_sentence_share"], result.metrics[f"{part_out}.pass_rate"]]
    png = "grounding.png" if part_in == "in_kb" else f"grounding-{part_in}.png"
    chart = charts.bars(ctx.options.out, png, f"Grounding ({part_in})", labels, [_nz(v) for v in values], "share")
    if chart:
        result.charts.append(chart)
    result.details["answers" if part_in == "in_kb" else f"answers_{part_in}"] = rows


_PROMPT_PHRASES = re.compile(
    r"safety checks?|urgency (?:to|already)|your (?:answer|advice) (?:must|tells|should)|the patient should|"
    r"reference passages|patient'?s message|do not repeat|instructions?\b"
    r"|安全检查|你的回答|你的建议|紧急程度|参考段落|患者的消息|指示",
    re.I,
)


def _echoes_prompt(text: str) -> bool:
    """Whether an answer holds wording that only its prompt has (talk about the checks, the answer, the passages)."""
    return bool(_PROMPT_PHRASES.search(text))


def _repeats(text: str) -> bool:
    """Whether a sentence of at least four words (or eight Chinese characters) comes twice."""
    seen: set[str] = set()
    for sentence in re.split(r"[.!?。！？\n]+", re.sub(r"\[\d+\]", "", text)):
        key = re.sub(r"\W+", " ", sentence.lower()).strip()
        if len(key.split()) < 4 and cjk_count(key) < 8:
            continue
        if key in seen:
            return True
        seen.add(key)
    return False


def _declined(row: dict) -> bool:
    return row["kind"] == "no_sources" or row["refusal"] == "out_of_scope" or row["declines"]


def _case_table(rows: list[dict]) -> str:
    out = []
    for r in rows:
        support = f"{r['supported']}/{r['scored']}" if r["scored"] else "-"
        verdict = ("pass" if _declined(r) else "FAIL") if not r["in_scope"] else ""
        out.append([r["id"], "in" if r["in_scope"] else "out", r["kind"], support, r["cited"] or "-",
                    ", ".join(r["cited_topics"]) or "-", ", ".join(r["gold_topics"]) or "-", verdict, r["seconds"]])
    headers = ["id", "KB", "kind", "supported", "cited", "cited topics", "gold topics", "out-of-KB", "s"]
    return table(headers, out)


def _answers(rows: list[dict]) -> str:
    """Generated text, folded: questions are ours, answers the model's; useful when a score looks wrong."""
    parts = ["<details><summary>show answers</summary>", ""]
    for r in rows:
        parts += [f"**{r['id']}** {r['question']}", "", "> " + r["answer"].replace("\n", "\n> "), ""]
    parts.append("</details>")
    return "\n".join(parts)


def _share(items: list, test) -> float:
    return sum(1 for i in items if test(i)) / len(items) if items else float("nan")


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _nz(value: float) -> float:
    return 0.0 if value != value else value

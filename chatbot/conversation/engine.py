"""The turn pipeline. Interfaces call ``Engine.stream``/``Engine.ask``; all medical logic lives below this line.

Order of one turn (see DESIGN): validate -> red-flag screen (escalate at once) -> boundaries (refuse kindly) ->
intake (ask what a nurse would) -> retrieval -> streamed, cited answer -> structured model triage -> final level =
max(rules, model). The rules result is a floor the model cannot lower, and it exists even when the model fails.
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from chatbot.answer import Answer, Refusal, Source, Timings, Triage, TriageLevel
from chatbot.conversation.components import Components
from chatbot.conversation.explain import Explainer
from chatbot.conversation.session import Session, Turn
from chatbot.conversation.signs import SignReader
from chatbot.conversation.turn import TurnContext
from chatbot.generation import Choice, GenerationError
from chatbot.generation.echo import EchoFilter, LoopGuard
from chatbot.generation.queue import places, run_under
from chatbot.retrieval import Hit, RetrievalResult
from chatbot.safety import (
    LEVEL_TRIGGER,
    LEVELS,
    MODEL_TRIAGE_SCHEMA,
    ModelTriage,
    ScreenResult,
    check_boundaries,
    combine_triage,
    decide_level,
    decided_by,
    detect_language,
    escalation_message,
    intake_questions,
    parse_model_triage,
)
from chatbot.safety.floors import FiredFloor, with_emergency_floors
from chatbot.safety.messages import texts_for
from chatbot.safety.probes import PROBE_PREFIX, Probes

log = logging.getLogger(__name__)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CITATION = re.compile(r"\[(\d{1,2})\]")
_FOLLOW_UP_CUE = re.compile(r"\b(it|that|this|they|them|those|these|what about|and if|also)\b|它|这个|那个|还有", re.I)
_TRIAGE_FULL_TOKENS = 200
_TRIAGE_LEVEL_TOKENS = 16  # '{"level": "self_care"' and a little slack


class InputError(ValueError):
    """The patient's message cannot be used as it is; the text says why, kindly, and nothing is lost."""


class TurnError(RuntimeError):
    """A turn ended without its final answer: a fault in the pipeline, never in the patient's message."""


@dataclass
class Event:
    """One step of a streamed turn: ``escalation`` (data: the level decided so far and the language), ``status``,
    ``queue`` (data: ``position`` in line for the model, 1 = next, 0 = served now; ``estimate_s``, None while
    unknown), ``triage`` (the decided level, before the answer), ``token``, ``replace`` (the streamed answer
    corrected to match the level) or the final ``answer``."""

    type: str
    text: str = ""
    answer: Answer | None = None
    data: dict[str, Any] = field(default_factory=dict)


def clean_message(text: str, max_chars: int) -> str:
    """Normalise a message; raise InputError for empty or over-long input instead of silently truncating."""
    if not isinstance(text, str):
        raise InputError("Please type your question as text.")
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = unicodedata.normalize("NFC", _CONTROL.sub(" ", text)).strip()
    if not text:
        raise InputError("Your message is empty. Please type a question or describe your symptoms.")
    if len(text) > max_chars:
        raise InputError(
            f"Your message is {len(text)} characters long; the limit is {max_chars}. "
            "Please shorten it to the main symptoms and question, and send the rest in a second message."
        )
    return text


class Engine(Components):
    """Runs turns with the shared parts (``Components``): one per process, used by every session."""

    @cached_property
    def signs(self) -> SignReader:
        """The model's yes/no readings of emergency signs (conversation/signs.py, safety/probes.py)."""
        probes = Probes.from_path(self.settings.path(self.settings.triage.probes.path))
        return SignReader(self.settings, probes, lambda: self.llm, self.prompting.model_view)

    def warm_up(self) -> None:
        """Load the embedder, BM25 and the model and evaluate the fixed prompt prefix once, so the first patient
        turn pays neither the torch import nor the prefix (llama.cpp reuses it from the KV cache)."""
        self.retriever.search("sore throat")
        _ = self.crisis, self.harmful  # trained once per process, before the first patient
        warm = getattr(self.llm, "warm_up", None)
        if warm is not None:
            warm(self.prompting.prefix())

    # ---- one turn -----------------------------------------------------------------------------------------------
    def ask(self, session: Session, message: str, one_shot: bool = False) -> Answer:
        answer = None
        for event in self.stream(session, message, one_shot=one_shot):
            if event.type == "answer":
                answer = event.answer
        if answer is None:  # every path of _turn ends in an answer event; a turn without one is a bug, not a reply
            raise TurnError("the turn ended without an answer")
        return answer

    def stream(self, session: Session, message: str, one_shot: bool = False) -> Iterator[Event]:
        """Run one turn, yielding events as soon as each exists (the escalation comes before any model work).

        ``one_shot`` (``ask`` on the command line) answers at once: the intake questions a nurse would ask are
        returned in ``triage.follow_up_questions`` instead of being asked before the answer.
        """
        text = clean_message(message, self.settings.conversation.max_message_chars)
        with session.lock:
            yield from self._turn(session, text, one_shot)

    def _turn(self, session: Session, text: str, one_shot: bool) -> Iterator[Event]:
        ctx = self._open(session, text)
        if ctx.escalation:
            # the level decided so far (rules and care floors; the model can only raise it): the interfaces show an
            # emergency banner only at emergency level
            level = ctx.level_so_far or TriageLevel.urgent
            yield Event("escalation", text=ctx.escalation, data={"level": level.value, "language": ctx.lang})
        base = ctx.answer_fields(session.id, self.model_info())

        privacy = self.settings.privacy
        refusal = check_boundaries(text, ctx.lang, self.locale, locales=self.locales, harmful=self.harmful,
                                   saving=privacy.save_transcripts or privacy.save_feedback)
        if refusal is not None:
            steps = self._refuse(session, ctx, refusal, base)
            yield from self._in_line(ctx, steps) if self._asks_level(ctx) else steps
            return

        questions = self._missing_facts(session, ctx)
        if questions and self._may_ask(session, one_shot) and self._reads_signs(ctx):
            # an emergency in words no rule reads is not quizzed: the model's yes/no readings come first
            yield from self._in_line(ctx, self._read_signs(session, ctx))
            questions = [] if ctx.level_so_far == TriageLevel.emergency else questions
        if questions and self._may_ask(session, one_shot):
            session.intake_rounds += 1
            body = self.prompts.text("intake_intro", ctx.lang) + "\n" + "\n".join(f"- {q}" for q in questions)
            triage = _combine(ctx.screen, ctx.floors, None, ctx.lang) if ctx.screen.hits or ctx.floors else None
            if triage is not None:
                triage.follow_up_questions = questions
            answer = Answer(answer=body, kind="intake", triage=triage, follow_up_questions=questions, **base)
            yield from self._finish(session, answer, ctx)
            return

        yield Event("status", text="retrieving")
        if self._translates(ctx.lang):  # the search query is the model's work too: in line before it
            yield from self._in_line(ctx, self._retrieve_and_generate(session, ctx, base, questions))
            return
        retrieval = self.retrieve(session, text, ctx.lang)
        ctx.timings.retrieve_ms = retrieval.elapsed_ms
        steps = self._generate(session, ctx, retrieval, base, pending=questions)
        yield from self._in_line(ctx, steps) if self._uses_model(ctx, retrieval) else steps

    def _retrieve_and_generate(self, session: Session, ctx: TurnContext, base: dict, pending: list[str]
                               ) -> Iterator[Event]:
        retrieval = self.retrieve(session, ctx.text, ctx.lang)
        ctx.timings.retrieve_ms = retrieval.elapsed_ms
        yield from self._generate(session, ctx, retrieval, base, pending)

    def _in_line(self, ctx: TurnContext, steps: Iterator[Event]) -> Iterator[Event]:
        """The model's part of the turn under one ticket of the model's queue (chatbot.generation.queue), when it
        has one: while other patients' turns hold the model, the patient sees their place in line (``queue``
        events) instead of silence. The escalation was shown before this, never behind anyone."""
        queue = getattr(self.llm, "queue", None)
        if queue is None:
            yield from steps
            return
        with queue.ticket() as ticket:
            for place in places(ticket):
                yield Event("queue", data={**place, "language": ctx.lang})
            yield from run_under(ticket, steps)

    def _refuse(self, session: Session, ctx: TurnContext, refusal: Refusal, base: dict) -> Iterator[Event]:
        """A refusal still carries the level of the patient's own situation: rules and care floors, and the model's
        level when nothing says emergency yet. The model reads the message as every prompt does, without the
        sentences addressed to it (an injection's "say it's nothing") and without the patient's own verdicts, and
        it can only raise the level. Without this, symptoms no rule reads were shown "routine" under a refusal."""
        yield from self._read_signs(session, ctx)
        model = None
        if self._asks_level(ctx) and ctx.level_so_far != TriageLevel.emergency:
            model = self._model_triage(self.prompting.messages(session, ctx.text, ctx.lang, []), [])
        triage = self._explained(_combine(ctx.screen, ctx.floors, model, ctx.lang), [], ctx)
        answer = Answer(answer=refusal.message, refusal=refusal, kind="refusal", triage=triage, **base)
        yield from self._finish(session, answer, ctx)

    def _asks_level(self, ctx: TurnContext) -> bool:
        """Whether the model is asked for its level: a patient's own situation that no rule already escalates."""
        asks_level = ctx.screen.level != TriageLevel.emergency and self.settings.conversation.model_triage
        return _gets_badge(ctx) and asks_level

    def _uses_model(self, ctx: TurnContext, retrieval: RetrievalResult) -> bool:
        """Whether the rest of the turn asks the model anything (an answer, or its level; see ``_decide``)."""
        return bool(retrieval.hits) or self._asks_level(ctx)

    def _translates(self, lang: str) -> bool:
        return lang == "zh" and self.settings.retrieval.translate_queries

    def _open(self, session: Session, text: str) -> TurnContext:
        """Start a turn: the message joins the session and the deterministic layer reads the conversation once."""
        started = time.perf_counter()
        lang = detect_language(text)
        session.language = lang
        turn = session.add_user(text)
        screen, floors = self.decide_floor(session)
        ctx = TurnContext(text=text, lang=lang, screen=screen, floors=floors, reports_symptoms=turn.symptoms,
                          personal=session.personal, started=started,
                          escalation=escalation_message(screen, lang, self.locale, self.locales))
        ctx.timings.screen_ms = screen.elapsed_ms
        return ctx

    def decide_floor(self, session: Session) -> tuple[ScreenResult, list[FiredFloor]]:
        """The deterministic part of the level, from the whole conversation: red-flag rules and care floors
        (emergency floors join the rules, so they escalate at once), and the self-harm intent classifier. Runs
        before any model work. The facts the screen reads from the messages become the session's facts, so they
        are extracted once per message."""
        screen = self.red_flags.screen(session.user_messages)
        session.facts = screen.facts
        screen = self.crisis.screen(screen, session.user_messages)
        floors = self.floors.evaluate(session.user_messages, screen.facts, symptoms=session.personal)
        return with_emergency_floors(screen, floors), floors

    def _missing_facts(self, session: Session, ctx: TurnContext) -> list[str]:
        """What a nurse would still ask; nothing when a rule already says emergency (escalate, don't quiz)."""
        if ctx.screen.level == TriageLevel.emergency or not ctx.reports_symptoms:
            return []
        cfg = self.settings.conversation
        return intake_questions(session.facts, session.user_messages, ctx.lang, cfg.max_intake_questions,
                                reports_symptoms=True, facts_complete=True)

    def _may_ask(self, session: Session, one_shot: bool) -> bool:
        cfg = self.settings.conversation
        return cfg.intake_enabled and not one_shot and session.intake_rounds < cfg.max_intake_rounds

    def retrieve(self, session: Session, text: str, lang: str) -> RetrievalResult:
        return self.retriever.search(self.search_query(session, text, lang))

    def search_query(self, session: Session, text: str, lang: str) -> str:
        """Condense the conversation into a standalone query: a short follow-up borrows the previous question."""
        prior = session.user_messages[:-1]
        query = text
        short = len(text) < 25 if lang == "zh" else len(text.split()) < 8
        if prior and (short or _FOLLOW_UP_CUE.search(text)):
            query = f"{prior[-1]} {text}"
        if self._translates(lang):
            query = f"{self._translate(query)} {query}"
        return query

    def _translate(self, text: str) -> str:
        prompt = self.prompts.render("translate", question=text)
        try:
            return "".join(self.llm.stream([{"role": "user", "content": prompt}], 32)).strip()
        except GenerationError:
            return ""

    # ---- generation and triage ----------------------------------------------------------------------------------
    def _generate(
        self, session: Session, ctx: TurnContext, retrieval: RetrievalResult, base: dict, pending: list[str]
    ) -> Iterator[Event]:
        lang, started = ctx.lang, ctx.started
        sources = _sources(retrieval.hits)
        messages = self.prompting.messages(session, ctx.text, lang, retrieval.hits)
        yield from self._read_signs(session, ctx)  # before the level: an escalation is shown at once
        triage = self._decide(session, ctx, messages, sources)
        ctx.timings.triage_ms = (time.perf_counter() - started) * 1000
        if triage is not None:
            # The level is decided before a word of the answer: the badge shows now, and the answer is told it.
            triage.follow_up_questions = list(dict.fromkeys([*pending, *triage.follow_up_questions]))[:3]
            yield Event("triage", data={"triage": triage})
            messages = self._with_decision(session, ctx, retrieval.hits, triage)
        gen_started = time.perf_counter()
        if sources:
            yield Event("status", text="generating")
            kind, body = yield from self._stream_answer(messages, lang, len(sources), ctx.timings, started)
            if kind == "answer":
                streamed = body
                body = self._without_echoes(session, body, ctx, retrieval.hits, triage)
                checked = self.consistency.check(body, triage.level if triage else None, lang)
                if checked.changed:  # advice below the badge, or another country's services: replaced
                    log.info("turn session=%s: %d sentence(s) replaced by the level's advice",
                             session.safe_id, len(checked.removed))
                    body = checked.text
                level = triage.level if triage else None
                body, sources, kind = self._cite(session, body, retrieval, sources, ctx, level)
                if body != streamed:  # one correction of the streamed text: the answer as it will be kept
                    yield Event("replace", text=body)
            elif self._renumbers:  # no marker in a failure text: the sources the badge cites come first
                sources = _pinned_first(sources, ctx.pinned)
        else:
            # Nothing relevant was retrieved: say so rather than let the model answer from its own memory.
            kind, body = "no_sources", self.prompts.text("no_sources", lang)
            yield Event("token", text=body)
        gen_ms = (time.perf_counter() - gen_started) * 1000
        answer = Answer(answer=body, kind=kind, triage=triage, sources=sources,
                        follow_up_questions=triage.follow_up_questions if triage else [], **base)
        answer.model = self.model_info()
        level = triage.level.value if triage else "-"
        log.info("turn session=%s kind=%s level=%s gen_ms=%.0f", session.safe_id, kind, level, gen_ms)
        yield from self._finish(session, answer, ctx)

    @property
    def _renumbers(self) -> bool:
        """Whether listed sources are renumbered [1..k] (the citation check): then the sources the badge's reasons
        cite are pinned as [1..p] before the answer is written, and every later listing keeps them there."""
        return self.settings.generation.citation_check

    def _cite(self, session: Session, body: str, retrieval: RetrievalResult, sources: list[Source],
              ctx: TurnContext, level: TriageLevel | None) -> tuple[str, list[Source], str]:
        """Citations that hold (chatbot.generation.citations): each [n] on a sentence its passage supports, claims
        no passage supports dropped, and only the sources cited listed, renumbered [1..k] as the markers are, after
        the sources the badge already cites (``ctx.pinned``, which keep [1..p]). An answer left with nothing cited
        is replaced by the passages' own words (kind ``quoted``), since retrieval did find them relevant."""
        if not self._renumbers or not sources:
            return body, sources, "answer"
        passages = [self.prompting.passage(h) for h in retrieval.hits]
        cited = self.citations.check(body, passages, self._fixed_texts(ctx.lang), pinned=ctx.pinned)
        ctx.timings.cite_ms = cited.elapsed_ms
        if cited.changed:
            log.info("turn session=%s: citations checked, %d sentence(s) dropped, %d re-cited, %d of %d sources "
                     "kept (%.0f ms)", session.safe_id, len(cited.dropped), cited.moved, len(cited.kept),
                     len(sources), cited.elapsed_ms)
        if not cited.cites_any:
            return self._quoted(session, retrieval, sources, ctx, cited.fixed, level)
        kept = [sources[n - 1].model_copy(update={"n": i + 1}) for i, n in enumerate(cited.kept)]
        return cited.text, kept, "answer"

    def _quoted(self, session: Session, retrieval: RetrievalResult, sources: list[Source], ctx: TurnContext,
                fixed: list[str], level: TriageLevel | None) -> tuple[str, list[Source], str]:
        """The answer when none of the model's claims held: the passages' own sentences that best answer the
        question, each cited (English), or the matched topics' names to look up (Chinese: the passages are
        English, and a Chinese patient reads Chinese). Nothing quotable: the "not in my sources" text (the
        sources the badge cites stay listed)."""
        cfg, lang = self.settings.generation, ctx.lang
        if lang == "zh":
            names = self.topic_names
            picked = [(i + 1, names.get(s.topic_id, {}).get("zh", "")) for i, s in enumerate(sources)]
            picked = [(n, name) for n, name in picked if name][: max(cfg.quote_sentences, 0)]
        else:
            passages = [self.prompting.passage(h) for h in retrieval.hits]
            picked = self.citations.excerpts(retrieval.query, passages, cfg.quote_sentences, cfg.quote_min_relevance,
                                             keep=lambda sentence: not self.consistency.contradicts(sentence, level))
        if not picked:
            body = "\n\n".join([self.prompts.text("no_sources", lang), *fixed])
            return body, _pinned_first(sources, ctx.pinned, only=True), "no_sources"
        numbers = {n: i + 1 for i, n in enumerate(dict.fromkeys([*ctx.pinned, *(n for n, _ in picked)]))}
        stop = "" if lang == "zh" else "."
        lines = [f"- {text}{'' if lang == 'zh' else ' '}[{numbers[n]}]{stop}" for n, text in picked]
        body = "\n\n".join([self.prompts.text("quoted_intro", lang) + "\n" + "\n".join(lines), *fixed])
        kept = [sources[n - 1].model_copy(update={"n": new}) for n, new in numbers.items()]
        log.info("turn session=%s: no claim of the answer held; %d passage sentence(s) quoted instead",
                 session.safe_id, len(picked))
        return body, kept, "quoted"

    def _fixed_texts(self, lang: str) -> list[str]:
        """Our own texts an answer may hold (the levels' advice the consistency check adds, the fallbacks): kept
        verbatim by the citation check, never scored as the model's claims."""
        emergency = self.locales.get(self.locale).emergency_for(lang)
        advice = [texts_for(f"consistent_{level.value}").get(lang, "") for level in TriageLevel]
        fixed = [text.format(emergency=emergency) for text in advice if text]
        return [*fixed, self.prompts.text("no_sources", lang), self.prompts.text("model_error", lang)]

    def _decide(self, session: Session, ctx: TurnContext, messages: list[dict[str, str]], sources: list[Source]
                ) -> Triage | None:
        """The turn's level, before the answer: rules and care floors, the signs the model read (probes), then the
        model's level probabilities.

        An information question ("what are the warning signs of a stroke?") with no personal symptom and nothing
        fired gets no personal badge (None). The model is not asked when a rule already says emergency: nothing
        it says could change that.
        """
        if not _gets_badge(ctx):
            return None
        model = None
        if ctx.screen.level != TriageLevel.emergency:
            model = self._model_level(session, ctx, messages, sources)
        return self._explained(_combine(ctx.screen, ctx.floors, model, ctx.lang), sources, ctx)

    def _model_level(self, session: Session, ctx: TurnContext, messages: list[dict[str, str]],
                     sources: list[Source]) -> ModelTriage | None:
        """The model's part of the level: first its yes/no readings of emergency signs (which join the turn's
        floors), then, unless one of them already says emergency, its level probabilities."""
        for _ in self._read_signs(session, ctx):
            pass
        if ctx.level_so_far == TriageLevel.emergency:
            return None
        return self._model_triage(messages, sources)

    def _reads_signs(self, ctx: TurnContext) -> bool:
        """Whether the yes/no readings apply: a patient's own situation no rule escalates yet, and reading is on."""
        return self.signs.on and self._asks_level(ctx)

    def _read_signs(self, session: Session, ctx: TurnContext, every: bool = False) -> Iterator[Event]:
        """Read the signs once per turn (a generator, so it can run in the model's queue); those that fire join
        ``ctx.floors``, and an emergency among them yields the escalation event a rule would. ``every``: ask all
        of them (evaluations record each reading)."""
        if ctx.probes is not None or not self._reads_signs(ctx):
            return
        reading = self.signs.read(session.user_messages, every=every)
        ctx.probes = reading.probabilities
        ctx.floors = [*ctx.floors, *reading.fired]
        if any(f.level == TriageLevel.emergency for f in reading.fired):
            # the same escalation a rule gives (the locale's number, what to do while waiting), shown at once
            ctx.escalation = escalation_message(with_emergency_floors(ctx.screen, reading.fired), ctx.lang,
                                                self.locale, self.locales)
            yield Event("escalation", text=ctx.escalation, data={"level": TriageLevel.emergency.value,
                                                                 "language": ctx.lang})

    def _explained(self, triage: Triage, sources: list[Source], ctx: TurnContext) -> Triage:
        """What the patient reads beside the level, composed from evidence (conversation/explain.py)."""
        return Explainer(self.criteria, self.topic_names, self.sign_translations, self._renumbers).explain(
            triage, sources, ctx)

    def _with_decision(
        self, session: Session, ctx: TurnContext, hits: list[Hit], triage: Triage
    ) -> list[dict[str, str]]:
        """The answer's prompt with the decided level and its reasons, so the advice cannot contradict the badge.

        The block sits just before the patient's message (prompt ``answer`` v3): at the very end the small model
        copied it as its answer. Everything before it is the prompt the model triage just read, so llama.cpp still
        reuses the passages from the KV cache."""
        return self.prompting.messages(session, ctx.text, ctx.lang, hits, decided=self._decided_block(ctx, triage))

    def _without_echoes(self, session: Session, body: str, ctx: TurnContext, hits: list[Hit], triage: Triage | None
                        ) -> str:
        """The answer without sentences copied from the worked example, the decided block's wording or the patient's
        own message, and without repeats (chatbot.generation.echo). The passages, the system rules, the level's
        advice and our fixed texts may be copied: they are what an answer should say."""
        read_only = [self.prompts.render("example_user"), self.prompts.render("example_answer"), ctx.text]
        protected = [*(self.prompting.passage(h) for h in hits), *self._fixed_texts(ctx.lang),
                     self.prompts.render("system")]
        if triage is not None:
            read_only.append(self._decided_block(ctx, triage, "frame"))
            protected.append(self._decided_block(ctx, triage, "advice"))
        cleaned, dropped = EchoFilter(read_only, protected).clean(body)
        if dropped:
            log.info("turn session=%s: %d echoed or repeated sentence(s) dropped", session.safe_id, len(dropped))
        return cleaned

    def _decided_block(self, ctx: TurnContext, triage: Triage, part: str = "all") -> str:
        return self.prompting.decided(triage.level, triage.reasons, ctx.lang, part)

    def _stream_answer(
        self, messages: list[dict[str, str]], lang: str, n_sources: int, timings: Timings, started: float
    ) -> Generator[Event, None, tuple[str, str]]:
        """Stream the model's answer; on failure show a safe message instead (the triage still comes from rules)."""
        pieces: list[str] = []
        loop = LoopGuard()
        try:
            for piece in self.llm.stream(messages, self.settings.llm.max_tokens):
                if not pieces:
                    timings.first_token_ms = (time.perf_counter() - started) * 1000
                pieces.append(piece)
                yield Event("token", text=piece)
                if loop.feed(piece):  # the same sentence a third time: the rest would be more of it
                    log.warning("generation stopped: the answer repeats itself")
                    break
        except GenerationError as exc:
            log.error("generation failed: %s", exc)
            text = self.prompts.text("model_error", lang)
            yield Event("token", text=text)
            return "error", text
        return "answer", _keep_valid_citations("".join(pieces).strip(), n_sources)

    def _model_triage(self, messages: list[dict[str, str]], sources: list[Source]) -> ModelTriage | None:
        """Ask for schema-constrained triage on the answer's own prompt (the request is appended to its last message,
        so the answer that follows reuses everything before it from llama.cpp's KV cache); retry once."""
        if not self.settings.conversation.model_triage:
            return None
        numbers = ", ".join(f"[{s.n}]" for s in sources)
        request = self.prompts.render("triage", passages=bool(sources), passage_numbers=numbers)
        follow = [*messages[:-1], {"role": "user", "content": messages[-1]["content"] + "\n\n" + request}]
        deadline = time.monotonic() + self.settings.llm.triage_timeout_s
        # "level": the JSON's first field is all we read; the rest would be free text the model invents.
        max_tokens = _TRIAGE_LEVEL_TOKENS if self.settings.triage.model_writes == "level" else _TRIAGE_FULL_TOKENS
        for _attempt in range(2):
            choice = self.level_choice()
            try:
                raw = self.llm.complete_json(follow, MODEL_TRIAGE_SCHEMA, max_tokens, deadline, choice)
            except GenerationError as exc:
                log.warning("model triage failed: %s", exc)
                return None
            parsed = _with_choice(parse_model_triage(raw), choice)
            if parsed is not None and self.settings.triage.model_writes == "level":
                parsed = parsed.model_copy(
                    update={"reasons": [], "red_flags": [], "possible_conditions": [], "follow_up_questions": []})
            if parsed is not None or time.monotonic() > deadline:
                return parsed
        return None

    def level_choice(self) -> Choice | None:
        """Calibrated thresholds on the level probabilities, for the model they were fitted for; None = greedy."""
        cfg = self.settings.triage
        if cfg.decision != "calibrated" or not self.settings.model_is_calibrated:
            return None
        return Choice(LEVEL_TRIGGER, LEVELS, lambda probs: decide_level(probs, cfg.thresholds).value)

    def triage_only(self, session: Session, message: str, use_model: bool | None = None) -> Answer:
        """One-shot triage: screen, retrieve and the model's structured judgement, without writing an answer.

        ``use_model=None`` skips the model when a rule already says emergency (nothing it says can change that);
        evaluations pass True to measure the model alone as well.
        """
        text = clean_message(message, self.settings.conversation.max_message_chars)
        with session.lock:
            ctx = self._open(session, text)
            retrieval = self.retrieve(session, text, ctx.lang)
            ctx.timings.retrieve_ms = retrieval.elapsed_ms
            sources = _sources(retrieval.hits)
            run_model = use_model if use_model is not None else ctx.screen.level != TriageLevel.emergency
            model = None
            if run_model:
                messages = self.prompting.messages(session, text, ctx.lang, retrieval.hits)
                if use_model:  # evaluations: each layer's own opinion is recorded, whatever the others said
                    for _ in self._read_signs(session, ctx, every=True):
                        pass
                    model = self._model_triage(messages, sources)
                else:
                    model = self._model_level(session, ctx, messages, sources)
            triage = self._explained(_combine(ctx.screen, ctx.floors, model, ctx.lang), sources, ctx)
            if self._renumbers:  # listed as a full turn would list them: the sources the reasons cite first
                sources = _pinned_first(sources, ctx.pinned)
            ctx.timings.total_ms = (time.perf_counter() - ctx.started) * 1000
            answer = Answer(answer="; ".join(triage.reasons), triage=triage, sources=sources, kind="triage",
                            **ctx.answer_fields(session.id, self.model_info()))
            session.turns.append(Turn("assistant", answer.answer))
            return answer

    def restore(self, session: Session, turns: Iterable[tuple[str, str]]) -> None:
        """Load earlier turns (role, text) into an empty session, so the red-flag screen and the answer see them.

        For OpenAI-style requests, which carry their history, and for a browser whose conversation the server
        forgot (restart, eviction). Facts are read from the earlier user messages here, not in the interface.
        """
        limit = self.settings.conversation.max_message_chars
        with session.lock:
            for role, text in turns:
                if role not in {"user", "assistant"} or not isinstance(text, str) or not text.strip():
                    continue
                text = text.strip()[: limit * 2]
                if role == "user":
                    session.add_user(text)
                else:
                    session.turns.append(Turn(role, text))
            # the facts the earlier messages state, read by the same screen every turn uses
            session.facts = self.red_flags.screen(session.user_messages).facts

    def screen_only(self, message: str) -> ScreenResult:
        """The deterministic escalation for one message: red-flag rules, the self-harm classifier and the
        emergency-level care floors (what a patient would see before any model work)."""
        text = clean_message(message, self.settings.conversation.max_message_chars)
        screen = self.crisis.screen(self.red_flags.screen([text]), [text])
        return with_emergency_floors(screen, self.floors.evaluate([text], screen.facts))

    def _finish(self, session: Session, answer: Answer, ctx: TurnContext) -> Iterator[Event]:
        """Every reply of a turn ends here: its escalation is the turn's as it stands now (the rules' from the start,
        or one a sign read during the turn raised), and its total time is taken."""
        answer.escalation = ctx.escalation
        answer.timings.total_ms = (time.perf_counter() - ctx.started) * 1000
        session.turns.append(Turn("assistant", answer.answer))
        session.last_sources = answer.sources
        session.last_answer = answer
        yield Event("answer", answer=answer)


def _combine(
    screen: ScreenResult, floors: list[FiredFloor], model: ModelTriage | None, lang: str
) -> Triage:
    """Final triage = max(rules, care floors, model), keeping what each layer said on its own for display and
    evaluation."""
    triage = combine_triage(screen, model, lang, floors)
    triage.rules_level = screen.level
    triage.model_level = model.level if model is not None else None
    triage.model_probabilities = dict(model.probabilities) if model is not None else {}
    # the signs the model read (probes) are their own layer, not facts the rules read: reported apart
    care = [f.level for f in floors if not f.id.startswith(PROBE_PREFIX)]
    triage.floor_level = TriageLevel.highest(*care)
    triage.probe_level = TriageLevel.highest(*(f.level for f in floors if f.id.startswith(PROBE_PREFIX)))
    triage.decided_by = decided_by(screen.level, triage.model_level, triage.floor_level, triage.probe_level)
    return triage


def _with_choice(parsed: ModelTriage | None, choice: Choice | None) -> ModelTriage | None:
    """The decided level and its probabilities win over the text: a cut-short JSON still yields the decision."""
    if choice is None or choice.chosen is None:
        return parsed
    if parsed is None:
        parsed = ModelTriage(level=choice.chosen)
    return parsed.model_copy(update={"level": TriageLevel(choice.chosen), "probabilities": choice.probabilities})


def _gets_badge(ctx: TurnContext) -> bool:
    """A personal badge only for a patient's own situation: symptoms told, or a rule or care floor fired (an
    information question gets the general "when to get help" content instead). One rule for ``_decide`` and for
    whether a turn queues for the model."""
    return ctx.personal or bool(ctx.screen.hits) or bool(ctx.floors)


def _sources(hits: list[Hit]) -> list[Source]:
    return [
        Source(
            n=i + 1,
            title=h.metadata.get("title", ""),
            url=h.metadata.get("url", ""),
            section=h.metadata.get("section", ""),
            score=h.score,
            file=h.metadata.get("file", ""),
            topic_id=h.metadata.get("topic_id", ""),
            chunk_id=h.id,
        )
        for i, h in enumerate(hits)
    ]


def _pinned_first(sources: list[Source], pinned: list[int], only: bool = False) -> list[Source]:
    """``sources`` renumbered with the ``pinned`` ones (retrieved numbers) first as [1..p], then the rest unless
    ``only``: the order the badge's citations promised."""
    by_n = {s.n: s for s in sources}
    order = [*(n for n in pinned if n in by_n), *([] if only else (s.n for s in sources if s.n not in pinned))]
    return [by_n[n].model_copy(update={"n": i + 1}) for i, n in enumerate(order)]


def _keep_valid_citations(text: str, n_sources: int) -> str:
    """Drop citation markers that point at no listed source, so every [n] the patient sees resolves."""
    return _CITATION.sub(lambda m: m.group(0) if 1 <= int(m.group(1)) <= n_sources else "", text)

"""Load test of the whole stack over HTTP: K simulated patients talk to ``python -m chatbot serve`` at once.

Each patient holds a short scripted conversation (at most 3 turns) mixing three kinds of turn: an emergency
(crushing chest pain spreading to the arm: the deterministic red-flag screen escalates it before any model work),
an intake turn (a vague symptom: the assistant asks follow-up questions) and a knowledge question. Scripts are
rotated, so every kind is met first, second and third. Every patient's first message carries a made-up name that
nobody else uses; the session-isolation check fails when any answer holds another patient's name.

Each mode starts its own services on free loopback ports (nothing listens elsewhere; the HTTP client ignores proxy
variables) and stops them afterwards:

  inprocess          serve with the profile's settings (the model inside the serving process)
  llm-server-K       `python -m chatbot llm-server --parallel K`, serve pointed at it (CHATBOT__LLM__BACKEND=openai)
  chroma-server      a Chroma server (chatbot/chroma_server.py), the index ingested into it with
                     `python -m chatbot ingest`, serve on CHATBOT__VECTOR_STORE__BACKEND=chroma-http
  A+B                both, e.g. llm-server-2+chroma-server (one Chroma server is shared by every mode of a run)

Turns are streamed: ``--api chat`` uses ``POST /v1/chat`` (server-sent events; the conversation is kept by the
serving process under its session_id), ``--api openai`` ``POST /v1/chat/completions`` with ``stream: true`` (the
client resends the history: stateless). Figures per mode: p50/p95 seconds (nearest rank; with few turns p95 is the
slowest) to the escalation event (emergency turns), to the first answer token (turns the model wrote), to the whole
turn; turns per minute; error rate; emergency turns escalated; isolation. ``--url`` drives an already running
server (for example the load balancer of deploy/compose.yaml, published on 127.0.0.1) instead of starting one.

All simulated patients share one client address, so the serve started here gets a per-client concurrency and rate
limit that admit them (CHATBOT__SERVER__MAX_CONCURRENT_PER_CLIENT, CHATBOT__SERVER__RATE_LIMIT); a 429 still counts
as an error. Bounded: at most 16 patients, 3 turns each, and --max-seconds for the whole run, service starts
included (a turn still running at the deadline is cut and counted as an error).

llama.cpp's threads: with as many threads as cores and another job on the machine, decoding collapses (measured on
a busy 2-core machine, SmolLM2: 13-20 ms a token with 1 thread, 0.06-1.8 s with 2, in-process and llm-server alike);
--llm-threads sets CHATBOT__LLM__N_THREADS for every service started here.

Usage: python bench/load.py [--mode inprocess] [--mode llm-server-2] [--patients 2] [--turns 2] [--profile test]
                            [--api chat|openai] [--llm-threads N] [--max-seconds 600] [--out load.json]
                            [--ingest PATH] [--url http://127.0.0.1:8080 [--api-key KEY]]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import chatbot  # noqa: E402,F401  (privacy environment first)
from chatbot.chroma_server import HOST, LocalChromaServer, free_port  # noqa: E402

MAX_PATIENTS = 16
MAX_SECONDS = 3600
KINDS = ("emergency", "intake", "knowledge")
MAX_TURNS = len(KINDS)
# Several wordings per kind, so concurrent patients do not send identical prompts (a shared KV cache would flatter).
# The knowledge questions are ones the symptom detector reads as questions even after "My name is ...": a question
# about a condition right after "My ..." is read as a symptom report and gets intake questions instead.
MESSAGES: dict[str, tuple[str, ...]] = {
    "emergency": (
        "I have crushing chest pain spreading to my left arm and I am sweating.",
        "Crushing pain in my chest going into my jaw and left arm, it started 20 minutes ago.",
        "My chest feels crushed and the pain is spreading down my arm, I feel sick and sweaty.",
    ),
    "intake": (
        "I have been feeling a bit off and tired lately.",
        "My stomach has been hurting on and off.",
        "I keep getting headaches.",
    ),
    "knowledge": (
        "How long does a common cold usually last?",
        "Is it safe to take paracetamol and ibuprofen together?",
        "What are the warning signs of dehydration?",
    ),
}
NO_MODEL_TEXT = {"intake", "refusal"}  # answer kinds the model does not write: no first token to time
LEAVE_OUT_ENV = ("CHATBOT__LLM__BACKEND", "CHATBOT__LLM__BASE_URL", "CHATBOT__VECTOR_STORE__")
_MODE = re.compile(r"^(inprocess|chroma-server|llm-server-([1-9][0-9]?))$")


# ---- the simulated patients ---------------------------------------------------------------------------------------
@dataclass
class Patient:
    """One simulated patient: its script and the name no other patient uses."""
    index: int
    token: str  # a made-up name in the first message, for the isolation check
    script: list[tuple[str, str]]  # (kind, message)


def nonsense_names(n: int, seed: int) -> list[str]:
    """Distinct pronounceable non-words of equal length (so none is inside another), e.g. 'Zubavoqex'."""
    rng = random.Random(seed)
    names: list[str] = []
    while len(names) < n:
        name = "".join(rng.choice("bdfgkmpqvz") + rng.choice("aeiou") for _ in range(4)) + "x"
        if name.capitalize() not in names:
            names.append(name.capitalize())
    return names


def make_patients(n: int, turns: int, seed: int = 13) -> list[Patient]:
    """Patient i's script is the kinds rotated by i, cut to ``turns``; its first message introduces its name."""
    patients = []
    for i, name in enumerate(nonsense_names(n, seed)):
        kinds = [KINDS[(i + t) % len(KINDS)] for t in range(turns)]
        script = [(kind, MESSAGES[kind][i % len(MESSAGES[kind])]) for kind in kinds]
        script[0] = (script[0][0], f"My name is {name}. {script[0][1]}")
        patients.append(Patient(i, name, script))
    return patients


# ---- one streamed turn ---------------------------------------------------------------------------------------------
@dataclass
class TurnResult:
    """One turn's figures as written to the JSON (seconds from the moment the request was sent)."""
    patient: int
    turn: int
    kind: str
    api: str
    answer_kind: str | None = None
    level: str | None = None
    escalated: bool = False  # an escalation event arrived and the turn ended at emergency level
    escalation_s: float | None = None  # request sent -> escalation event (the banner)
    level_s: float | None = None  # request sent -> first event whose payload names the level
    first_token_s: float | None = None  # request sent -> first token of text the model wrote
    turn_s: float | None = None  # request sent -> stream finished
    error: str | None = None
    leaked: list[str] = field(default_factory=list)  # other patients' names found in this turn's stream
    text: str = field(default="", repr=False)  # everything received (kept for the isolation check, not written)


@dataclass
class Stream:
    """What one response stream delivered, with the arrival time of each step."""

    started: float
    escalation_s: float | None = None
    level_s: float | None = None
    first_token_s: float | None = None
    contents: list[tuple[float, str]] = field(default_factory=list)  # openai: content chunks as they came
    answer: dict[str, Any] | None = None
    error: str | None = None
    raw: list[str] = field(default_factory=list)

    def since(self) -> float:
        """Seconds since the request was sent: every step is timed from there."""
        return time.perf_counter() - self.started


async def sse_events(response: httpx.Response) -> AsyncIterator[tuple[str, str]]:
    """(event name, data) per server-sent event; comments (pings) skipped, multi-line data joined."""
    name, data = "message", []
    async for line in response.aiter_lines():
        if not line:
            if data:
                yield name, "\n".join(data)
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" "))
    if data:
        yield name, "\n".join(data)


def on_chat_event(stream: Stream, name: str, data: str) -> None:
    """``/v1/chat`` events: escalation (text, level and language), triage (the level), token, answer, error."""
    if name == "escalation" and stream.escalation_s is None:
        stream.escalation_s = stream.since()
    elif name == "triage" and stream.level_s is None:
        stream.level_s = stream.since()
    elif name == "token" and stream.first_token_s is None:
        stream.first_token_s = stream.since()
    elif name == "answer":
        stream.answer = json.loads(data)
        stream.level_s = stream.since() if stream.level_s is None else stream.level_s
    elif name == "error":
        stream.error = f"error event: {data[:200]}"


def on_openai_event(stream: Stream, name: str, data: str) -> None:
    """``chat.completion.chunk`` payloads: content deltas, then the last chunk carrying ``health_answer``."""
    if data == "[DONE]":
        return
    payload = json.loads(data)
    if "error" in payload:
        stream.error = f"error chunk: {json.dumps(payload['error'])[:200]}"
        return
    content = (payload.get("choices") or [{}])[0].get("delta", {}).get("content")
    if content:
        stream.contents.append((stream.since(), content))
    if "health_answer" in payload:
        stream.answer = payload["health_answer"]
        stream.level_s = stream.since()


def settle_openai(stream: Stream) -> None:
    """The escalation is the first content chunk when the answer has one; the model's text starts after it."""
    contents = list(stream.contents)
    escalation = (stream.answer or {}).get("escalation")
    if contents and escalation and contents[0][1].startswith(escalation):
        stream.escalation_s = contents.pop(0)[0]
    if contents:
        stream.first_token_s = contents[0][0]


async def post_stream(client: httpx.AsyncClient, path: str, body: dict[str, Any], api: str) -> Stream:
    """Send one streamed turn and read it to the end, timing each step from the moment the request is sent."""
    stream = Stream(time.perf_counter())
    handle = on_chat_event if api == "chat" else on_openai_event
    async with client.stream("POST", path, json=body) as response:
        if response.status_code != 200:
            text = (await response.aread()).decode("utf-8", "replace")
            stream.error = f"HTTP {response.status_code}: {text[:200]}"
            return stream
        async for name, data in sse_events(response):
            stream.raw.append(data)
            handle(stream, name, data)
    if api == "openai":
        settle_openai(stream)
    if stream.answer is None and stream.error is None:
        stream.error = "the stream ended without an answer"
    return stream


def turn_result(stream: Stream, patient: int, turn: int, kind: str, api: str) -> TurnResult:
    """Reduce a stream to the figures; an emergency counts as escalated only with the banner and the level."""
    answer = stream.answer or {}
    level = (answer.get("triage") or {}).get("level")
    kind_of_answer = answer.get("kind")
    first = None if kind_of_answer in NO_MODEL_TEXT else stream.first_token_s
    return TurnResult(patient, turn, kind, api, kind_of_answer, level,
                      escalated=stream.escalation_s is not None and level == "emergency",
                      escalation_s=stream.escalation_s, level_s=stream.level_s, first_token_s=first,
                      turn_s=stream.since(), error=stream.error, text="\n".join(stream.raw))


# ---- a conversation ------------------------------------------------------------------------------------------------
class Conversation:
    """One patient's side of the conversation: its session id (``/v1/chat``) or its whole history (OpenAI)."""

    def __init__(self, api: str) -> None:
        self.api = api
        self.session_id: str | None = None
        self.history: list[dict[str, str]] = []

    def request(self, message: str) -> tuple[str, dict[str, Any]]:
        """The route and body of the next turn."""
        if self.api == "chat":
            body: dict[str, Any] = {"message": message, "stream": True}
            if self.session_id:
                body["session_id"] = self.session_id
            return "/v1/chat", body
        self.history.append({"role": "user", "content": message})
        return "/v1/chat/completions", {"messages": list(self.history), "stream": True}

    def remember(self, stream: Stream) -> None:
        """Continue where the server left off: its session id, or what the client was shown (as OpenAI clients do)."""
        if self.api == "chat":
            self.session_id = (stream.answer or {}).get("session_id") or self.session_id
        else:
            self.history.append({"role": "assistant", "content": "".join(text for _, text in stream.contents)})


async def run_patient(
    base_url: str, patient: Patient, api: str, deadline: float, api_key: str | None
) -> list[TurnResult]:
    """The patient's turns in order (a conversation waits for each answer); cut at the deadline."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    results: list[TurnResult] = []
    conversation = Conversation(api)
    # one client per patient: its own connections and cookie jar, as separate browsers or apps would have
    async with httpx.AsyncClient(base_url=base_url, headers=headers, trust_env=False, timeout=None) as client:
        for turn, (kind, message) in enumerate(patient.script):
            left = deadline - time.monotonic()
            path, body = conversation.request(message)
            try:
                if left <= 0:
                    raise TimeoutError
                stream = await asyncio.wait_for(post_stream(client, path, body, api), timeout=left)
            except TimeoutError:
                results.append(TurnResult(patient.index, turn, kind, api, error="deadline reached"))
                continue
            except (httpx.HTTPError, ValueError) as exc:
                results.append(TurnResult(patient.index, turn, kind, api, error=f"{type(exc).__name__}: {exc}"))
                continue
            conversation.remember(stream)
            results.append(turn_result(stream, patient.index, turn, kind, api))
    return results


def check_isolation(patients: Sequence[Patient], results: Sequence[TurnResult]) -> list[str]:
    """Mark each turn that received another patient's name; the problems, one line each."""
    names = {p.index: p.token for p in patients}
    problems = []
    for result in results:
        text = result.text.lower()
        result.leaked = [name for i, name in names.items() if i != result.patient and name.lower() in text]
        if result.leaked:
            problems.append(f"patient {result.patient} turn {result.turn} received {', '.join(result.leaked)}")
    return problems


async def drive(base_url: str, patients: Sequence[Patient], api: str, deadline: float,
                api_key: str | None = None) -> tuple[list[TurnResult], float]:
    """All patients at once; (every turn's result, wall seconds of the load phase)."""
    started = time.perf_counter()
    batches = await asyncio.gather(*(run_patient(base_url, p, api, deadline, api_key) for p in patients))
    return [r for batch in batches for r in batch], time.perf_counter() - started


# ---- figures -------------------------------------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (an observed value; None when there is none)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return round(ordered[int(rank) - 1], 3)


def spread(values: Sequence[float | None]) -> dict[str, Any]:
    """n, p50, p95 of the turns a figure applies to (None: not applicable to that turn)."""
    present = [v for v in values if v is not None]
    return {"n": len(present), "p50": percentile(present, 50), "p95": percentile(present, 95)}


def summarize(results: Sequence[TurnResult], wall_s: float, isolation: list[str]) -> dict[str, Any]:
    """The per-mode figures: latency spreads over the turns they apply to, throughput, errors, escalation, isolation."""
    ok = [r for r in results if r.error is None]
    emergencies = [r for r in results if r.kind == "emergency"]
    return {
        "turns": len(results),
        "errors": len(results) - len(ok),
        "error_rate": round((len(results) - len(ok)) / len(results), 4) if results else None,
        "escalation_s": spread([r.escalation_s for r in ok if r.kind == "emergency"]),
        "level_s": spread([r.level_s for r in ok if r.kind == "emergency"]),
        "first_token_s": spread([r.first_token_s for r in ok]),
        "turn_s": spread([r.turn_s for r in ok]),
        "turns_per_min": round(len(ok) / wall_s * 60, 2) if wall_s > 0 else None,
        "wall_s": round(wall_s, 2),
        "emergency_turns": len(emergencies),
        "emergency_escalated": sum(r.escalated for r in emergencies),
        "isolation_ok": not isolation,
        "isolation_problems": isolation,
        "error_samples": sorted({r.error for r in results if r.error})[:5],
    }


# ---- services ------------------------------------------------------------------------------------------------------
@dataclass
class Plan:
    """What one run does: the settings profile, the load, the shared deadline and where logs go."""

    profile: str | None
    patients: int
    turns: int
    api: str
    deadline: float  # time.monotonic() by which everything is finished
    workdir: Path
    ingest_paths: list[Path] = field(default_factory=list)  # chroma-server: what to ingest (empty: ingest.paths)
    extra_env: dict[str, str] = field(default_factory=dict)
    api_key: str | None = None

    def left(self) -> float:
        """Seconds to the deadline: every wait and request is bounded by it."""
        return self.deadline - time.monotonic()


@dataclass
class ModeSpec:
    """What a mode starts: an llm-server with K slots or none, and the Chroma server or not."""
    name: str
    llm_parallel: int | None  # None: the model in the serving process
    chroma: bool


def parse_mode(name: str) -> ModeSpec:
    """'inprocess', 'llm-server-K', 'chroma-server', or parts joined by '+' (ValueError names the problem)."""
    parallel, chroma = None, False
    for part in name.split("+"):
        match = _MODE.match(part)
        if not match:
            raise ValueError(f"unknown mode part {part!r}: use inprocess, llm-server-K (K 1-99) or chroma-server")
        if match.group(2):
            parallel = int(match.group(2))
        chroma = chroma or part == "chroma-server"
    return ModeSpec(name, parallel, chroma)


def base_env(plan: Plan) -> dict[str, str]:
    """The children's environment: ours without backend choices a mode makes itself, plus limits for K patients."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(LEAVE_OUT_ENV)}
    env.update(NO_COLOR="1", CHATBOT__SERVER__MAX_CONCURRENT_PER_CLIENT=str(max(4, plan.patients)),
               CHATBOT__SERVER__RATE_LIMIT="1000/minute")
    env.update(plan.extra_env)
    return env


def chatbot_command(plan: Plan, *args: str) -> list[str]:
    """``python -m chatbot`` with this interpreter (the same venv) and the run's profile."""
    profile = ["--profile", plan.profile] if plan.profile else []
    return [sys.executable, "-m", "chatbot", *profile, *args]


def log_tail(path: Path, chars: int = 1500) -> str:
    """The end of a service's log, for an error that says why it did not start."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-chars:]
    except OSError:
        return ""


def start_process(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """A service in the background, its output in a log file (a pipe nobody reads could fill and block it)."""
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def stop_process(proc: subprocess.Popen) -> None:
    """SIGTERM (both servers stop cleanly on it), then a kill if it hangs."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)


def wait_ready(url: str, proc: subprocess.Popen, plan: Plan, log: Path, what: str) -> None:
    """Poll a health URL until it answers 200; RuntimeError with the log's tail when the process dies or time ends."""
    while plan.left() > 0:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{log_tail(log)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2, trust_env=False).status_code == 200:
                return
        time.sleep(0.5)
    raise RuntimeError(f"{what} did not answer {url} before the deadline:\n{log_tail(log)}")


@contextlib.contextmanager
def running(command: list[str], env: dict[str, str], health: str, plan: Plan, name: str) -> Iterator[None]:
    """A child service for the duration of a block, stopped however the block ends."""
    log = plan.workdir / f"{name}.log"
    proc = start_process(command, env, log)
    try:
        wait_ready(health, proc, plan, log, name)
        yield
    finally:
        stop_process(proc)


def ingest_into_chroma(plan: Plan, env: dict[str, str]) -> None:
    """``python -m chatbot ingest`` through chroma-http, as a separate job would fill a shared index."""
    paths = [str(p) for p in plan.ingest_paths]
    log = plan.workdir / "ingest.log"
    with log.open("wb") as out:
        done = subprocess.run(chatbot_command(plan, "ingest", *paths), cwd=ROOT, env=env, stdout=out,
                              stderr=subprocess.STDOUT, timeout=max(1.0, plan.left()))
    if done.returncode != 0:
        raise RuntimeError(f"ingest into the Chroma server failed ({done.returncode}):\n{log_tail(log)}")


class SharedChroma:
    """One Chroma server per run, started and filled when the first mode needs it."""

    def __init__(self, plan: Plan, stack: contextlib.ExitStack) -> None:
        self.plan, self.stack = plan, stack
        self.server: LocalChromaServer | None = None
        self.failure: RuntimeError | None = None  # a failed start or ingest is not retried by later modes

    def env(self) -> dict[str, str]:
        """The variables that point serve at the server, starting and filling it on first use."""
        if self.failure is not None:
            raise self.failure
        if self.server is None:
            try:
                self._start()
            except RuntimeError as exc:
                self.failure = exc
                raise
        return self._env()

    def _start(self) -> None:
        server = LocalChromaServer(self.plan.workdir / "chroma", start_timeout_s=max(1.0, min(60, self.plan.left())))
        self.server = self.stack.enter_context(server)
        ingest_into_chroma(self.plan, {**base_env(self.plan), **self._env()})

    def _env(self) -> dict[str, str]:
        assert self.server is not None
        return {"CHATBOT__VECTOR_STORE__BACKEND": "chroma-http", "CHATBOT__VECTOR_STORE__HOST": HOST,
                "CHATBOT__VECTOR_STORE__PORT": str(self.server.port)}


def ingest_env(plan: Plan) -> dict[str, str]:
    """Serve must agree with what was ingested (it would otherwise index ``ingest.paths`` into an empty store)."""
    if not plan.ingest_paths:
        return {}
    return {"CHATBOT__INGEST__PATHS": json.dumps([str(p) for p in plan.ingest_paths])}


def run_mode(spec: ModeSpec, plan: Plan, chroma: SharedChroma) -> dict[str, Any]:
    """Start the mode's services, drive the patients through serve, stop the services; the mode's figures."""
    env = base_env(plan)
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if spec.chroma:
            env.update(chroma.env())
            env.update(ingest_env(plan))
        if spec.llm_parallel:
            port = free_port()
            command = chatbot_command(plan, "llm-server", "--port", str(port), "--parallel", str(spec.llm_parallel))
            stack.enter_context(running(command, env, f"http://{HOST}:{port}/health", plan, f"{spec.name}-llm"))
            env.update(CHATBOT__LLM__BACKEND="openai", CHATBOT__LLM__BASE_URL=f"http://{HOST}:{port}/v1")
        port = free_port()
        url = f"http://{HOST}:{port}"
        stack.enter_context(running(chatbot_command(plan, "serve", "--port", str(port)), env, f"{url}/healthz",
                                    plan, f"{spec.name}-serve"))
        startup_s = time.perf_counter() - started
        return drive_and_summarize(spec.name, url, plan, startup_s)


def drive_and_summarize(name: str, url: str, plan: Plan, startup_s: float | None) -> dict[str, Any]:
    """Drive the patients against a running server and reduce the turns to one mode's row."""
    patients = make_patients(plan.patients, plan.turns)
    results, wall_s = asyncio.run(drive(url, patients, plan.api, plan.deadline, plan.api_key))
    summary = summarize(results, wall_s, check_isolation(patients, results))
    turns = [{k: v for k, v in asdict(r).items() if k != "text"} for r in results]
    return {"mode": name, "api": plan.api, "patients": plan.patients, "turns_each": plan.turns,
            "startup_s": None if startup_s is None else round(startup_s, 1), **summary, "turn_records": turns}


def run(modes: Sequence[str], plan: Plan) -> list[dict[str, Any]]:
    """Every mode in turn; a mode whose services fail to start is reported with its error, and the run goes on."""
    specs = [parse_mode(m) for m in modes]
    rows = []
    with contextlib.ExitStack() as stack:
        chroma = SharedChroma(plan, stack)
        for spec in specs:
            try:
                rows.append(run_mode(spec, plan, chroma))
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
                rows.append({"mode": spec.name, "api": plan.api, "failed": str(exc)})
    return rows


# ---- output and command line ---------------------------------------------------------------------------------------
def _pair(figures: dict[str, Any]) -> str:
    """'p50/p95' for the table."""
    if not figures or figures.get("p50") is None:
        return "-"
    return f"{figures['p50']:.2f}/{figures['p95']:.2f}"


def table(rows: Sequence[dict[str, Any]]) -> str:
    """A fixed-width table: one line per mode (seconds as p50/p95)."""
    head = (f"{'mode':28} {'turns':>5} {'err%':>5} {'escalated':>9} {'escalation s':>13} {'1st token s':>13} "
            f"{'turn s':>13} {'turns/min':>9}  isolation")
    lines = [head, "-" * len(head)]
    for row in rows:
        if "failed" in row:
            lines.append(f"{row['mode']:28} did not run: {row['failed'].splitlines()[0]}")
            continue
        err = "-" if row["error_rate"] is None else f"{row['error_rate'] * 100:.0f}"
        esc = f"{row['emergency_escalated']}/{row['emergency_turns']}"
        lines.append(f"{row['mode']:28} {row['turns']:>5} {err:>5} {esc:>9} {_pair(row['escalation_s']):>13} "
                     f"{_pair(row['first_token_s']):>13} {_pair(row['turn_s']):>13} "
                     f"{row['turns_per_min'] or 0:>9.2f}  {'ok' if row['isolation_ok'] else 'LEAK'}")
    return "\n".join(lines)


def loopback_url(url: str) -> str:
    """Only loopback targets: this tool must never load a machine it was not started on."""
    host = urlparse(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise argparse.ArgumentTypeError(f"{url!r} is not a loopback address (127.0.0.1, ::1 or localhost)")
    return url.rstrip("/")


def bounded(low: int, high: int):
    """An argparse type for an int within hard caps."""
    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return value
    return parse


def build_parser() -> argparse.ArgumentParser:
    """The command line; every count and the run time have hard caps."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", action="append", help="inprocess (default), llm-server-K, chroma-server, or "
                        "parts joined by '+'; repeat or comma-separate for several")
    parser.add_argument("--patients", type=bounded(1, MAX_PATIENTS), default=2, help=f"at once (1-{MAX_PATIENTS})")
    parser.add_argument("--turns", type=bounded(1, MAX_TURNS), default=2, help=f"per patient (1-{MAX_TURNS})")
    parser.add_argument("--profile", help="settings profile for every service (test: the SmolLM2 fixture)")
    parser.add_argument("--api", choices=["chat", "openai"], default="chat",
                        help="chat: POST /v1/chat (default); openai: POST /v1/chat/completions")
    parser.add_argument("--max-seconds", type=bounded(10, MAX_SECONDS), default=600,
                        help="hard limit for the whole run, service starts included (default 600)")
    parser.add_argument("--ingest", type=Path, action="append", default=[],
                        help="chroma-server: files or folders to ingest (default: the profile's ingest.paths)")
    parser.add_argument("--llm-threads", type=bounded(1, 256), help="CHATBOT__LLM__N_THREADS for every service "
                        "(default: the settings'; on a busy shared CPU fewer threads than cores can be far faster)")
    parser.add_argument("--url", type=loopback_url, help="drive this running server (loopback) instead of starting one")
    parser.add_argument("--api-key", default=os.environ.get("CHATBOT__SERVER__API_KEY"),
                        help="bearer key for --url (default: $CHATBOT__SERVER__API_KEY)")
    parser.add_argument("--out", type=Path, help="write the figures and every turn's record as JSON")
    return parser


def report(rows: list[dict[str, Any]], args: argparse.Namespace, started: float) -> dict[str, Any]:
    """The JSON of --out: the run's settings and machine load beside each mode's figures and turns."""
    profile = None if args.url else args.profile or os.environ.get("CHATBOT_PROFILE") or "cpu"
    return {"started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)), "profile": profile,
            "url": args.url, "patients": args.patients, "turns": args.turns, "api": args.api,
            "llm_threads": args.llm_threads, "cpu_count": os.cpu_count(),
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()], "modes": rows}


def stop_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so the services this run started are stopped too, never left running."""
    def interrupt(*_: Any) -> None:
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, interrupt)


def measure(args: argparse.Namespace, modes: list[str]) -> list[dict[str, Any]]:
    """Run every mode (or the --url target) with its logs in a folder removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="chatbot-load-") as workdir:
        threads = {"CHATBOT__LLM__N_THREADS": str(args.llm_threads)} if args.llm_threads else {}
        plan = Plan(args.profile, args.patients, args.turns, args.api, time.monotonic() + args.max_seconds,
                    Path(workdir), [p.resolve() for p in args.ingest], threads, args.api_key)
        return [drive_and_summarize("external", args.url, plan, None)] if args.url else run(modes, plan)


def main(argv: Sequence[str] | None = None) -> int:
    """Exit 0 when every mode ran without errors and kept its patients apart, else 1 (130 when stopped)."""
    args = build_parser().parse_args(argv)
    stop_on_sigterm()
    modes = [m.strip() for spec in (args.mode or ["inprocess"]) for m in spec.split(",") if m.strip()]
    for mode in modes:
        try:
            parse_mode(mode)
        except ValueError as exc:
            build_parser().error(str(exc))
    started = time.time()
    where = (f"the server at {args.url}" if args.url
             else f"profile {args.profile or 'default'}, modes {', '.join(modes)}")
    print(f"{args.patients} patients x {args.turns} turns, api {args.api}, {where}; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    try:
        rows = measure(args, modes)
    except KeyboardInterrupt:
        print("stopped; the services this run started are stopped too", file=sys.stderr)
        return 130
    print(table(rows))
    for row in rows:
        for line in row.get("isolation_problems", []) + row.get("error_samples", []):
            print(f"  {row['mode']}: {line}")
    if args.out:
        args.out.write_text(json.dumps(report(rows, args, started), indent=2, ensure_ascii=False), encoding="utf-8")
        print(f"wrote {args.out}")
    return 0 if all("failed" not in r and not r["errors"] and r["isolation_ok"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())

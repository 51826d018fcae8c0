"""Continuous batching in `python -m chatbot llm-server`: K chat requests at once vs the same K one after another.

Starts the server (llama.cpp's, via xllamacpp) on a free loopback port with --parallel K on the profile's model
(the default: Qwen2.5-Coder 1.5B), sends one warm-up request, then the same K chat requests in sequence and all at
once, and prints both wall times and their ratio. Every request sends ``cache_prompt: false``, so neither run
reuses a prompt the other left in a slot, and ``ignore_eos``, so both runs generate the same tokens: the figure is
batching alone. ``--prompt system`` (default) sends the assistant's system prompt (~700 tokens, as every turn does;
prompt processing dominates on a CPU); ``--prompt short`` only the question, so generation dominates. Loopback only;
bounded by --max-tokens and --timeout.

--levels N also compares the triage level probabilities of N fixed messages read in-process (llama-cpp-python's
logits processor) and through the server (logprobs at the level token), on identical prompts.

Usage: python bench/llm_server.py [--profile cpu] [--parallel 4] [--max-tokens 64] [--prompt system|short]
                                  [--levels 0] [--timeout 900]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

import chatbot  # noqa: F401  (privacy guards)
from chatbot.config import PROJECT_ROOT, load_settings
from chatbot.generation import Choice, PromptLibrary, make_llm
from chatbot.generation.openai_backend import OpenAIChatLLM
from chatbot.safety import LEVEL_TRIGGER, LEVELS, MODEL_TRIAGE_SCHEMA, decide_level

QUESTIONS = [
    "What can I do at home for a sore throat, and when should I see a doctor?",
    "How long does a common cold usually last?",
    "Is it safe to take ibuprofen for a headache every day?",
    "What are the warning signs of dehydration in an adult?",
    "How can I tell a migraine from a tension headache?",
    "What helps with constipation that has lasted a week?",
    "When does a cough need a doctor?",
    "How do I treat a mild sunburn?",
]
VIGNETTES = [
    "I have had a mild cough and a runny nose since yesterday",
    "crushing chest pain spreading to my left arm for 20 minutes",
    "my 3 year old has a fever of 39.5 and is very sleepy",
    "a small cut on my finger that stopped bleeding",
    "sudden worst headache of my life and a stiff neck",
    "burning when I pee for two days, no fever",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(profile: str, port: int, parallel: int, timeout: float) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "chatbot", "--profile", profile, "llm-server", "--port", str(port),
           "--parallel", str(parallel)]
    proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"llm-server exited with {proc.returncode}; run `{' '.join(cmd[1:])}` to see why")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise SystemExit(f"llm-server did not start within {timeout:.0f} s")


def chat(client: httpx.Client, system: str, question: str, max_tokens: int) -> tuple[float, int]:
    """One non-streamed request; (seconds, completion tokens)."""
    messages = [{"role": "system", "content": system}] if system else []
    body = {"messages": [*messages, {"role": "user", "content": question}], "max_tokens": max_tokens,
            "temperature": 0.0, "seed": 42, "cache_prompt": False, "ignore_eos": True}
    started = time.perf_counter()
    response = client.post("/v1/chat/completions", json=body)
    response.raise_for_status()
    return time.perf_counter() - started, int(response.json()["usage"]["completion_tokens"])


def bench_batching(base: str, system: str, k: int, max_tokens: int, timeout: float) -> dict:
    questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(k)]
    with httpx.Client(base_url=base, timeout=timeout, trust_env=False) as client:
        chat(client, system, "hi", 4)  # warm-up: first-use costs land outside both timings
        started = time.perf_counter()
        sequential = [chat(client, system, q, max_tokens) for q in questions]
        seq_s = time.perf_counter() - started
        started = time.perf_counter()
        with ThreadPoolExecutor(k) as pool:
            concurrent = list(pool.map(lambda q: chat(client, system, q, max_tokens), questions))
        con_s = time.perf_counter() - started
    return {
        "sequential_s": seq_s, "concurrent_s": con_s, "speed_up": seq_s / con_s,
        "tokens_sequential": sum(t for _, t in sequential), "tokens_concurrent": sum(t for _, t in concurrent),
        "slowest_concurrent_request_s": max(s for s, _ in concurrent),
    }


def compare_levels(settings, base_url: str, prompts: PromptLibrary, n: int) -> list[tuple[str, dict, dict]]:
    """The same triage prompt through both backends; each returns its level probabilities."""
    local = make_llm(settings)
    remote = OpenAIChatLLM(base_url, settings.llm.api_key, settings.llm.model, settings.llm.n_ctx,
                           settings.llm.temperature, settings.llm.seed)
    request = prompts.render("triage", passages=False, passage_numbers="")
    rows = []
    for message in VIGNETTES[:n]:
        messages = [{"role": "system", "content": prompts.render("system")},
                    {"role": "user", "content": message + "\n\n" + request}]
        found = []
        for llm in (local, remote):
            choice = Choice(LEVEL_TRIGGER, LEVELS, lambda p: decide_level(p, settings.triage.thresholds).value)
            llm.complete_json(messages, MODEL_TRIAGE_SCHEMA, 16, None, choice)
            found.append(choice.probabilities)
        rows.append((message, found[0], found[1]))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu", help="settings profile whose model is served (default cpu)")
    parser.add_argument("--parallel", type=int, default=4, help="slots, and requests sent at once (default 4)")
    parser.add_argument("--max-tokens", type=int, default=64, help="tokens each request may generate (default 64)")
    parser.add_argument("--prompt", choices=["system", "short"], default="system",
                        help="system: the assistant's system prompt before each question (default); short: none")
    parser.add_argument("--levels", type=int, default=0, help=f"compare level probabilities on N (<= {len(VIGNETTES)}) "
                        "messages in-process vs through the server (default 0: skip)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds for the server start and each request")
    args = parser.parse_args(argv)
    settings = load_settings(args.profile)
    prompts = PromptLibrary(settings.prompts_dir)
    port = free_port()
    print(f"model {settings.llm.model}, {args.parallel} slots, {args.max_tokens} tokens a request, "
          f"{args.prompt} prompt; starting…", flush=True)
    proc = start_server(args.profile, port, args.parallel, args.timeout)
    try:
        base = f"http://127.0.0.1:{port}"
        system = prompts.render("system") if args.prompt == "system" else ""
        result = bench_batching(base, system, args.parallel, args.max_tokens, args.timeout)
        print(f"{args.parallel} requests in sequence: {result['sequential_s']:.1f} s "
              f"({result['tokens_sequential']} tokens generated)")
        print(f"{args.parallel} requests at once:     {result['concurrent_s']:.1f} s "
              f"({result['tokens_concurrent']} tokens; slowest request {result['slowest_concurrent_request_s']:.1f} s)")
        print(f"speed-up from continuous batching: {result['speed_up']:.2f}x")
        if args.levels:
            for message, local, served in compare_levels(settings, f"{base}/v1", prompts, args.levels):
                gap = max(abs(local.get(k, 0) - served.get(k, 0)) for k in LEVELS)
                decided = [decide_level(p, settings.triage.thresholds).value for p in (local, served)]
                print(f"levels  {message[:40]:40}  in-process {_fmt(local)}  server {_fmt(served)}  "
                      f"max gap {gap:.3f}  decided {decided[0]} / {decided[1]}")
    finally:
        proc.terminate()
        proc.wait(60)
    return 0


def _fmt(probs: dict[str, float]) -> str:
    return " ".join(f"{k[:4]}={probs.get(k, 0):.2f}" for k in LEVELS)


if __name__ == "__main__":
    raise SystemExit(main())

"""Latency of the browser chat and the HTTP API against the terminal path, on the same model and question.

Prints, in one run:
  1. time to first streamed token through the terminal path (``Engine.stream`` in-process, as the CLI does);
  2. the same in the browser: headless Chromium on the real ``serve`` process, from clicking Send to the first
     answer text appearing on the page (and to the finished answer with its badge);
  3. p50/p95 latency of ``POST /v1/chat`` with N concurrent sessions x M questions each (one model, one lock:
     the turns queue behind each other, which is what this measures).
Intake questions are switched off for both paths so every turn reaches the model.

Usage: python bench/web_latency.py [--profile cpu|test|fast|gpu] [--sessions 4] [--questions 2] [--json out.json]
                                  [--repeat N] [--screenshot page.png] [--skip-terminal] [--skip-browser]
                                  (--sessions 0: no API part)
The default profile runs the bundled 1.5B model (~40-60 s per answer on 2 CPU cores: the whole run takes ~10 min);
``--profile test`` uses the tiny SmolLM2 fixture (seconds). Needs /usr/bin/chromium for part 2.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("CHATBOT__CONVERSATION__INTAKE_ENABLED", "false")

import chatbot  # noqa: E402,F401  (privacy guards first)
from chatbot.config import PROJECT_ROOT, load_settings  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
QUESTION = "What can I do at home for a sore throat, and when should I see a doctor?"
# --repeat N asks the first N of these on both paths, each in a fresh conversation (different questions, so no turn
# reuses another's prompt from llama.cpp's KV cache beyond the shared system prefix, on either path).
TIMED_QUESTIONS = [
    QUESTION,
    "How can I tell a cold from the flu, and what helps me recover?",
    "What should I do about heartburn after meals?",
    "How do I look after a sprained ankle?",
    "What can help with hay fever symptoms?",
]
QUESTIONS = [
    ("How much sleep does an adult need, and what helps with falling asleep?", "What if I wake up at night?"),
    ("How do I treat a mild burn at home?", "When does a burn need a doctor?"),
    ("What are the warning signs of a stroke?", "What should I do while waiting for help?"),
    ("How can I ease a tension headache?", "How often can I take painkillers for it?"),
    ("What helps with constipation?", "When is constipation a reason to see a doctor?"),
    ("How long does a common cold last?", "What helps with a blocked nose?"),
]
FIRST_TEXT_JS = """() => {
  window.__first = null; window.__done = null;
  const root = document.querySelector('#phc-chat');
  const check = () => {
    const bots = root.querySelectorAll('[data-testid="bot"]');
    if (!bots.length || window.__t0 === undefined) return;
    const last = bots[bots.length - 1];
    const pending = last.querySelector('.phc-pending');
    const text = last.innerText.replace('▍', '').trim();
    if (window.__first === null && !pending && text.length > 0) window.__first = performance.now();
    if (window.__done === null && last.querySelector('.phc-badge') && !last.innerText.includes('▍'))
      window.__done = performance.now();
  };
  new MutationObserver(check).observe(root, {subtree: true, childList: true, characterData: true});
}"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def terminal_path(profile: str, questions: list[str]) -> dict:
    """What the CLI does: one Engine in-process, warmed like ``serve`` warms it, then streamed turns."""
    from chatbot.conversation import Engine, Session
    from chatbot.interfaces.server import warm_up

    engine = Engine(load_settings(profile))
    engine.ensure_index(progress=False)
    warm_up(engine)  # exactly what `serve` does before it accepts the first patient
    runs = []
    for question in questions:
        started = time.perf_counter()
        first = None
        answer = None
        for event in engine.stream(Session(), question):
            if event.type == "token" and first is None:
                first = time.perf_counter() - started
            if event.type == "answer":
                answer = event.answer
        runs.append({"first_token_s": first, "total_s": time.perf_counter() - started, "kind": answer.kind})
    del engine
    gc.collect()
    return _summary(runs)


def _summary(runs: list[dict]) -> dict:
    firsts = [r["first_token_s"] for r in runs if r["first_token_s"] is not None]
    return {
        "runs": runs,
        "first_token_median_s": statistics.median(firsts) if firsts else None,
        "total_median_s": statistics.median(r["total_s"] for r in runs),
    }


def _line(name: str, result: dict, extra: str = "") -> str:
    firsts = ", ".join(f"{r['first_token_s']:.2f}" for r in result["runs"] if r["first_token_s"] is not None)
    totals = ", ".join(f"{r['total_s']:.2f}" for r in result["runs"])
    return (f"{name:9} first token median {result['first_token_median_s']:.2f} s [{firsts}]   "
            f"full answer median {result['total_median_s']:.2f} s [{totals}]{extra}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(profile: str, log_path: Path) -> tuple[subprocess.Popen, str]:
    import httpx

    port = _free_port()
    log = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "chatbot", "--profile", profile, "serve", "--port", str(port)],
        cwd=PROJECT_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited:\n{log_path.read_text()[-2000:]}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(1)
    proc.kill()
    raise SystemExit("server did not become ready in 600 s")


def browser_path(url: str, questions: list[str], screenshot: Path | None) -> dict:
    from playwright.sync_api import sync_playwright

    runs = []
    outside: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 1400 if screenshot else 1000})
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(url) else None)
        page.goto(url + "/")
        page.wait_for_selector("#phc-input textarea")
        page.wait_for_function("() => document.querySelector('#phc-title')?.innerText.length > 0")
        for i, question in enumerate(questions):
            if i:  # a fresh conversation, as the terminal path uses a fresh session
                page.click("#phc-new")
                page.wait_for_function("""() => !document.querySelector('#phc-chat [data-testid="bot"]')""")
            page.fill("#phc-input textarea", question)
            page.evaluate(FIRST_TEXT_JS)
            page.evaluate("() => { window.__t0 = performance.now(); document.querySelector('#phc-send').click(); }")
            page.wait_for_function("() => window.__first !== null", timeout=900_000)
            page.wait_for_function("() => window.__done !== null", timeout=900_000)
            t0, first, done = page.evaluate("() => [window.__t0, window.__first, window.__done]")
            runs.append({"first_token_s": (first - t0) / 1000, "total_s": (done - t0) / 1000})
            if screenshot is not None and i == 0:
                _screenshot(page, screenshot)
        browser.close()
    return {**_summary(runs), "requests_outside": outside}


def _screenshot(page, path: Path) -> None:
    sources = page.locator("#phc-chat details.phc-sources summary")
    if sources.count():
        sources.last.click()
    page.evaluate(
        """() => { const u = document.querySelectorAll('#phc-chat [data-testid="user"]');
                   if (u.length) u[u.length - 1].scrollIntoView({block: 'start'}); window.scrollTo(0, 0); }"""
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)


def api_concurrency(url: str, sessions: int, questions: int) -> dict:
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def patient(i: int) -> None:
        sid = None  # the first question starts the conversation; the server names it (an unknown id is a 404)
        pair = QUESTIONS[i % len(QUESTIONS)]
        with httpx.Client(base_url=url, timeout=1800) as client:
            for q in range(questions):
                message = pair[q % 2] if q < 2 else f"{pair[1]} ({q})"
                started = time.perf_counter()
                response = client.post("/v1/chat", json={"message": message, **({"session_id": sid} if sid else {})})
                elapsed = time.perf_counter() - started
                with lock:
                    if response.status_code == 200:
                        latencies.append(elapsed)
                        sid = response.json().get("session_id") or sid
                    else:
                        errors.append(f"{response.status_code}: {response.text[:200]}")

    started = time.perf_counter()
    threads = [threading.Thread(target=patient, args=(i,)) for i in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return {
        "sessions": sessions,
        "questions_each": questions,
        "ok": len(latencies),
        "errors": errors,
        "p50_s": pct(latencies, 0.5) if latencies else None,
        "p95_s": pct(latencies, 0.95) if latencies else None,
        "mean_s": statistics.fmean(latencies) if latencies else None,
        "wall_s": wall,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu", help="settings profile (cpu = the bundled 1.5B model; test)")
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--questions", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--screenshot", type=Path, help="save the browser's finished answer here (PNG)")
    parser.add_argument("--skip-browser", action="store_true")
    parser.add_argument("--skip-terminal", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, choices=range(1, len(TIMED_QUESTIONS) + 1),
                        help="timed questions per path (different questions, fresh conversations; medians shown)")
    args = parser.parse_args()

    settings = load_settings(args.profile)
    print(f"profile {args.profile}: model {settings.llm.model}, max_tokens {settings.llm.max_tokens}, "
          f"cores {os.cpu_count()}; question: {QUESTION!r}", flush=True)
    results: dict = {"profile": args.profile, "model": settings.llm.model, "question": QUESTION}

    questions = TIMED_QUESTIONS[: args.repeat]
    if not args.skip_terminal:
        results["terminal"] = t = terminal_path(args.profile, questions)
        print(_line("terminal", t), flush=True)

    log_path = PROJECT_ROOT / "artifacts" / "bench-web-server.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    proc, url = start_server(args.profile, log_path)
    try:
        if not args.skip_browser and Path(CHROMIUM).exists():
            results["browser"] = b = browser_path(url, questions, args.screenshot)
            print(_line("browser", b, f"   (requests outside 127.0.0.1: {len(b['requests_outside'])})"), flush=True)
        elif not args.skip_browser:
            print(f"browser   skipped: {CHROMIUM} is absent", flush=True)
        if args.sessions < 1 or args.questions < 1:
            return 0
        results["api"] = a = api_concurrency(url, args.sessions, args.questions)
        if a["ok"]:
            print(f"POST /v1/chat, {a['sessions']} concurrent sessions x {a['questions_each']} questions: "
                  f"p50 {a['p50_s']:.2f} s  p95 {a['p95_s']:.2f} s  mean {a['mean_s']:.2f} s  "
                  f"wall {a['wall_s']:.1f} s  ok {a['ok']}  errors {len(a['errors'])}", flush=True)
        else:
            print(f"POST /v1/chat: every request failed: {a['errors'][:3]}", flush=True)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""How long the red-flag screen takes per message: p50 / p95 / max in milliseconds.

Runs the screen over every message in ``evals/data/safety_*.jsonl`` (benign, emergency and any other safety set:
a row's ``text``, or its ``messages`` screened as a conversation), then over one 2,000-word message. This is a
measurement to read, not a timed test: nothing fails when it is slow.

    python bench/screen_latency.py [--repeat 3] [--rulebook knowledge/red_flags.yaml]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from chatbot.safety.rulebook import DEFAULT_RULEBOOK_PATH, load_rulebook  # noqa: E402
from chatbot.safety.screen import RedFlagScreen  # noqa: E402

EVAL_DATA = ROOT / "evals" / "data"
_FILLER_TEXT = ("I have had a bit of a cough and a runny nose since the weekend and I am not sleeping well, my partner "
                "thinks it is just a cold but I wanted to ask whether I should see someone about it because work is "
                "busy and I do not want to take time off unless I really need to")
_FILLER = _FILLER_TEXT.split(" ")


def load_conversations() -> list[tuple[str, list[str]]]:
    """(source file, messages) for every row of every safety_*.jsonl file."""
    rows: list[tuple[str, list[str]]] = []
    for path in sorted(EVAL_DATA.glob("safety_*.jsonl")):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if not line.strip():
                    continue
                row = json.loads(line)
                messages = row.get("messages") or ([row["text"]] if row.get("text") else [])
                if messages:
                    rows.append((path.name, messages))
    return rows


def long_message(words: int = 2000, seed: int = 0) -> str:
    """A rambling benign message of ``words`` words, with one red flag near the end (the worst case: full scan)."""
    rng = random.Random(seed)
    body = [rng.choice(_FILLER) for _ in range(words - 12)]
    return " ".join(body) + " and now suddenly crushing chest pain and I am sweating"


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]

    return {"n": len(ordered), "p50": statistics.median(ordered), "p95": pick(0.95), "max": ordered[-1]}


def time_call(screen: RedFlagScreen, messages: list[str]) -> float:
    started = time.perf_counter()
    screen.screen(messages)
    return (time.perf_counter() - started) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="passes over the data (the first warms caches)")
    parser.add_argument("--rulebook", default=str(DEFAULT_RULEBOOK_PATH))
    args = parser.parse_args(argv)

    started = time.perf_counter()
    book = load_rulebook(args.rulebook)
    screen = RedFlagScreen(book)
    build_ms = (time.perf_counter() - started) * 1000
    conversations = load_conversations()
    if not conversations:
        print(f"no safety_*.jsonl rows under {EVAL_DATA}", file=sys.stderr)
        return 1

    per_file: dict[str, list[float]] = {}
    everything: list[float] = []
    for _ in range(max(1, args.repeat)):
        for name, messages in conversations:
            ms = time_call(screen, messages) / len(messages)  # per message in the conversation
            per_file.setdefault(name, []).append(ms)
            everything.append(ms)
    text = long_message()
    long_samples = [time_call(screen, [text]) for _ in range(max(5, args.repeat))]

    print(f"rulebook: {len(book.rules)} rules, {len(book.concepts)} concepts, loaded and compiled in {build_ms:.1f} ms")
    print(f"{'set':32} {'n':>6} {'p50 ms':>9} {'p95 ms':>9} {'max ms':>9}")
    rows = [(name, percentiles(samples)) for name, samples in sorted(per_file.items())]
    rows.append(("all safety messages", percentiles(everything)))
    rows.append((f"one {len(text.split())}-word message", percentiles(long_samples)))
    for name, stats in rows:
        print(f"{name:32} {stats['n']:>6} {stats['p50']:>9.3f} {stats['p95']:>9.3f} {stats['max']:>9.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

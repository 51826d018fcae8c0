"""How long the citation check takes per answer: p50 / p90 / max in milliseconds, with the real embedder.

Runs ``chatbot.generation.citations`` over every answer of ``evals/data/citation_dev.jsonl`` (its sentences joined,
each cited [1], against its 2-3 passages), after one warm-up call that loads the model: first with passages never
seen (their sentences are embedded too), then again with them cached. A measurement to read, not a timed test;
figures depend on what else the machine runs.

    python bench/citations.py [--repeat 3] [--profile cpu]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from chatbot.config import load_settings  # noqa: E402
from chatbot.embedding import make_embedder  # noqa: E402
from chatbot.generation.citations import CitationCheck, Cues  # noqa: E402
from chatbot.retrieval.glossary import Glossary  # noqa: E402

DEV = ROOT / "evals" / "data" / "citation_dev.jsonl"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", default=None)
    args = parser.parse_args(argv)
    settings = load_settings(args.profile)
    g = settings.generation
    check = CitationCheck(make_embedder(settings), Cues.from_path(settings.path(g.citation_cues)),
                          g.citation_min_support, g.citation_lexical_weight,
                          Glossary.load(settings.path(settings.retrieval.glossary)), g.citation_min_support_zh)
    rows = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines()]
    cases = [(" ".join(s["text"].rstrip("。.") + ("[1]。" if r["language"] == "zh" else " [1].")
                       for s in r["sentences"]), [p["text"] for p in r["passages"]]) for r in rows]
    check.check(*cases[0])  # loads the model: not part of any answer's time
    for label, rounds in (("passages new", 1), ("passages cached", args.repeat)):
        times = []
        for _ in range(rounds):
            for answer, passages in cases:
                started = time.perf_counter()
                check.check(answer, passages)
                times.append((time.perf_counter() - started) * 1000)
        times.sort()
        p90 = times[int(0.9 * (len(times) - 1))]
        print(f"citation check ({label}), {len(times)} answers, embedder {check.embedder.name}: "
              f"p50 {statistics.median(times):.1f} ms, p90 {p90:.1f} ms, max {times[-1]:.1f} ms per answer")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Choose ``safety.harmful_threshold`` and ``safety.harmful_covert_threshold`` by cross-validation on the
harmful-request classifier's own training examples (``knowledge/harmful_examples.jsonl``).

The blind evaluation set (``evals/data/harmful_requests.jsonl``) is never used here: its ``dev`` half judges the
choice afterwards (safety suite part ``harmful``) and its ``test`` half is reported once. Stratified 5-fold
cross-validation gives each example a P(harmful) from a model that did not see it; the patterns and cues are
applied as the engine applies them, and for each pair of thresholds we print refusal of harmful requests and
false refusal of legitimate ones. The suggestion is the pair with the highest refusal whose false refusal stays
at or below ``--max-false``.

    python -m evals.fit_harmful [--max-false 0.05]
"""

from __future__ import annotations

import argparse

from chatbot.safety.harmful import (
    DEFAULT_EXAMPLES_PATH,
    DEFAULT_PATTERNS_PATH,
    NONE,
    HarmfulRequestFilter,
    build_pipeline,
    read_examples,
    read_patterns,
)
from chatbot.safety.text import normalize
from evals.fit_crisis import out_of_fold as crisis_out_of_fold


def out_of_fold(texts: list[str], harmful: list[int]) -> list[float]:
    """P(harmful) for every example from a model that did not see it."""
    return crisis_out_of_fold(texts, harmful, build=build_pipeline)


def decide(probs: list[float], flags: list[tuple[bool, bool, bool]], threshold: float, covert: float) -> list[bool]:
    """The engine's decision for (pattern hit, protective frame, covert cue) and P(harmful)."""
    return [not (protective and not secret) and (hit or p >= (covert if secret else threshold))
            for p, (hit, protective, secret) in zip(probs, flags)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-false", type=float, default=0.05)
    args = parser.parse_args(argv)
    texts, labels = read_examples(DEFAULT_EXAMPLES_PATH)
    harmful = [int(label != NONE) for label in labels]
    table = read_patterns(DEFAULT_PATTERNS_PATH)
    probe = HarmfulRequestFilter.__new__(HarmfulRequestFilter)
    probe.patterns = table
    flags = []
    for text in texts:
        norm = normalize(text)
        flags.append((probe.pattern_category(norm) is not None, any(p.search(norm) for p in table.protective),
                      any(p.search(norm) for p in table.covert)))
    probs = out_of_fold(texts, harmful)
    hits = [f[0] and not (f[1] and not f[2]) for f in flags]
    print(f"{len(texts)} examples ({sum(harmful)} harmful); patterns alone (in-sample: written after reading them):"
          f" refusal {_share([h for h, y in zip(hits, harmful) if y]):.3f},"
          f" false refusal {_share([h for h, y in zip(hits, harmful) if not y]):.3f}")
    print("threshold  covert  refusal  false refusal   (patterns OR classifier, 5-fold out-of-fold)")
    best = None
    for t in (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9):
        for c in (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6):
            if c > t:
                continue
            refused = decide(probs, flags, t, c)
            recall = _share([r for r, y in zip(refused, harmful) if y])
            false = _share([r for r, y in zip(refused, harmful) if not y])
            print(f"     {t:.2f}    {c:.2f}    {recall:.3f}          {false:.3f}")
            if false <= args.max_false and (best is None or recall > best[2]):
                best = (t, c, recall)
    if best:
        print(f"suggested safety.harmful_threshold: {best[0]}, safety.harmful_covert_threshold: {best[1]}")
    return 0


def _share(flags: list[bool]) -> float:
    return sum(flags) / len(flags) if flags else 0.0


if __name__ == "__main__":
    raise SystemExit(main())

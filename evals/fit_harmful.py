"""Choose the harmful-request classifier's settings by cross-validation on its own training examples
(``knowledge/harmful_examples.jsonl``): ``safety.harmful_threshold`` (English), ``safety.harmful_threshold_zh``,
``safety.harmful_covert_threshold`` and ``safety.harmful_meaning_weight`` (English: the share of P(harmful) from
the sentence-vector classifier, ``chatbot.safety.meaning``).

The blind evaluation sets (``evals/data/harmful_requests*.jsonl``) are never used here: they judge the choice
afterwards (safety suite parts ``harmful`` and ``harmful2``). Stratified 5-fold cross-validation gives each example
a P(harmful) from models that did not see it; the patterns and cues are applied as the engine applies them, and
for each language and setting we print refusal of harmful requests and false refusal of legitimate ones. The
suggestion per language is the setting with the highest refusal whose false refusal stays at or below
``--max-false``.

    python -m evals.fit_harmful [--max-false 0.05]
"""

from __future__ import annotations

import argparse

from chatbot.safety.harmful import (
    DEFAULT_EXAMPLES_PATH,
    DEFAULT_PATTERNS_PATH,
    NONE,
    HarmfulRequestFilter,
    PatternTable,
    build_pipeline,
    read_examples,
    read_patterns,
)
from chatbot.safety.language import has_cjk
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
    flags = _flags(texts, read_patterns(DEFAULT_PATTERNS_PATH))
    hits = [f[0] and not (f[1] and not f[2]) for f in flags]
    print(f"{len(texts)} examples ({sum(harmful)} harmful); patterns alone (in-sample: written after reading them):"
          f" refusal {_share([h for h, y in zip(hits, harmful) if y]):.3f},"
          f" false refusal {_share([h for h, y in zip(hits, harmful) if not y]):.3f}")
    grams = out_of_fold(texts, harmful)
    meaning = _meaning_out_of_fold(texts, harmful)
    for lang, weights in (("en", (0.0, 0.3, 0.5, 0.7)), ("zh", (0.0,))):
        rows = [i for i, t in enumerate(texts) if has_cjk(t) == (lang == "zh")]
        print(f"\n{lang}: {len(rows)} examples.  weight  threshold  covert  refusal  false refusal  (5-fold)")
        best = None
        for w in weights:
            probs = [(1 - w) * grams[i] + w * meaning.get(i, grams[i]) for i in rows]
            for t in (0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85):
                for c in (0.3, 0.4):
                    refused = decide(probs, [flags[i] for i in rows], t, c)
                    truth = [harmful[i] for i in rows]
                    recall = _share([r for r, y in zip(refused, truth) if y])
                    false = _share([r for r, y in zip(refused, truth) if not y])
                    print(f"        {w:.1f}       {t:.2f}    {c:.2f}    {recall:.3f}          {false:.3f}")
                    if false <= args.max_false and (best is None or recall > best[3]):
                        best = (w, t, c, recall, false)
        if best:
            print(f"suggested for {lang}: weight {best[0]}, threshold {best[1]}, covert {best[2]} "
                  f"(refusal {best[3]:.3f}, false refusal {best[4]:.3f})")
    return 0


def _flags(texts: list[str], table: PatternTable) -> list[tuple[bool, bool, bool]]:
    """(pattern hit, protective frame, covert cue) per example, as the engine reads them."""
    probe = HarmfulRequestFilter.__new__(HarmfulRequestFilter)
    probe.patterns = table
    out = []
    for text in texts:
        norm = normalize(text)
        out.append((probe.pattern_category(norm) is not None, any(p.search(norm) for p in table.protective),
                    any(p.search(norm) for p in table.covert)))
    return out


def _meaning_out_of_fold(texts: list[str], harmful: list[int]) -> dict[int, float]:
    """Out-of-fold P(harmful) of the sentence-vector classifier for the English examples (index -> p)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    from chatbot.config import load_settings
    from chatbot.embedding import make_embedder
    from chatbot.safety.meaning import example_vectors

    settings = load_settings("cpu")
    rows = [i for i, t in enumerate(texts) if not has_cjk(t)]
    vectors = example_vectors(make_embedder(settings), [texts[i] for i in rows], settings.data_dir / "cache")
    truth = [harmful[i] for i in rows]
    out: dict[int, float] = {}
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(vectors, truth):
        model = LogisticRegression(C=4.0, class_weight="balanced", max_iter=3000)
        model.fit(vectors[train], [truth[i] for i in train])
        for j, p in zip(test, model.predict_proba(vectors[test])[:, 1]):
            out[rows[j]] = float(p)
    return out


def _share(flags: list[bool]) -> float:
    return sum(flags) / len(flags) if flags else 0.0


if __name__ == "__main__":
    raise SystemExit(main())

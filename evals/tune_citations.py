"""Choose the citation check's threshold and lexical weight on a hand-labelled dev set, and show how it does.

    .venv/bin/python -m evals.tune_citations [--data FILE] [--profile P] [--config FILE]

``evals/data/citation_dev.jsonl``: 18 answers (12 English, 6 Chinese) written by us over real passages of the
bundled topics (as the engine clips them for the prompt); each sentence is labelled with the passage that supports
it, or null for a claim no passage makes (plausible, on topic, and wrong or absent). Each sentence is scored
against each passage exactly as the runtime check does (``chatbot.generation.citations``: best cosine with the
passage's sentences + weight x lexical overlap) and is cited to the best passage when that reaches the threshold,
else dropped. Per (weight, threshold): share of supported sentences cited to their own passage, share kept at
all, and share of unsupported sentences dropped, per language. Per language, the threshold maximises the mean of
"cited right" and "unsupported dropped" among those that keep at least 80% of supported sentences (ties: the higher
threshold); the weight maximises the sum over both languages. Seconds; no model.

The dev set is small (97 sentences): the pick is a sensible operating point, not a precise optimum. The grounding
eval's support proxy (``evals/support.py``) is a different function and is not used here.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chatbot.config import load_settings
from chatbot.embedding import make_embedder
from chatbot.generation.citations import CitationCheck, Cues
from chatbot.retrieval.glossary import Glossary

DEV = Path(__file__).resolve().parent / "data" / "citation_dev.jsonl"
WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
THRESHOLDS = tuple(round(0.30 + i * 0.05, 2) for i in range(19))
MIN_KEPT = 0.8  # a check that drops a fifth of the supported sentences guts answers: never pick beyond that


@dataclass
class Scored:
    language: str
    label: int | None  # 1-based passage, None = unsupported
    cosine: np.ndarray  # per passage
    lexical: np.ndarray


def score_dev(path: Path, settings) -> list[Scored]:
    """Cosine and lexical parts of every dev sentence against every passage of its answer."""
    glossary = Glossary.load(settings.path(settings.retrieval.glossary)) if settings.retrieval.glossary else None
    embedder = make_embedder(settings)
    cos_only = CitationCheck(embedder, Cues({}), 1.0, 0.0, glossary)
    with_lex = CitationCheck(embedder, Cues({}), 1.0, 1.0, glossary)
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        passages = [p["text"] for p in row["passages"]]
        sentences = [s["text"] for s in row["sentences"]]
        cosine = cos_only.support(sentences, passages)
        lexical = with_lex.support(sentences, passages) - cosine
        for i, s in enumerate(row["sentences"]):
            out.append(Scored(row["language"], s["source"], cosine[i], lexical[i]))
    return out


def rates(cases: list[Scored], weight: float, threshold: float) -> dict[str, float]:
    supported = [c for c in cases if c.label is not None]
    unsupported = [c for c in cases if c.label is None]
    right = kept = dropped = 0
    for c in supported:
        score = c.cosine + weight * c.lexical
        if score.max() >= threshold:
            kept += 1
            right += int(score.argmax()) + 1 == c.label
    for c in unsupported:
        dropped += (c.cosine + weight * c.lexical).max() < threshold
    r = {"cited_right": right / max(1, len(supported)), "kept": kept / max(1, len(supported)),
         "unsupported_dropped": dropped / max(1, len(unsupported))}
    r["balanced"] = (r["cited_right"] + r["unsupported_dropped"]) / 2
    return r


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.tune_citations", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEV)
    parser.add_argument("--profile", default=None)
    parser.add_argument("--config", default=None)
    args = parser.parse_args(argv)
    settings = load_settings(args.profile, config_file=args.config)
    cases = score_dev(args.data, settings)
    by_lang = {lang: [c for c in cases if c.language == lang] for lang in ("en", "zh")}
    print(f"{len(cases)} sentences ({sum(c.label is None for c in cases)} unsupported)")
    picks = {w: {lang: _pick(part, w) for lang, part in by_lang.items()} for w in WEIGHTS}
    for w, per_lang in picks.items():
        cells = [f"{lang}: threshold {t:.2f} {_fmt(r)}" for lang, (t, r) in per_lang.items()]
        print(f"weight {w:<4} " + "   ".join(cells))
    weight = max(WEIGHTS, key=lambda w: (sum(r["balanced"] for _, r in picks[w].values()), -w))
    print(f"\npick: citation_lexical_weight {weight}, citation_min_support {picks[weight]['en'][0]}, "
          f"citation_min_support_zh {picks[weight]['zh'][0]}")
    g = settings.generation
    print(f"settings now: {g.citation_lexical_weight}, {g.citation_min_support}, {g.citation_min_support_zh}")
    for lang, threshold in (("en", g.citation_min_support), ("zh", g.citation_min_support_zh)):
        print(f"  {lang}: " + _fmt(rates(by_lang[lang], g.citation_lexical_weight, threshold)))
    return 0


def _pick(cases: list[Scored], weight: float) -> tuple[float, dict[str, float]]:
    """Best balanced score among thresholds that keep >= MIN_KEPT of the supported sentences (ties: higher)."""
    options = [(t, rates(cases, weight, t)) for t in THRESHOLDS]
    allowed = [o for o in options if o[1]["kept"] >= MIN_KEPT] or options
    return max(allowed, key=lambda o: (o[1]["balanced"], o[0]))


def _fmt(r: dict[str, float]) -> str:
    return "  ".join(f"{k} {v:.2f}" for k, v in r.items())


if __name__ == "__main__":
    raise SystemExit(main())

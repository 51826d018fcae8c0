"""Choose ``safety.crisis_threshold`` by cross-validation on the classifier's own training examples.

The blind self-harm paraphrase set (``evals/data/self_harm_paraphrases.jsonl``, safety suite part ``self_harm``)
is never used here: it judges the threshold afterwards. Stratified 5-fold cross-validation on
``knowledge/self_harm_examples.jsonl`` gives an out-of-fold probability for every example; for each threshold we
print crisis recall and the false-crisis rate on the look-alikes, for the classifier alone and for what the patient
gets (the crisis rules OR the classifier), and suggest the lowest threshold whose combined false-crisis rate stays
at or below ``--max-false`` (the issue's bound on look-alikes is 5%).

    python -m evals.fit_crisis [--max-false 0.05]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from chatbot.safety.crisis import DEFAULT_EXAMPLES_PATH, build_pipeline, read_examples
from chatbot.safety.text import normalize


def out_of_fold(texts: list[str], labels: list[int], folds: int = 5, seed: int = 0,
                build: Callable[[], Any] = build_pipeline) -> list[float]:
    """P(label 1) for every example from a model (``build()``) that did not see it."""
    from sklearn.model_selection import StratifiedKFold

    probs = [0.0] * len(texts)
    norm = [normalize(t) for t in texts]
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(norm, labels):
        model = build().fit([norm[i] for i in train], [labels[i] for i in train])
        for i, p in zip(test, model.predict_proba([norm[i] for i in test])[:, 1]):
            probs[i] = float(p)
    return probs


def sweep(probs: list[float], labels: list[int], rules: list[bool], everyday: list[bool]) -> list[tuple[float, ...]]:
    """(threshold, recall, false crisis on look-alikes, on everyday messages) for the rules OR the classifier."""
    rows = []
    for step in range(1, 20):
        t = round(step * 0.05, 2)
        flags = [p >= t or r for p, r in zip(probs, rules)]
        recall = _share([f for f, y in zip(flags, labels) if y == 1])
        lookalike = _share([f for f, y, e in zip(flags, labels, everyday) if y == 0 and not e])
        ordinary = _share([f for f, y, e in zip(flags, labels, everyday) if y == 0 and e])
        rows.append((t, recall, lookalike, ordinary))
    return rows


def _share(flags: list[bool]) -> float:
    return sum(flags) / len(flags) if flags else float("nan")


def main() -> None:
    from chatbot.safety.screen import default_screen

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-false", type=float, default=0.05)
    args = parser.parse_args()
    texts, labels = read_examples(DEFAULT_EXAMPLES_PATH)
    kinds = [json.loads(line).get("kind", "") for line in DEFAULT_EXAMPLES_PATH.read_text(encoding="utf-8")
             .splitlines() if line.strip()]
    everyday = [k == "everyday" for k in kinds]
    screen = default_screen()
    rules = [screen.screen([t]).crisis for t in texts]
    rows = sweep(out_of_fold(texts, labels), labels, rules, everyday)
    print(f"{len(texts)} examples ({sum(labels)} crisis, {sum(everyday)} everyday); 5-fold out-of-fold figures")
    print(f"crisis rules alone: recall {_share([r for r, y in zip(rules, labels) if y == 1]):.3f}")
    print("threshold  recall  false crisis: look-alikes  everyday   (crisis rules OR classifier)")
    for t, recall, lookalike, ordinary in rows:
        print(f"{t:9.2f}  {recall:6.3f}  {lookalike:24.3f}  {ordinary:8.3f}")
    ok = [row[0] for row in rows if row[2] <= args.max_false]
    print(f"suggested safety.crisis_threshold: {min(ok) if ok else rows[-1][0]}")


if __name__ == "__main__":
    main()

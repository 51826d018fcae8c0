"""Assemble the blind vignette bank from its helpers' drafts and fix its dev/test split, once.

The bank (``evals/data/vignette_bank.jsonl``) was written by helpers who never saw the rulebook, the care floors,
the prompts or the glossary. The split is decided here, before any result is looked at, and stored in the file:
within each (language, gold level, style) stratum the cases are ordered by the SHA-256 of their id and
alternate dev / test, so both halves have the same mix. Fit and extend only on ``bank-dev``; ``bank-test`` is
reported once.

    python -m evals.build_bank DRAFT.jsonl [DRAFT.jsonl ...]     # writes evals/data/vignette_bank.jsonl
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections import defaultdict
from pathlib import Path

from evals.datasets import EVAL_DATA

BANK = EVAL_DATA / "vignette_bank.jsonl"
_FIELDS = ("rationale", "source", "population", "style", "speaker")


def build(drafts: list[Path], out: Path = BANK) -> dict[str, int]:
    """Merge drafts (``{id, lang, text, gold, ...}``) into our vignette format with a fixed split."""
    rows = []
    for path in drafts:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                rows.append({"id": row["id"], "messages": [row["text"]], "gold": row["gold"],
                             "language": row.get("lang", "en"), **{k: row.get(k, "") for k in _FIELDS}})
    if len({r["id"] for r in rows}) != len(rows):
        raise SystemExit("duplicate ids in the drafts")
    strata: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for row in rows:
        strata[(row["language"], row["gold"], row["style"])].append(row)
    for members in strata.values():
        members.sort(key=lambda r: hashlib.sha256(r["id"].encode()).hexdigest())
        for i, row in enumerate(members):
            row["split"] = "dev" if i % 2 == 0 else "test"
    rows.sort(key=lambda r: r["id"])
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[row["split"]] += 1
    return dict(counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("drafts", nargs="+", type=Path)
    args = parser.parse_args()
    print(build(args.drafts))


if __name__ == "__main__":
    main()

"""Citations that hold: every [n] in a finished answer points at a passage that supports its sentence.

Why: the model is told to cite, but a 1.5B model cites by habit: every bullet gets [1] while [2] and [3] go
unused, and sentences from its own memory carry a marker as if they were sourced (the grounding eval found 57% of
answer sentences supported by the passage they cite). A marker the patient cannot trust is worse than none. So,
before an answer is final, each sentence is scored against the sentences of every retrieved passage and:

- a claim's marker becomes the passage that supports it best, when one reaches the support threshold (a supported
  claim without a marker gets one); a claim that no passage supports is dropped;
- sentences that make no claim keep their place without a marker: fixed texts (the level's advice the consistency
  check inserted, the "not in my sources" text), talk (greetings, closings, "my sources do not cover this") and
  safety nets ("see a doctor if ...", which only ever raise care); patterns in ``knowledge/citation_cues.yaml``;
- cited sources are renumbered [1..k] in order of first use and only they are listed.

Support = cosine (the retrieval embedder, best passage sentence) + ``lexical_weight`` x lexical overlap (share of
the sentence's content words in the passage, the retrieval tokenizer). One sum, so meaning and shared words must
agree, as in the retrieval floor. A Chinese sentence is read through the glossary (the bundled embedder is
English-only and most passages are English): its English terms are embedded, and its overlap is the share of its
terms found in the passage times the share of the sentence the glossary could read. The threshold was chosen on a
hand-labelled dev set (``evals/data/citation_dev.jsonl``, ``python -m evals.tune_citations``); the grounding eval
scores answers with a different function (``evals/support.py``), related but not the same, so it does not measure
this check against itself. The answer's sentences are embedded in one call and passage sentences are cached
(``bench/citations.py`` prints the milliseconds per answer).
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from chatbot.retrieval.tokenize import tokenize
from chatbot.safety.language import cjk_count, has_cjk

DEFAULT_CUES_PATH = Path(__file__).resolve().parents[2] / "knowledge" / "citation_cues.yaml"
_MARKER = re.compile(r"\s*\[(\d{1,2})\]")
# A sentence ends at . ! ? before a space, a line end or a marker (not inside 38.5 or e.g.), or at 。！？ anywhere;
# markers right after the end belong to the sentence before.
_END = re.compile(
    r"(?:(?<!\be\.g)(?<!\bi\.e)(?<!\bDr)(?<!\bvs)[.!?]+(?=\s|$|\[|\*|\))|[。！？；]+)(?:\s*\[\d{1,2}\])*"
)
_LEAD = re.compile(r"^\s*(?:(?:[-*•]|\d+[.)])\s+)?")
_TAIL = re.compile(r"([.!?。！？；:：]+)$")
# A sentence that opens by naming its source ("According to [1], …", "根据[1]，…") would read "According to, …" once
# its marker moves to the end: the opening goes, the marker stays with the sentence.
_CITED_LEAD = re.compile(
    r"\s*(?:(?:according to|as (?:stated|described|mentioned|explained) in|based on|as per|per)\s*\[\d{1,2}\]\s*,?"
    r"|(?:根据|按照|依据|参考|据)\s*\[\d{1,2}\]\s*(?:所述|所说|中的说法|的说法|的内容)?\s*[，,：:]?)\s*",
    re.I,
)
_FIXED = "\x00{}\x00"
_FIXED_TOKEN = re.compile(r"\x00(\d+)\x00")
_MIN_EN_WORDS = 2
_MIN_ZH_CHARS = 4
_CACHE_SIZE = 4096  # passage sentences kept embedded (~1.5 MB at 384 dimensions)


@dataclass
class Unit:
    """One sentence or list item: ``lead`` (spacing, bullet) + ``body`` (markers removed) + ``end`` (its stop)."""

    lead: str
    body: str
    end: str
    cites: list[int] = field(default_factory=list)
    fixed: bool = False

    @property
    def chinese(self) -> bool:
        return has_cjk(self.body)


@dataclass
class CitedAnswer:
    """The checked answer. ``kept[i]`` is the input passage number now cited as ``[i + 1]``; ``cites_any``: some
    sentence of the answer cites a passage (``kept`` may also hold pinned passages the answer does not cite)."""

    text: str
    kept: list[int]
    dropped: list[str] = field(default_factory=list)
    moved: int = 0
    fixed: list[str] = field(default_factory=list)
    elapsed_ms: float = 0.0
    changed: bool = False
    cites_any: bool = False


class Cues:
    """Compiled patterns of sentences that are not claims (``knowledge/citation_cues.yaml``), per language."""

    def __init__(self, data: dict) -> None:
        self._kinds = {
            kind: {lang: re.compile("|".join(f"(?:{p})" for p in pats), re.I) for lang, pats in langs.items() if pats}
            for kind, langs in data.items() if isinstance(langs, dict)
        }

    @classmethod
    def from_path(cls, path: str | Path = DEFAULT_CUES_PATH) -> Cues:
        return cls(yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {})

    def match(self, kind: str, text: str) -> bool:
        pattern = self._kinds.get(kind, {}).get("zh" if has_cjk(text) else "en")
        return bool(pattern and pattern.search(text))


class CitationCheck:
    """Scores answer sentences against passages and re-attaches, drops and renumbers citations; one per process."""

    def __init__(self, embedder: Any, cues: Cues, min_support: float, lexical_weight: float,
                 glossary: Any = None, min_support_zh: float | None = None) -> None:
        self.embedder = embedder
        self.cues = cues
        self.min_support = min_support
        self.min_support_zh = min_support if min_support_zh is None else min_support_zh
        self.lexical_weight = lexical_weight
        self.glossary = glossary
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, answer: str, passages: Sequence[str], fixed: Sequence[str] = (), pinned: Sequence[int] = ()
              ) -> CitedAnswer:
        """``answer`` with each claim cited to the passage that supports it best; ``passages[i]`` is ``[i + 1]``.

        ``pinned``: passage numbers already shown to the patient as ``[1..p]`` in this order (the badge's reasons
        cite them before the answer is written); they keep those numbers and stay listed, cited or not."""
        started = time.perf_counter()
        units, fixed_found = split_answer(answer, fixed)
        claims = [u for u in units if not u.fixed and self._is_claim(u)]
        claim_ids = {id(u) for u in claims}
        support = self.support([u.body for u in claims], passages) if claims and passages else None
        best: dict[int, int] = {}
        for row, unit in enumerate(claims):
            threshold = self.min_support_zh if unit.chinese else self.min_support
            if support is not None and support[row].max() >= threshold:
                best[id(unit)] = int(support[row].argmax()) + 1
        kept_units, dropped, moved = [], [], 0
        for unit in units:
            choice = best.get(id(unit))
            if choice is None and id(unit) in claim_ids and not self.cues.match("safety_net", unit.body):
                dropped.append(unit.body + unit.end)
                continue
            moved += unit.cites != ([choice] if choice else [])
            unit.cites = [choice] if choice else []
            kept_units.append(unit)
        text, kept = _render(units, kept_units, fixed_found, pinned=pinned)
        cites_any = any(u.cites for u in kept_units if not u.fixed)
        return CitedAnswer(text, kept, dropped, moved, fixed_found, (time.perf_counter() - started) * 1000,
                           changed=text != answer.strip(), cites_any=cites_any)

    def excerpts(self, question: str, passages: Sequence[str], limit: int, floor: float, per_passage: int = 2,
                 keep: Callable[[str], bool] | None = None) -> list[tuple[int, str]]:
        """The passage sentences that best answer ``question``, as (passage number, sentence) in reading order.

        Why: when the check keeps none of the model's claims, the passages retrieval found are still relevant, and
        telling the patient "not in my library" would be false. Their own sentences, each cited, are an answer that
        is supported by construction. Relevance = cosine + ``lexical_weight`` x the share of the question's terms
        the sentence holds (the support measure, read the other way round); below ``floor`` nothing is quoted;
        ``keep`` may refuse a sentence (another country's services, advice below the decided level).
        """
        pieces = [[q for q in quotable_sentences(text) if keep is None or keep(q)] for text in passages]
        pool = [q for group in pieces for q in group]
        if not pool or limit <= 0:
            return []
        view = self._view(question)
        cosine = (self._vectors([view[0]]) @ self._vectors(pool, cache=True).T)[0]
        scored: list[tuple[float, int, int, str]] = []
        for number, group in enumerate(pieces, start=1):
            for position, sentence in enumerate(group):
                lexical = self._overlap(view, set(tokenize(sentence)))
                scored.append((float(cosine[len(scored)]) + self.lexical_weight * lexical, number, position, sentence))
        chosen: list[tuple[float, int, int, str]] = []
        for item in sorted(scored, key=lambda s: s[0], reverse=True):
            if item[0] < floor or len(chosen) == limit:
                break
            if sum(1 for c in chosen if c[1] == item[1]) < per_passage and item[3] not in {c[3] for c in chosen}:
                chosen.append(item)
        return [(number, sentence) for _, number, _, sentence in sorted(chosen, key=lambda c: (c[1], c[2]))]

    def support(self, sentences: Sequence[str], passages: Sequence[str]) -> np.ndarray:
        """Support of each sentence (rows) by each passage (columns): best cosine + weight x lexical overlap."""
        views = [self._view(s) for s in sentences]
        pieces = [split_sentences(text) or [text] for text in passages]
        pool = [p for group in pieces for p in group]
        sims = self._vectors([v[0] for v in views]) @ self._vectors(pool, cache=True).T
        out = np.zeros((len(views), len(passages)), dtype=np.float32)
        start = 0
        for col, (group, text) in enumerate(zip(pieces, passages)):
            words = set(tokenize(text))
            cosine = sims[:, start : start + len(group)].max(axis=1)
            start += len(group)
            for row, view in enumerate(views):
                out[row, col] = cosine[row] + self.lexical_weight * self._overlap(view, words)
        return out

    def _vectors(self, texts: list[str], cache: bool = False) -> np.ndarray:
        """Embeddings in one call; passage sentences are cached (the same chunks come back turn after turn)."""
        if not cache:
            return self.embedder.embed(texts)
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
            if missing:
                self._cache.update(zip(missing, self.embedder.embed(missing)))
                while len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
            return np.stack([self._cache[t] for t in texts])

    def _is_claim(self, unit: Unit) -> bool:
        """Content words, not talk, not a lead-in to a list ("You can try:"), not a question (often the patient's
        own, echoed back: it says nothing a passage could support)."""
        if unit.end[-1:] in {":", "：", "?", "？"} or self.cues.match("talk", unit.body):
            return False
        if unit.chinese:
            return cjk_count(unit.body) >= _MIN_ZH_CHARS
        return len(tokenize(unit.body)) >= _MIN_EN_WORDS

    def _view(self, sentence: str) -> tuple[str, list[list[str]], float]:
        """(text to embed, content terms as alternatives, share of the sentence those terms stand for)."""
        if self.glossary is None or not has_cjk(sentence):
            return sentence, [[w] for w in dict.fromkeys(tokenize(sentence))], 1.0
        terms = self.glossary.terms_in(sentence)
        english = " ".join(t[0] for t in terms) or sentence
        return english, terms, self.glossary.understood(sentence) if terms else 0.0

    @staticmethod
    def _overlap(view: tuple[str, list[list[str]], float], words: set[str]) -> float:
        """Share of the sentence's terms the passage holds (a term counts when any of its alternatives does)."""
        _, terms, understood = view
        if not terms:
            return 0.0
        found = sum(1 for alternatives in terms if any(set(tokenize(a)) <= words for a in alternatives))
        return understood * found / len(terms)


def quotable_sentences(text: str) -> list[str]:
    """Sentences of a passage that stand on their own when quoted: a list item under a lead-in ("See a GP if a
    small burn:" / "- is not healing after 2 weeks") is joined to it; other fragments (a bare list item in lower
    case, a heading) and anything under four words are left out."""
    out: list[str] = []
    lead_in: str | None = None
    for unit in split_answer(text)[0]:
        bullet = bool(re.search(r"(?:^|\n)\s*(?:[-*•]|\d+[.)])\s+$", unit.lead))
        if unit.end[-1:] in {":", "："}:
            lead_in = unit.body
            continue
        if bullet and lead_in:
            sentence = f"{lead_in} {_continued(unit.body)}"
        else:
            lead_in = None
            sentence = unit.body
            if not (unit.chinese or sentence[:1].isupper()):
                continue
        if (cjk_count(sentence) >= _MIN_ZH_CHARS) if unit.chinese else len(sentence.split()) >= 4:
            out.append(sentence)
    return out


def _continued(item: str) -> str:
    """A list item as the end of its lead-in's sentence: "… if You heard a crack" reads "… if you heard a crack";
    an acronym, "I" or a name-like word (a capital inside the first word) keeps its case."""
    first = item.split(" ", 1)[0]
    if first == "I" or first.startswith("I'") or not first[:1].isupper() or any(c.isupper() for c in first[1:]):
        return item
    return item[:1].lower() + item[1:]


def split_sentences(text: str) -> list[str]:
    """Plain sentences and list items of a text (bullets and markers removed), for scoring passages."""
    return [u.body for u in split_answer(text)[0] if u.body]


def split_answer(text: str, fixed: Sequence[str] = ()) -> tuple[list[Unit], list[str]]:
    """Sentences and list items (English and Chinese stops; a line end ends an item) with their markers; each
    occurrence of a ``fixed`` text stays one unit, verbatim. Returns the units and the fixed texts found."""
    found: list[str] = []
    for snippet in sorted({f.strip() for f in fixed if f.strip()}, key=len, reverse=True):
        if snippet in text:
            text = text.replace(snippet, _FIXED.format(len(found)))
            found.append(snippet)
    units: list[Unit] = []
    pending = ""  # spacing, line breaks and bullet before the next sentence
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        lead = _LEAD.match(body).group(0)
        pending, start = pending + lead, len(lead)
        for stop in [m.end() for m in _END.finditer(body, start)] + [len(body)]:
            piece, start = body[start:stop], stop
            if piece.strip():
                units.append(_unit(pending + piece[: len(piece) - len(piece.lstrip())], piece.strip(), found))
                pending = ""
        pending += line[len(body):]
    return units, found


def _unit(lead: str, text: str, found: list[str]) -> Unit:
    token = _FIXED_TOKEN.search(text)
    if token:
        return Unit(lead, _FIXED_TOKEN.sub(lambda m: found[int(m.group(1))], text), "", fixed=True)
    cites = [int(n) for n in _MARKER.findall(text)]
    cited_lead = _CITED_LEAD.match(text)  # "According to [1], …" / "根据[1]，…": the marker goes to the sentence's end
    if cited_lead:
        text = text[cited_lead.end() :]
        text = text[:1].upper() + text[1:]
    body = _MARKER.sub("", text).strip()
    tail = _TAIL.search(body)
    end = tail.group(1) if tail else ""
    body = body[: len(body) - len(end)].rstrip()
    return Unit(lead, body, end, cites)


def render_units(units: list[Unit], kept: list[Unit]) -> str:
    """Kept units in order with their own markers (not renumbered); a dropped unit's line break passes on."""
    return _render(units, kept, [], renumber=False)[0]


def _render(
    units: list[Unit], kept: list[Unit], fixed_found: list[str], renumber: bool = True, pinned: Sequence[int] = ()
) -> tuple[str, list[int]]:
    """Kept units in order, markers renumbered by first use after the ``pinned`` passages (which keep ``[1..p]``);
    a dropped unit's line break passes to the next."""
    numbers: dict[int, int] = {n: i + 1 for i, n in enumerate(dict.fromkeys(pinned))} if renumber else {}
    parts: list[str] = []
    carry = ""
    kept_ids = {id(u) for u in kept}
    for unit in units:
        if id(unit) not in kept_ids:
            if unit.lead.count("\n") > carry.count("\n"):
                carry = unit.lead
            continue
        lead = unit.lead
        if carry and "\n" not in lead:
            lead = carry
        carry = ""
        if not parts:
            lead = ""
        if unit.fixed:
            parts.append(lead + unit.body)
            continue
        marker = ""
        for n in unit.cites:
            numbers.setdefault(n, len(numbers) + 1 if renumber else n)
            one = f"[{numbers[n]}]" if unit.chinese else f" [{numbers[n]}]"
            marker = one if renumber else marker + one  # the check leaves one marker; a plain re-render keeps all
        parts.append(f"{lead}{unit.body}{marker}{unit.end}")
    text = re.sub(r"\n{3,}", "\n\n", "".join(parts)).strip()
    return text, sorted(numbers, key=numbers.get)

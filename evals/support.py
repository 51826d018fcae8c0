"""Does the cited passage support an answer sentence? A cheap, documented, deterministic proxy.

For each answer sentence (citation markers removed, at least ``MIN_WORDS`` words) we compute two scores against
the sentences of its evidence (the chunks it cites; a sentence without its own marker uses every chunk the answer
cites; an answer that cites nothing has no evidence):

- ``semantic``: the highest cosine similarity between the sentence and any evidence sentence, with the bundled
  all-MiniLM-L6-v2 embedder. Paraphrases of one claim typically score >= 0.7; sentences on the same topic that
  say different things 0.4-0.6. We call a sentence supported at ``SEMANTIC_THRESHOLD`` = 0.6.
- ``lexical``: the share of the sentence's content words (the retrieval tokenizer: stemmed, stopwords dropped,
  jieba for Chinese) that occur in the evidence. Supported at ``LEXICAL_THRESHOLD`` = 0.7.

A sentence counts as supported when either score reaches its threshold. This is a proxy, not entailment: a
sentence that negates its passage can still score high, and a correct summary in new words can score low. It is
good for trends between versions and for finding answers to read, not as a verdict on one answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from chatbot.retrieval.tokenize import tokenize
from chatbot.safety.language import cjk_count

SEMANTIC_THRESHOLD = 0.6
LEXICAL_THRESHOLD = 0.7
MIN_WORDS = 4
_CITATION = re.compile(r"\[(\d{1,2})\]")
_SPLIT = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])|\n+")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s*")


@dataclass
class SentenceSupport:
    text: str
    cites: list[int]
    semantic: float
    lexical: float

    @property
    def supported(self) -> bool:
        return self.semantic >= SEMANTIC_THRESHOLD or self.lexical >= LEXICAL_THRESHOLD


def split_sentences(text: str) -> list[str]:
    """Sentences and list items, bullets stripped; Chinese sentences end at 。！？."""
    out = []
    for piece in _SPLIT.split(text or ""):
        piece = _BULLET.sub("", piece).strip()
        if piece:
            out.append(piece)
    return out


def citations(text: str, n_sources: int) -> list[int]:
    """Valid citation numbers in order of first appearance (1..n_sources)."""
    seen: list[int] = []
    for match in _CITATION.finditer(text or ""):
        n = int(match.group(1))
        if 1 <= n <= n_sources and n not in seen:
            seen.append(n)
    return seen


def strip_citations(text: str) -> str:
    return re.sub(r"\s+", " ", _CITATION.sub("", text)).strip()


def scoreable(sentence: str) -> bool:
    """Long enough to carry a claim: MIN_WORDS words, or 10 CJK characters for Chinese."""
    plain = strip_citations(sentence)
    cjk = cjk_count(plain)
    return cjk >= 10 or len(plain.split()) >= MIN_WORDS


def lexical_overlap(sentence: str, evidence: str) -> float:
    """Share of the sentence's content tokens found in the evidence (0 when the sentence has none)."""
    words = set(tokenize(sentence))
    if not words:
        return 0.0
    return len(words & set(tokenize(evidence))) / len(words)


def score_answer(answer: str, chunks: Sequence[str], embedder) -> list[SentenceSupport]:
    """Support of every scoreable sentence of ``answer``; ``chunks[i]`` is the text of source ``[i + 1]``."""
    cited_anywhere = citations(answer, len(chunks))
    sentences = [s for s in split_sentences(answer) if scoreable(s)]
    if not sentences:
        return []
    chunk_sentences = {n: split_sentences(chunks[n - 1]) for n in cited_anywhere}
    plain = [strip_citations(s) for s in sentences]
    pool = sorted({s for parts in chunk_sentences.values() for s in parts})
    vectors = embedder.embed(plain + pool) if pool else embedder.embed(plain)
    sentence_vecs, pool_vecs = vectors[: len(plain)], vectors[len(plain) :]
    index = {s: i for i, s in enumerate(pool)}
    out = []
    for sentence, text, vec in zip(sentences, plain, sentence_vecs):
        own = citations(sentence, len(chunks))
        evidence_ns = own or cited_anywhere
        evidence = [s for n in evidence_ns for s in chunk_sentences.get(n, [])]
        semantic = _best_cosine(vec, pool_vecs, [index[s] for s in evidence]) if evidence else 0.0
        lexical = lexical_overlap(text, " ".join(chunks[n - 1] for n in evidence_ns)) if evidence_ns else 0.0
        out.append(SentenceSupport(text, own, round(semantic, 4), round(lexical, 4)))
    return out


def _best_cosine(vec: np.ndarray, pool: np.ndarray, rows: list[int]) -> float:
    """Vectors are L2-normalised by the embedder, so the dot product is the cosine."""
    return float(np.max(pool[rows] @ vec)) if rows else 0.0


_DECLINES = re.compile(
    r"(sources?|references?|library|passages?|information (i have|provided))[^.]{0,40}"
    r"(do(es)?n[o']t|do(es)? not|cannot|can't)\s+(cover|mention|include|contain|address|answer|say)"
    r"|not covered|could not find|couldn't find|can't find|cannot find|no (relevant )?information"
    r"|not (in|part of) my (sources|library|references)|没有找到|没有相关|未找到|不涉及|无法回答",
    re.I,
)


def declines(text: str) -> bool:
    """Whether an answer says its sources do not cover the question (the right reply to an out-of-KB question)."""
    return bool(_DECLINES.search(text or ""))

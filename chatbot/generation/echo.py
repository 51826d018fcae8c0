"""Sentences the model did not write for the patient: its own instructions copied back, and loops.

Why: a 1.5B model copies the last block of its prompt ("Urgency already decided by the safety checks: EMERGENCY.
Because: … Your advice must match: …") into the answer, starts from the worked example's first line whatever the
question, restates the patient's own question as if it were a fact, and in Chinese can repeat one sentence until
``max_tokens`` (30 s of waiting for the patient). The citation check drops some of these (no passage supports
them) but not all: a copied question shares its words with the passage that answers it. So the answer is cleaned
before the citation check, deterministically:

- :class:`LoopGuard` stops the stream when a sentence comes for the third time;
- :func:`clean` drops a sentence that repeats an earlier one, or that is mostly made of word runs from a text the
  model was only meant to read (its instructions, the worked example, the patient's message).

Overlap is counted on runs of three words (English) or three characters (Chinese), so a sentence that merely shares
a few words with its instructions ("call the emergency number now") is kept; ``protected`` texts (the level's own
advice, which the instructions ask the model to give) are never counted as an echo.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from chatbot.generation.citations import Unit, render_units, split_answer
from chatbot.safety.language import CJK

_WORD = re.compile(r"[a-z0-9]+")
_HAN = re.compile(f"[{CJK}]")
_RUN = 3
_MIN_WORDS = 5  # shorter sentences are never judged an echo: too few runs to tell
_MIN_HAN = 8
_ECHO_SHARE = 0.6
_LOOP_REPEATS = 3


def _runs(text: str) -> set[tuple[str, ...]]:
    """Runs of three words (Latin) and of three characters (Chinese) in ``text``."""
    words = _WORD.findall(text.lower())
    han = _HAN.findall(text)
    return {tuple(words[i : i + _RUN]) for i in range(len(words) - _RUN + 1)} | {
        tuple(han[i : i + _RUN]) for i in range(len(han) - _RUN + 1)
    }


def _key(sentence: str) -> str:
    """A sentence as compared for repeats: letters, digits and Chinese characters only."""
    return "".join(ch for ch in sentence.lower() if ch.isalnum())


def _long_enough(sentence: str) -> bool:
    return len(_WORD.findall(sentence.lower())) >= _MIN_WORDS or len(_HAN.findall(sentence)) >= _MIN_HAN


@dataclass
class EchoFilter:
    """The texts an answer must not copy (``read_only``) and those it may (``protected``), as word runs."""

    read_only: Sequence[str]
    protected: Sequence[str] = ()
    _seen: set[tuple[str, ...]] = field(init=False, repr=False)
    _allowed: set[tuple[str, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._seen = set().union(*(_runs(t) for t in self.read_only)) if self.read_only else set()
        self._allowed = set().union(*(_runs(t) for t in self.protected)) if self.protected else set()

    def echoes(self, sentence: str) -> bool:
        """Whether most of the sentence's word runs come from a read-only text (and not from a protected one)."""
        if not _long_enough(sentence):
            return False
        runs = _runs(sentence) - self._allowed
        if not runs:
            return False
        return len(runs & self._seen) / len(runs) >= _ECHO_SHARE

    def clean(self, text: str) -> tuple[str, list[str]]:
        """``text`` without echoed or repeated sentences; returns the text and what was dropped (for the log)."""
        units, _ = split_answer(text)
        kept: list[Unit] = []
        dropped: list[str] = []
        keys: set[str] = set()
        for unit in units:
            key = _key(unit.body)
            if not unit.fixed and ((key and key in keys) or self.echoes(unit.body)):
                dropped.append(unit.body)
                continue
            keys.add(key)
            kept.append(unit)
        return (render_units(units, kept), dropped) if dropped else (text, [])


class LoopGuard:
    """Watches a streamed answer and says stop when any sentence has come ``repeats`` times."""

    def __init__(self, repeats: int = _LOOP_REPEATS) -> None:
        self.repeats = repeats
        self._text = ""
        self._counts: dict[str, int] = {}
        self._done = 0  # units already counted (all but the last, which may still be growing)

    def feed(self, piece: str) -> bool:
        """Add a streamed piece; True when the answer is looping and the stream should stop."""
        self._text += piece
        units, _ = split_answer(self._text)
        finished = units[:-1]
        for unit in finished[self._done :]:
            key = _key(unit.body)
            if len(key) >= 4:
                self._counts[key] = self._counts.get(key, 0) + 1
                if self._counts[key] >= self.repeats:
                    return True
        self._done = len(finished)
        return False

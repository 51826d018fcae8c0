"""Which language to answer in: English or Chinese, from the share of CJK characters; and the one definition of a
CJK character that every part of the project uses (``CJK``, ``CJK_CHAR``, ``has_cjk``, ``cjk_count``).

Patients mix languages ("我胸口疼, chest pain since morning"). Someone who writes a substantial part of a message in
Chinese is more likely to read Chinese comfortably, so any substantial Chinese wins; a stray Chinese word in an
English sentence does not.
"""

from __future__ import annotations

import re

# CJK Unified Ideographs Extension A, CJK Unified Ideographs, CJK Compatibility Ideographs. Kana, Hangul and CJK
# punctuation are not Chinese text; NFKC (chatbot.safety.text.normalize) folds most compatibility ideographs into
# the unified block, and text that is not normalised still counts them.
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK_CHAR = re.compile(f"[{CJK}]")
_LATIN = re.compile(r"[A-Za-z]")
_MIN_CJK_SHARE = 0.25
_ALWAYS_ZH_CJK = 6


def has_cjk(text: str) -> bool:
    """Whether ``text`` holds at least one CJK ideograph."""
    return bool(CJK_CHAR.search(text or ""))


def cjk_count(text: str) -> int:
    """How many CJK ideographs ``text`` holds."""
    return len(CJK_CHAR.findall(text or ""))


def detect_language(text: str) -> str:
    """Return "zh" when Chinese makes up a substantial part of ``text``, else "en" (also for empty text)."""
    cjk = cjk_count(text)
    if cjk == 0:
        return "en"
    latin = len(_LATIN.findall(text))
    # A CJK character carries roughly a word; weigh Latin letters by a typical word length (~4.5).
    share = cjk / (cjk + latin / 4.5)
    return "zh" if cjk >= _ALWAYS_ZH_CJK or share >= _MIN_CJK_SHARE else "en"

"""Which language to answer in: English or Chinese, from the share of CJK characters.

Patients mix languages ("我胸口疼, chest pain since morning"). Someone who writes a substantial part of a message in
Chinese is more likely to read Chinese comfortably, so any substantial Chinese wins; a stray Chinese word in an
English sentence does not.
"""

from __future__ import annotations

import re

from chatbot.safety.text import CJK

_CJK_CHAR = re.compile(f"[{CJK}]")
_LATIN = re.compile(r"[A-Za-z]")
_MIN_CJK_SHARE = 0.25
_ALWAYS_ZH_CJK = 6


def detect_language(text: str) -> str:
    """Return "zh" when Chinese makes up a substantial part of ``text``, else "en" (also for empty text)."""
    cjk = len(_CJK_CHAR.findall(text or ""))
    if cjk == 0:
        return "en"
    latin = len(_LATIN.findall(text))
    # A CJK character carries roughly a word; weigh Latin letters by a typical word length (~4.5).
    share = cjk / (cjk + latin / 4.5)
    return "zh" if cjk >= _ALWAYS_ZH_CJK or share >= _MIN_CJK_SHARE else "en"

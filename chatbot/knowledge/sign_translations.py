"""Chinese versions of the library's warning-sign bullets, so a Chinese patient's reasons are traced to the library
too (chatbot.knowledge.criteria) instead of being left out.

Why a separate data folder (``knowledge/warning_signs_zh/*.jsonl``, one ``{"topic_id", "en", "zh"}`` per bullet)
rather than Chinese text in the topic files: the English topics stay the reviewed source, and each translation
names the exact English it renders, so a bullet edited later simply loses its translation (reported by
``stale``) instead of showing an outdated one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path

from chatbot.safety.language import has_cjk

log = logging.getLogger(__name__)
Key = tuple[str, str]  # (topic id, the bullet's English as the criteria index holds it)


def sign_key(topic_id: str, english: str) -> Key:
    """The key a bullet is looked up by: trailing full stops and spaces do not matter (the index strips them)."""
    return topic_id, english.strip().rstrip(". ")


def load_sign_translations(folder: Path) -> dict[Key, str]:
    """Every translation in ``folder``; a malformed line or one without Chinese is skipped with a warning, never
    shown (a Chinese patient then gets the rule's own reason, as before)."""
    out: dict[Key, str] = {}
    for path in sorted(Path(folder).glob("*.jsonl")) if Path(folder).is_dir() else []:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                key, zh = sign_key(str(row["topic_id"]), str(row["en"])), str(row["zh"]).strip()
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("%s:%d: not a translation (%s): skipped", path.name, n, exc)
                continue
            if not has_cjk(zh):
                log.warning("%s:%d: no Chinese in the translation: skipped", path.name, n)
                continue
            out[key] = zh
    return out


def stale(translations: dict[Key, str], bullets: Iterable[Key]) -> list[Key]:
    """Translations whose English is no longer a bullet of the library (edited or removed since)."""
    known = set(bullets)
    return sorted(k for k in translations if k not in known)

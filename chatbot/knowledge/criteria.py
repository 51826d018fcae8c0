"""The knowledge base's own warning signs behind a fired rule: reasons a patient can look up.

Why: "Warning sign: Possible appendicitis" says which rule fired, not where that comes from. Every bullet under a
topic's "When to call emergency services" / "When to get help the same day" is probed through the red-flag screen
(the knowledge check does the same to measure coverage), so we know which rules recognise which bullets. When a
rule fires on a patient's message, the bullet it recognises in a topic of the turn's evidence is shown as a
reason, with the topic and section it comes from: the level is traced to the library's own words, not to text a
model wrote.

Probing all bullets takes a few seconds, so the map is kept in ``cache_dir`` under a key made of the rulebook,
the topics and the package version (only our own files; nothing a patient writes).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from chatbot import __version__
from chatbot.answer import TriageLevel
from chatbot.cachefile import write_atomic
from chatbot.knowledge.warning_signs import WarningSign, load_exemptions, measure_coverage
from chatbot.retrieval.tokenize import tokenize

log = logging.getLogger(__name__)
SECTION_EMERGENCY = "When to call emergency services"
SECTION_SAME_DAY = "When to get help the same day"
_MEMO: dict[str, CriteriaIndex] = {}  # per process: every engine of a process shares one map per content


@dataclass(frozen=True)
class Criterion:
    """One warning-sign bullet and the rules that recognise it."""

    topic_id: str
    title: str
    section: str
    text: str
    rules: tuple[str, ...]


class CriteriaIndex:
    """rule id -> the warning-sign bullets it recognises, in topic order."""

    def __init__(self, criteria: Iterable[Criterion]) -> None:
        self.criteria = list(criteria)
        self._by_rule: dict[str, list[Criterion]] = {}
        for criterion in self.criteria:
            for rule in criterion.rules:
                self._by_rule.setdefault(rule, []).append(criterion)

    def for_rules(self, rule_ids: Iterable[str], topics: list[str], words: set[str] | None = None,
                  limit: int = 3, text_of: Callable[[Criterion], str | None] | None = None) -> list[Criterion]:
        """For each rule (in order), a bullet it recognises in the first of ``topics`` (the turn's evidence, most
        relevant first) that has one: the one sharing most of ``words`` (the patient's), so the reason names what
        the patient described. A rule whose bullets are all in other topics gives nothing.

        ``text_of`` gives the wording a bullet is shown in (a translation), compared with ``words`` instead of the
        English; a bullet it has no wording for is not offered."""
        show = text_of or (lambda c: c.text)
        out: list[Criterion] = []
        for rule in rule_ids:
            found = [c for c in self._by_rule.get(rule, []) if c not in out and show(c)]
            for topic in topics:
                here = [c for c in found if c.topic_id == topic]
                if here:
                    out.append(max(here, key=lambda c: len(words & set(tokenize(show(c) or ""))) if words else 0))
                    break
            if len(out) == limit:
                break
        return out


def build_index(topics_dir: Path, screen: object, exemptions_path: Path) -> CriteriaIndex:
    """Probe every warning sign through ``screen`` (as the knowledge check does)."""
    report = measure_coverage(topics_dir, screen, load_exemptions(exemptions_path))
    return CriteriaIndex(_criterion(sign, fired) for sign, fired in report.covered)


def load_index(topics_dir: Path, rulebook_files: list[Path], screen: object, exemptions_path: Path,
               cache_dir: Path | None) -> CriteriaIndex:
    """The index from the cache when the rulebook, topics and version are unchanged; built (and cached) otherwise."""
    key = _key(topics_dir, rulebook_files, exemptions_path)
    if key not in _MEMO:
        _MEMO[key] = _load_or_build(key, topics_dir, screen, exemptions_path, cache_dir)
    return _MEMO[key]


def _load_or_build(key: str, topics_dir: Path, screen: object, exemptions_path: Path,
                   cache_dir: Path | None) -> CriteriaIndex:
    path = cache_dir / f"criteria-{key}.json" if cache_dir else None
    if path is not None and path.is_file():
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
            return CriteriaIndex(Criterion(**{**row, "rules": tuple(row["rules"])}) for row in rows)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.warning("criteria cache %s unreadable (%s): rebuilding", path.name, exc)
    index = build_index(topics_dir, screen, exemptions_path)
    if path is not None:
        write_atomic(path, json.dumps([asdict(c) for c in index.criteria], ensure_ascii=False).encode())
    return index


def rulebook_files(path: Path) -> list[Path]:
    """The rulebook and every file it includes (what the map depends on)."""
    import yaml

    files, queue = [], [Path(path)]
    while queue:
        current = queue.pop(0)
        if current in files or not current.is_file():
            continue
        files.append(current)
        data = yaml.safe_load(current.read_text(encoding="utf-8")) or {}
        queue += [current.parent / name for name in data.get("include") or []]
    return files


def _criterion(sign: WarningSign, fired: list[str]) -> Criterion:
    section = SECTION_EMERGENCY if sign.level == TriageLevel.emergency else SECTION_SAME_DAY
    return Criterion(sign.topic_id, sign.title, section, sign.text.rstrip(". "), tuple(fired))


def _key(topics_dir: Path, rulebook_files: list[Path], exemptions_path: Path) -> str:
    digest = hashlib.sha256(__version__.encode())
    for path in [*sorted(Path(topics_dir).glob("*.md")), *rulebook_files, exemptions_path]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()[:20]

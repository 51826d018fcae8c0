"""Coverage of the knowledge base's warning signs by the red-flag rulebook.

Every bullet under "When to call emergency services" and "When to get help the same day" in every topic is a
warning sign the library tells patients about. If the deterministic screen cannot recognise it, a patient who
describes exactly that sign gets only the model's judgement. This module measures, for each bullet, whether the
screen fires a rule of at least the section's level on a message that states it.

How a bullet is probed: first the bullet alone; when that fires no rule of the section's level, the message
``"<topic title>: <bullet>"`` (the bullet often omits the complaint, e.g. "the pain is getting worse" under
abdominal pain). The second probe counts only when the title alone does *not* already fire a rule of that level,
so a rule that matches a topic's name cannot pass for one that reads the sign. Bullets that cannot be a rule
(for example "you are worried about your baby") are listed in ``knowledge/warning_signs_exempt.yaml`` with the
reason; they are reported, and left out of the denominator.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import frontmatter
import yaml

from chatbot.answer import TriageLevel

SECTION_LEVELS = {
    "When to call emergency services": TriageLevel.emergency,
    "When to get help the same day": TriageLevel.urgent,
}
MIN_COVERAGE = 0.95
_BULLET = re.compile(r"^\s*[-*]\s+(.+?)\s*$", re.M)


@dataclass(frozen=True)
class WarningSign:
    """One bullet of a topic's warning-sign section."""

    topic_id: str
    title: str
    level: TriageLevel
    text: str

    @property
    def probe(self) -> str:
        return f"{self.title}: {self.text}"


@dataclass
class CoverageReport:
    """Which warning signs the screen recognises; ``coverage`` leaves the exempt ones out of the denominator."""

    covered: list[tuple[WarningSign, list[str]]] = field(default_factory=list)
    missed: list[WarningSign] = field(default_factory=list)
    exempt: list[tuple[WarningSign, str]] = field(default_factory=list)
    stale_exemptions: list[str] = field(default_factory=list)

    @property
    def coverage(self) -> float:
        judged = len(self.covered) + len(self.missed)
        return len(self.covered) / judged if judged else 1.0

    def by_level(self, level: TriageLevel) -> tuple[int, int]:
        """(covered, judged) for one section level."""
        covered = sum(1 for s, _ in self.covered if s.level == level)
        missed = sum(1 for s in self.missed if s.level == level)
        return covered, covered + missed


def iter_warning_signs(topics_dir: Path) -> Iterator[WarningSign]:
    """Every warning-sign bullet of every topic, in file order."""
    for path in sorted(Path(topics_dir).glob("*.md")):
        post = frontmatter.load(path)
        topic_id = str(post.metadata.get("id") or path.stem)
        title = str(post.metadata.get("title") or topic_id)
        parts = re.split(r"^##\s+(.+?)\s*$", post.content, flags=re.M)
        for i in range(1, len(parts) - 1, 2):
            level = SECTION_LEVELS.get(parts[i].strip())
            if level is None:
                continue
            for bullet in _BULLET.findall(parts[i + 1]):
                yield WarningSign(topic_id, title, level, bullet)


def load_exemptions(path: Path) -> dict[tuple[str, str], str]:
    """``{(topic_id, bullet text): reason}`` from the exemptions file (missing file = none)."""
    if not Path(path).exists():
        return {}
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    exempt: dict[tuple[str, str], str] = {}
    for topic_id, bullets in (data.get("exempt") or {}).items():
        for item in bullets or []:
            exempt[(str(topic_id), str(item["sign"]).strip())] = str(item["reason"]).strip()
    return exempt


def _fired_at(screen: object, text: str, level: TriageLevel) -> list[str]:
    """Ids of the rules of at least ``level`` that fire on ``text``."""
    result = screen.screen([text])  # type: ignore[attr-defined]
    return [f.id for f in result.fired if f.level.rank >= level.rank]


def measure_coverage(topics_dir: Path, screen: object, exemptions: dict[tuple[str, str], str]) -> CoverageReport:
    """Probe every warning sign through ``screen`` (a :class:`~chatbot.safety.screen.RedFlagScreen`)."""
    report = CoverageReport()
    seen: set[tuple[str, str]] = set()
    title_levels: dict[str, TriageLevel | None] = {}
    for sign in iter_warning_signs(topics_dir):
        key = (sign.topic_id, sign.text.strip())
        seen.add(key)
        if key in exemptions:
            report.exempt.append((sign, exemptions[key]))
            continue
        if sign.title not in title_levels:
            title_levels[sign.title] = screen.screen([sign.title]).level  # type: ignore[attr-defined]
        title_level = title_levels[sign.title]
        fired = _fired_at(screen, sign.text, sign.level)  # the sign on its own
        if not fired and not (title_level is not None and title_level.rank >= sign.level.rank):
            fired = _fired_at(screen, sign.probe, sign.level)  # the sign under its complaint
        if fired:
            report.covered.append((sign, fired))
        else:
            report.missed.append(sign)
    report.stale_exemptions = [f"{t}: {b}" for t, b in exemptions if (t, b) not in seen]
    return report

"""``python -m chatbot knowledge check``: validate every topic and red-flag rule before it reaches a patient.

Why a checker and not reviews alone: 180 topics and 60+ rules drift. The checker enforces the structure the
retriever and the triage prompt rely on (the six sections, two sources), the reading level patients need, and that
every red-flag rule still fires on its own examples and stays quiet on its negations.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import frontmatter
import yaml

from chatbot.config import Settings
from chatbot.safety.language import has_cjk

REQUIRED_SECTIONS = [
    "What it is",
    "Common symptoms",
    "Self-care at home",
    "When to see a doctor",
    "When to get help the same day",
    "When to call emergency services",
]
CATEGORIES = set(
    [
        "respiratory",
        "ent",
        "allergy",
        "cardiovascular",
        "neurological",
        "injuries",
        "infections",
        "gastrointestinal",
        "general",
        "urinary",
        "skin",
        "children",
        "musculoskeletal",
        "mental-health",
        "eyes",
        "endocrine",
        "womens-health",
        "pregnancy",
        "sexual-health",
        "mens-health",
        "poisoning",
        "burns-bites",
        "environmental",
        "medicines",
        "older-adults",
        "dental",
    ]
)
MAX_GRADE = 10.0
_DOSE = re.compile(r"\b\d+(\.\d+)?\s?(mg|mcg|micrograms?|milligrams?)\b(?!\s*/)", re.I)
_URL = re.compile(r"^https?://[^\s/]+\.[^\s]+$")


@dataclass
class TopicReport:
    problems: list[str] = field(default_factory=list)
    grades: dict[str, float] = field(default_factory=dict)


def check_topics(folder: Path) -> TopicReport:
    report = TopicReport()
    seen_titles: dict[str, str] = {}
    files = sorted(folder.glob("*.md"))
    if not files:
        report.problems.append(f"{folder}: no topic files")
    for path in files:
        for problem in _check_topic(path, seen_titles, report):
            report.problems.append(f"{path.name}: {problem}")
    return report


def _check_topic(path: Path, seen_titles: dict[str, str], report: TopicReport) -> list[str]:
    try:
        post = frontmatter.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError, ValueError) as exc:
        return [f"cannot parse: {exc}"]
    meta, problems = post.metadata, []
    problems += _check_meta(path, meta, seen_titles)
    sections = _sections(post.content)
    names = [name for name, _ in sections]
    if names != REQUIRED_SECTIONS:
        problems.append(f"sections must be exactly {REQUIRED_SECTIONS} in order; found {names}")
    problems += [f"section '{name}' is empty" for name, body in sections if not body.strip()]
    if _DOSE.search(post.content):
        problems.append(f"contains a dose ('{_DOSE.search(post.content).group(0)}'); say 'follow the packet' instead")
    grade = _grade(post.content)
    report.grades[path.stem] = grade
    if grade > MAX_GRADE:
        problems.append(f"reading grade {grade:.1f} is above {MAX_GRADE:g}; use shorter words and sentences")
    return problems


def _check_meta(path: Path, meta: dict, seen_titles: dict[str, str]) -> list[str]:
    problems = []
    if meta.get("id") != path.stem:
        problems.append(f"id {meta.get('id')!r} must equal the file name {path.stem!r}")
    title = str(meta.get("title") or "").strip()
    if not title:
        problems.append("missing title")
    elif title.lower() in seen_titles:
        problems.append(f"duplicate title {title!r} (also in {seen_titles[title.lower()]})")
    else:
        seen_titles[title.lower()] = path.name
    if meta.get("category") not in CATEGORIES:
        problems.append(f"category {meta.get('category')!r} is not one of the known categories")
    synonyms = meta.get("synonyms")
    if not isinstance(synonyms, list) or not synonyms:
        problems.append("synonyms must be a non-empty list")
    elif not any(has_cjk(str(s)) for s in synonyms):
        problems.append("synonyms need at least one Chinese term")
    if not str(meta.get("audience") or "").strip():
        problems.append("missing audience")
    if not isinstance(meta.get("reviewed"), dt.date):
        problems.append("reviewed must be a date (YYYY-MM-DD)")
    urls = [s.get("url", "") for s in meta.get("sources") or [] if isinstance(s, dict)]
    good = [u for u in urls if _URL.match(str(u))]
    if len(set(good)) < 2:
        problems.append(f"needs at least two distinct source URLs (found {len(set(good))})")
    return problems


def _sections(content: str) -> list[tuple[str, str]]:
    parts = re.split(r"^##\s+(.+?)\s*$", content, flags=re.M)
    return [(parts[i].strip(), parts[i + 1]) for i in range(1, len(parts) - 1, 2)]


def _grade(content: str) -> float:
    """Flesch-Kincaid grade with a vowel-group syllable count.

    Why not textstat: it fetches a pronunciation dictionary from the internet on first use, which this project
    must never do; the heuristic is within about a grade of it on plain English.
    """
    text = re.sub(r"^#+\s.*$", "", content, flags=re.M)
    lines = [ln.strip(" -*\t") for ln in text.splitlines() if ln.strip()]
    sentences = sum(max(1, len(re.findall(r"[.!?]+(\s|$)", ln))) for ln in lines)
    words = re.findall(r"[A-Za-z]+(?:'[a-z]+)?", text)
    if not words or not sentences:
        return 0.0
    syllables = sum(_syllables(w) for w in words)
    return 0.39 * len(words) / sentences + 11.8 * syllables / len(words) - 15.59


def _syllables(word: str) -> int:
    word = word.lower()
    groups = len(re.findall(r"[aeiouy]+", word))
    if word.endswith("e") and not word.endswith(("le", "ee")) and groups > 1:
        groups -= 1
    return max(1, groups)


def run_check(settings: Settings, list_missed: bool = False) -> int:
    """Print every problem and the warning-sign coverage; exit status 1 if there is any problem or the coverage is
    below :data:`~chatbot.knowledge.warning_signs.MIN_COVERAGE`. ``list_missed`` also lists every uncovered sign."""
    from rich.console import Console

    from chatbot.safety import check_rulebook

    console = Console(highlight=False)
    topics = check_topics(settings.knowledge_dir / "topics")
    rule_problems = check_rulebook(settings.path(settings.safety.rulebook))
    problems = topics.problems + [f"red_flags.yaml: {p}" for p in rule_problems]
    grades = sorted(topics.grades.values())
    median = grades[len(grades) // 2] if grades else 0.0
    console.print(f"topics: {len(topics.grades)} checked, median reading grade {median:.1f}")
    if not rule_problems:
        problems += _coverage(settings, console, list_missed)
    problems += _translations(settings, console)
    if problems:
        console.print(f"[red]{len(problems)} problem(s):[/red]")
        for problem in problems:
            console.print(f"  - {problem}", markup=False)
        return 1
    console.print("[green]knowledge check passed[/green]")
    return 0


def _coverage(settings: Settings, console: object, list_missed: bool) -> list[str]:
    """Print how many of the topics' warning signs the rulebook recognises; a problem below the minimum."""
    from chatbot.answer import TriageLevel
    from chatbot.knowledge.warning_signs import MIN_COVERAGE, load_exemptions, measure_coverage
    from chatbot.safety.screen import RedFlagScreen

    screen = RedFlagScreen.from_path(settings.path(settings.safety.rulebook))
    exemptions = load_exemptions(settings.knowledge_dir / "warning_signs_exempt.yaml")
    report = measure_coverage(settings.knowledge_dir / "topics", screen, exemptions)
    parts = []
    for level, name in ((TriageLevel.emergency, "emergency"), (TriageLevel.urgent, "same day")):
        covered, judged = report.by_level(level)
        parts.append(f"{name} {covered}/{judged}")
    console.print(  # type: ignore[attr-defined]
        f"warning signs covered by a rule: {report.coverage:.1%} ({', '.join(parts)}; "
        f"{len(report.exempt)} listed as not expressible as a rule)"
    )
    if list_missed:
        for sign in report.missed:
            console.print(f"  missed [{sign.level.value}] {sign.topic_id}: {sign.text}", markup=False)  # type: ignore
    problems = [f"warning_signs_exempt.yaml: no such warning sign: {s}" for s in report.stale_exemptions]
    if report.coverage < MIN_COVERAGE:
        problems.append(
            f"warning-sign coverage {report.coverage:.1%} is below {MIN_COVERAGE:.0%}: "
            "run 'python -m chatbot knowledge coverage' for the list"
        )
    return problems


def _translations(settings: Settings, console: object) -> list[str]:
    """Print how many warning signs have a Chinese version; a translation of a bullet that was since edited or
    removed is a problem (a Chinese patient would read an outdated sign), a bullet without one is only counted (its
    reason is left out of a Chinese reply)."""
    from chatbot.knowledge.sign_translations import load_sign_translations, sign_key, stale
    from chatbot.knowledge.warning_signs import iter_warning_signs

    translations = load_sign_translations(settings.knowledge_dir / "warning_signs_zh")
    bullets = {sign_key(s.topic_id, s.text) for s in iter_warning_signs(settings.knowledge_dir / "topics")}
    console.print(f"warning signs with a Chinese version: {len(bullets & set(translations))}/{len(bullets)}")  # type: ignore
    return [f"warning_signs_zh: no such warning sign any more: {topic}: {text}"
            for topic, text in stale(translations, bullets)]

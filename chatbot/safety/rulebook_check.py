"""The rulebook checker: schema problems, references, sources, and every rule proved against its own examples
through the real screen. A module of its own because it needs both the rulebook and the screen, and the screen needs
the rulebook: nothing here is imported back.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from chatbot.answer import TriageLevel
from chatbot.safety.language import detect_language
from chatbot.safety.rulebook import DEFAULT_RULEBOOK_PATH, Rule, RulebookError, load_rulebook, schema_problems
from chatbot.safety.screen import RedFlagScreen

AUTHORITATIVE_DOMAINS = (
    "nhs.uk", "nhsinform.scot", "nice.org.uk", "cdc.gov", "nih.gov", "medlineplus.gov", "who.int", "fda.gov",
    "healthdirect.gov.au", "poison.org", "988lifeline.org", "samaritans.org", "stroke.org", "heart.org",
    "rcpch.ac.uk", "rcog.org.uk", "mayoclinic.org", "aafp.org", "healthychildren.org", "nhc.gov.cn",
)


def _check_sources(rule: Rule) -> list[str]:
    problems: list[str] = []
    for url in rule.source:
        parsed = urlparse(url)
        host = (parsed.hostname or "").lower()
        if parsed.scheme != "https" or not host:
            problems.append(f"{rule.id}: source {url!r} is not an https URL")
        elif not any(host == d or host.endswith("." + d) for d in AUTHORITATIVE_DOMAINS):
            problems.append(f"{rule.id}: source {url!r} is not on an authoritative domain")
    return problems


def _check_examples(rule: Rule, screen: RedFlagScreen) -> list[str]:
    """Positives must fire this rule and negatives must not, through the real screen; both languages covered."""
    problems: list[str] = []
    languages = set()
    for example in rule.examples.positive:
        messages = [example] if isinstance(example, str) else example
        languages.add(detect_language(" ".join(messages)))
        if rule.id not in screen.fired_ids(messages):
            problems.append(f"{rule.id}: positive example does not fire: {example!r}")
    for example in rule.examples.negative:
        messages = [example] if isinstance(example, str) else example
        if rule.id in screen.fired_ids(messages):
            problems.append(f"{rule.id}: negative example fires: {example!r}")
    for lang in ("en", "zh"):
        if lang not in languages:
            problems.append(f"{rule.id}: no positive example in {lang}")
    return problems


def check_rulebook(path: str | Path = DEFAULT_RULEBOOK_PATH) -> list[str]:
    """Every problem with the rulebook at ``path``, as readable lines; an empty list means it is fit to ship."""
    try:
        book = load_rulebook(path)
    except RulebookError as exc:
        return [str(exc)]
    problems = schema_problems(book)
    for rule in book.rules:
        problems += _check_sources(rule)
        if rule.crisis and rule.triage_level != TriageLevel.emergency:  # a crisis message is always an emergency
            problems.append(f"{rule.id}: a crisis rule must have level emergency")
    if problems:
        return problems  # examples cannot be run against a rulebook that does not compile
    screen = RedFlagScreen(book)
    for rule in book.rules:
        problems += _check_examples(rule, screen)
    return problems

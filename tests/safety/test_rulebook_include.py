"""Rulebook include files and the knowledge base's warning-sign coverage measurement."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatbot.answer import TriageLevel
from chatbot.knowledge.warning_signs import iter_warning_signs, load_exemptions, measure_coverage
from chatbot.safety.rulebook import RulebookError, load_rulebook
from chatbot.safety.screen import RedFlagScreen

RULE = """
  - id: rf.test.{name}
    level: {level}
    title: {{en: t, zh: t}}
    message: {{en: m, zh: m}}
    source: https://www.nhs.uk/
    match: {{all: [{concept}]}}
    examples: {{positive: ["{pos}", "{zh}"], negative: ["nothing"]}}
"""


def _write(folder: Path, main_extra: str = "", part: str = "") -> Path:
    (folder / "parts").mkdir(exist_ok=True)
    (folder / "parts" / "one.yaml").write_text(part, encoding="utf-8")
    main = folder / "rules.yaml"
    main.write_text(
        "version: 1\ninclude: [parts/one.yaml]\nconcepts:\n  bleed: {en: ['bleeding'], zh: ['出血']}\nrules:"
        + RULE.format(name="bleed", level="urgent", concept="bleed", pos="bleeding", zh="出血") + main_extra,
        encoding="utf-8",
    )
    return main


def test_included_files_add_concepts_and_rules(tmp_path):
    part = "concepts:\n  faint: {en: ['fainted'], zh: ['晕倒']}\nrules:" + RULE.format(
        name="faint", level="emergency", concept="faint", pos="I fainted", zh="晕倒了")
    book = load_rulebook(_write(tmp_path, part=part))
    assert [r.id for r in book.rules] == ["rf.test.bleed", "rf.test.faint"]
    screen = RedFlagScreen(book)
    assert screen.screen(["she fainted"]).level == TriageLevel.emergency


def test_a_name_defined_twice_across_files_is_an_error(tmp_path):
    part = "concepts:\n  bleed: {en: ['blood'], zh: ['血']}\nrules: []\n"
    with pytest.raises(RulebookError, match="already defined"):
        load_rulebook(_write(tmp_path, part=part))


def test_an_include_cycle_is_an_error(tmp_path):
    part = "include: [../rules.yaml]\nrules: []\n"
    with pytest.raises(RulebookError, match="cycle"):
        load_rulebook(_write(tmp_path, part=part))


def _topic(folder: Path, same_day: list[str], emergency: list[str]) -> None:
    bullets = lambda items: "\n".join(f"- {i}" for i in items)  # noqa: E731
    (folder / "bleeding.md").write_text(
        "---\nid: bleeding\ntitle: Bleeding\n---\n\n# Bleeding\n\n## What it is\nx\n\n"
        f"## When to get help the same day\n{bullets(same_day)}\n\n"
        f"## When to call emergency services\n{bullets(emergency)}\n",
        encoding="utf-8",
    )


def test_coverage_counts_a_sign_only_when_a_rule_of_its_level_reads_it(tmp_path):
    (tmp_path / "topics").mkdir()
    _topic(tmp_path / "topics", ["bleeding that will not stop", "a rash"], ["you fainted", "you are worried"])
    part = "concepts:\n  faint: {en: ['fainted'], zh: ['晕倒']}\nrules:" + RULE.format(
        name="faint", level="emergency", concept="faint", pos="I fainted", zh="晕倒了")
    screen = RedFlagScreen(load_rulebook(_write(tmp_path, part=part)))
    signs = list(iter_warning_signs(tmp_path / "topics"))
    assert [(s.level.value, s.text) for s in signs] == [
        ("urgent", "bleeding that will not stop"), ("urgent", "a rash"),
        ("emergency", "you fainted"), ("emergency", "you are worried")]
    exempt = {("bleeding", "you are worried"): "no sign to recognise"}
    report = measure_coverage(tmp_path / "topics", screen, exempt)
    assert {s.text for s, _ in report.covered} == {"bleeding that will not stop", "you fainted"}
    assert [s.text for s in report.missed] == ["a rash"]
    assert report.coverage == pytest.approx(2 / 3)
    assert report.by_level(TriageLevel.emergency) == (1, 1)


def test_a_title_that_fires_by_itself_does_not_cover_its_signs(tmp_path):
    (tmp_path / "topics").mkdir()
    _topic(tmp_path / "topics", ["it gets worse"], [])
    screen = RedFlagScreen(load_rulebook(_write(tmp_path, part="rules: []\n")))
    report = measure_coverage(tmp_path / "topics", screen, {})
    assert [s.text for s in report.missed] == ["it gets worse"]  # "Bleeding: it gets worse" fires only via the title


def test_stale_exemptions_are_reported(tmp_path):
    (tmp_path / "topics").mkdir()
    _topic(tmp_path / "topics", [], ["you fainted"])
    path = tmp_path / "exempt.yaml"
    path.write_text("exempt:\n  bleeding:\n    - {sign: gone, reason: r}\n", encoding="utf-8")
    screen = RedFlagScreen(load_rulebook(_write(tmp_path, part="rules: []\n")))
    report = measure_coverage(tmp_path / "topics", screen, load_exemptions(path))
    assert report.stale_exemptions == ["bleeding: gone"]

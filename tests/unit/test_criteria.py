"""Reasons traced to the library (chatbot.knowledge.criteria): which warning-sign bullets each rule recognises,
and how a turn shows them."""

from __future__ import annotations

import re
import shutil

import pytest

from chatbot.config import PROJECT_ROOT
from chatbot.conversation import Session
from chatbot.knowledge import criteria as criteria_module
from chatbot.knowledge.criteria import CriteriaIndex, Criterion, build_index, load_index, rulebook_files
from chatbot.safety.rulebook import load_rulebook
from chatbot.safety.screen import RedFlagScreen

KNOWLEDGE = PROJECT_ROOT / "knowledge"
RULEBOOK = KNOWLEDGE / "red_flags.yaml"
EXEMPT = KNOWLEDGE / "warning_signs_exempt.yaml"


@pytest.fixture(scope="module")
def screen() -> RedFlagScreen:
    return RedFlagScreen(load_rulebook(RULEBOOK))


@pytest.fixture
def topics(tmp_path):
    folder = tmp_path / "topics"
    folder.mkdir()
    for name in ("appendicitis.md", "heart-attack.md", "sore-throat.md"):
        shutil.copy(KNOWLEDGE / "topics" / name, folder / name)
    return folder


def test_every_criterion_is_a_warning_sign_bullet_that_its_rules_recognise(screen, topics):
    index = build_index(topics, screen, EXEMPT)
    assert index.criteria and {c.topic_id for c in index.criteria} <= {"appendicitis", "heart-attack", "sore-throat"}
    for c in index.criteria:
        source = (topics / f"{c.topic_id}.md").read_text(encoding="utf-8")
        assert re.search(rf"^## {c.section}\n(?:.*\n)*?- {re.escape(c.text)}", source, re.M)  # under its section
        probes = (c.text, f"{c.title}: {c.text}")  # as the knowledge check probes a bullet
        fired = {f.id for probe in probes for f in screen.screen([probe]).fired}
        assert set(c.rules) <= fired


def _c(topic: str, text: str, *rules: str) -> Criterion:
    return Criterion(topic, topic.title(), "When to get help the same day", text, rules)


def test_a_rule_gives_the_bullet_of_the_most_relevant_topic_that_shares_most_of_the_patients_words():
    index = CriteriaIndex([_c("b", "pain in the lower right", "r1"), _c("a", "pain that moved", "r1"),
                           _c("a", "pain that moved to the lower right belly", "r1"), _c("c", "a rash", "r2")])
    picked = index.for_rules(["r1", "r2"], ["a", "b"], {"lower", "right", "belly"})
    assert [c.text for c in picked] == ["pain that moved to the lower right belly"]  # r2's topic is not in evidence
    assert index.for_rules(["r1"], ["b", "a"]) == [index.criteria[0]]
    assert len(index.for_rules(["r1", "r1", "r1"], ["a", "b"], limit=2)) == 2


def test_the_map_is_cached_by_content_and_rebuilt_when_a_file_changes(screen, topics, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    files = rulebook_files(RULEBOOK)
    assert RULEBOOK in files and len(files) > 1  # the included files count too
    first = load_index(topics, files, screen, EXEMPT, cache)
    assert len(list(cache.glob("criteria-*.json"))) == 1
    monkeypatch.setattr(criteria_module, "_MEMO", {})
    monkeypatch.setattr(criteria_module, "build_index", lambda *a: pytest.fail("rebuilt although unchanged"))
    assert load_index(topics, files, screen, EXEMPT, cache).criteria == first.criteria  # read from the file
    (topics / "sore-throat.md").unlink()
    monkeypatch.undo()
    monkeypatch.setattr(criteria_module, "_MEMO", {})
    again = load_index(topics, files, screen, EXEMPT, cache)
    assert "sore-throat" not in {c.topic_id for c in again.criteria} and len(list(cache.glob("*.json"))) == 2


def test_an_english_turn_shows_the_librarys_sign_after_the_rules_and_a_chinese_one_its_translation(engine):
    session = Session()
    triage = engine.ask(session, "I'm 58 and I have crushing chest pain spreading to my left arm").triage
    assert triage.red_flags and triage.criteria
    at = len(triage.red_flags)
    assert triage.reasons[at].startswith(f"{triage.criteria[0].title} → {triage.criteria[0].section}: ")
    assert set(triage.criteria[0].rules) & {h.id for h in triage.red_flags}
    zh = engine.ask(Session(), "我58岁，胸口压榨样疼痛，一直放射到左臂").triage
    assert zh.red_flags and zh.criteria
    assert zh.reasons[len(zh.red_flags)].startswith(f"{zh.criteria[0].title} → {zh.criteria[0].section}：")
    assert zh.criteria[0].section in {"需要立即拨打急救电话的情况", "需要当天就医的情况"}
    assert not any(re.search(r"[A-Za-z]{3,}", r) for r in zh.reasons)


def _uncited_passage_sentence(engine, message: str) -> str:
    """A sentence of a retrieved passage the badge does not cite, marked [1]: an answer whose own citation would
    take the first number if nothing pinned the badge's."""
    from chatbot.generation.citations import quotable_sentences

    first = engine.triage_only(Session(), message)
    cited = {first.sources[c.source - 1].chunk_id for c in first.triage.criteria}
    hits = engine.retrieve(Session(), message, "zh" if re.search(r"[\u4e00-\u9fff]", message) else "en").hits
    other = next(h for h in hits if h.id not in cited)
    sentences = quotable_sentences(engine.prompting.passage(other))
    plain = [q for q in sentences if not re.search(r"\d|emergency|call", q, re.I)]
    return max(plain, key=len) + " [1]"  # no service numbers: the locale check would replace the sentence


@pytest.mark.parametrize("message", ["I'm 58 and I have crushing chest pain spreading to my left arm",
                                     "我58岁，胸口压榨样疼痛，一直放射到左臂"])
@pytest.mark.parametrize("answer", ["other", "The moon causes chest pain [1]."])
def test_a_library_reason_cites_the_listed_source_it_comes_from_whatever_the_answer_cites(engine, message, answer):
    """The badge is shown before the answer, so its [n] cannot follow the answer's renumbering: the sources it
    cites keep [1..p] in every reply kind (answer, quoted passages, not in my sources)."""
    from chatbot.generation import FakeLLM

    engine.settings.generation.quote_min_relevance = 0.2  # the hashed fake embedder's cosines run lower
    if answer == "other":
        answer = _uncited_passage_sentence(engine, message)
    engine._llm = FakeLLM(answer=answer)
    events = list(engine.stream(Session(), message))
    shown, final = next(e.data["triage"] for e in events if e.type == "triage"), events[-1].answer
    assert shown.criteria and final.sources
    assert final.kind == ("quoted" if "moon" in answer else "answer")  # each reply kind that lists sources
    listed = {s.n: s.chunk_id for s in final.sources}
    hits = engine.retrieve(Session(), message, final.language).hits
    for c in shown.criteria:  # the very passage: the best retrieved one of the criterion's topic
        assert listed.get(c.source) == next(h.id for h in hits if h.metadata.get("topic_id") == c.topic_id)
        assert any(r.endswith(f"[{c.source}]") and c.text in r for r in shown.reasons)
    pinned = sorted({c.source for c in shown.criteria})
    assert pinned == list(range(1, len(pinned) + 1))  # they come first
    assert [s.n for s in final.sources] == list(range(1, len(final.sources) + 1))


def test_every_bullet_has_one_current_chinese_version_and_a_missing_one_is_left_out(engine, tmp_path):
    from chatbot.knowledge.sign_translations import load_sign_translations, sign_key, stale
    from chatbot.knowledge.warning_signs import iter_warning_signs

    translations = load_sign_translations(KNOWLEDGE / "warning_signs_zh")
    bullets = [sign_key(s.topic_id, s.text) for s in iter_warning_signs(KNOWLEDGE / "topics")]
    assert stale(translations, bullets) == []  # an edited bullet must be translated again, not shown outdated
    assert set(bullets) <= set(translations)
    assert all(not re.search(r"[A-Za-z]{3,}", zh) for zh in translations.values())
    # without translations a Chinese turn shows the rules' reasons only, never the English bullet
    engine.sign_translations = {}
    zh = engine.ask(Session(), "我58岁，胸口压榨样疼痛，一直放射到左臂").triage
    assert zh.red_flags and zh.criteria == []
    assert not any(re.search(r"[A-Za-z]{3,}", r) for r in zh.reasons)


def test_a_broken_translation_line_is_skipped_not_shown(tmp_path, caplog):
    from chatbot.knowledge.sign_translations import load_sign_translations

    (tmp_path / "x.jsonl").write_text(
        '{"topic_id": "a", "en": "chest pain.", "zh": "胸痛"}\nnot json\n{"topic_id": "b", "en": "x", "zh": "no"}\n',
        encoding="utf-8")
    assert load_sign_translations(tmp_path) == {("a", "chest pain"): "胸痛"}
    assert "not a translation" in caplog.text and "no Chinese" in caplog.text


def _traceable(reason: str, triage, lang: str) -> bool:
    """A reason is a fired rule's, a care floor's (quoting the patient), a library criterion or the fixed one."""
    from chatbot.safety.messages import texts_for
    from chatbot.safety.triage import _FALLBACK_REASON, _RULE_REASON

    rules = {_RULE_REASON[lang].format(title=h.title or h.id) for h in triage.red_flags}
    floors = {f.reason for f in triage.care_floors}
    template = texts_for("criterion_reason").get(lang, "")
    marker = "[{}]" if lang == "zh" else " [{}]"
    criteria = {template.format(title=c.title, section=c.section, sign=c.text, cite=marker.format(c.source))
                for c in triage.criteria}
    return reason in rules | floors | criteria | {_FALLBACK_REASON[lang]}


def test_every_reason_on_the_safety_sets_is_traced_to_a_rule_a_floor_or_the_library(engine):
    """The automatic traceability check of #11 on 120 real-world messages of both kinds, through triage_only."""
    import json

    rows = []
    for name in ("safety_emergency.jsonl", "safety_benign.jsonl"):
        lines = (PROJECT_ROOT / "evals" / "data" / name).read_text(encoding="utf-8").splitlines()
        rows += [json.loads(line) for line in lines[::10]]
    untraced, with_criteria = [], 0
    for row in rows:
        text = row.get("messages", [row.get("text", "")])[-1]
        answer = engine.triage_only(Session(), text)
        triage = answer.triage
        lang = "zh" if re.search(r"[\u4e00-\u9fff]", text) else "en"
        untraced += [(text, r) for r in triage.reasons if not _traceable(r, triage, lang)]
        with_criteria += bool(triage.criteria)
        listed = {s.n: s.topic_id for s in answer.sources}
        untraced += [(text, c.text) for c in triage.criteria if listed.get(c.source) != c.topic_id]
    assert len(rows) > 60 and untraced == []
    assert with_criteria > 0  # the library's signs do show (topics of the mini corpus)

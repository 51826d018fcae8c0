"""The citation check (chatbot.generation.citations) on hand-made answers with the fake embedder, and in the engine."""

import re

import pytest

from chatbot.config import PROJECT_ROOT
from chatbot.conversation import Session
from chatbot.embedding import FakeEmbedder
from chatbot.generation import FakeLLM
from chatbot.generation.citations import CitationCheck, Cues, split_answer
from chatbot.retrieval.glossary import Glossary

VIRUS = "A sore throat is usually caused by a virus. It gets better on its own within about a week."
SELF_CARE = "Gargle with warm salty water. Drink plenty of fluids and rest. Suck ice cubes or lozenges."
DOCTOR = "Book an appointment if your sore throat has not improved after a week."
ADVICE = "Please get medical help today; do not wait to see if it passes."


@pytest.fixture(scope="module")
def check() -> CitationCheck:
    glossary = Glossary.load(PROJECT_ROOT / "knowledge" / "glossary_zh_en.yaml")
    return CitationCheck(FakeEmbedder(), Cues.from_path(), min_support=1.0, lexical_weight=0.5, glossary=glossary,
                         min_support_zh=0.6)


def test_a_sentence_moves_to_the_passage_that_supports_it_and_numbers_follow_first_use(check):
    answer = "Gargle with warm salty water [1]. A sore throat is usually caused by a virus [1]."
    result = check.check(answer, [VIRUS, SELF_CARE])
    assert result.text == "Gargle with warm salty water [1]. A sore throat is usually caused by a virus [2]."
    assert result.kept == [2, 1]  # [1] is now passage 2 (first used), [2] passage 1
    assert result.moved == 1 and not result.dropped  # the first sentence moved; the second already cited [1]


def test_unsupported_claim_is_dropped_and_a_safety_net_stays_without_a_marker(check):
    answer = ("Drink plenty of fluids and rest [2]. Vitamin C tablets cure this overnight [1]. "
              "See a doctor if you feel worse [1].")
    result = check.check(answer, [VIRUS, SELF_CARE])
    assert result.dropped == ["Vitamin C tablets cure this overnight."]
    assert result.text == "Drink plenty of fluids and rest [1]. See a doctor if you feel worse."
    assert result.kept == [2]


def test_a_supported_sentence_without_a_marker_gets_one(check):
    result = check.check("Book an appointment if your sore throat has not improved after a week.", [VIRUS, DOCTOR])
    assert result.text == "Book an appointment if your sore throat has not improved after a week [1]."
    assert result.kept == [2]


def test_unused_sources_are_not_kept(check):
    answer = "Suck ice cubes or lozenges [1]. It gets better on its own within about a week [2]."
    result = check.check(answer, [VIRUS, DOCTOR, SELF_CARE])
    assert result.kept == [3, 1]  # passage 2 supports nothing: not listed
    assert re.findall(r"\[(\d)\]", result.text) == ["1", "2"]


def test_chinese_answer_is_read_through_the_glossary(check):
    answer = "喉咙痛怎么办[2]？多喝水，多休息[1]。板蓝根冲剂可以杀死所有细菌[2]。"
    result = check.check(answer, [VIRUS, "Rest and drink plenty of fluids."])
    assert result.text == "喉咙痛怎么办？多喝水，多休息[1]。"  # a question: never cited; the cure: gone
    assert result.kept == [2]
    assert result.dropped == ["板蓝根冲剂可以杀死所有细菌。"]


def test_the_levels_fixed_advice_and_talk_are_kept(check):
    answer = f"I'm sorry you feel unwell. Drink plenty of fluids and rest [3]. Homeopathy cures it [1].\n\n{ADVICE}"
    result = check.check(answer, [VIRUS, SELF_CARE], fixed=[ADVICE])
    assert result.text == f"I'm sorry you feel unwell. Drink plenty of fluids and rest [1].\n\n{ADVICE}"
    assert result.fixed == [ADVICE] and result.kept == [2]


def test_layout_survives_dropped_bullets(check):
    answer = "You can try:\n- Gargle with warm salty water [1]\n- Garlic kills the virus [1]\n- Suck ice cubes [2]"
    result = check.check(answer, [VIRUS, SELF_CARE])
    assert result.text == "You can try:\n- Gargle with warm salty water [1]\n- Suck ice cubes [1]"


def test_nothing_supported_leaves_nothing_cited(check):
    result = check.check("Garlic kills the virus [1]. Homeopathy works [2].", [VIRUS, SELF_CARE])
    assert result.kept == [] and result.text == ""


def test_splitting_keeps_decimals_and_trailing_markers_with_their_sentence():
    units, _ = split_answer("A fever is 38.5C or more. [2] Give fluids [1][3]. 多喝水[1]。休息")
    assert [(u.body, u.end, u.cites) for u in units] == [
        ("A fever is 38.5C or more", ".", [2]), ("Give fluids", ".", [1, 3]), ("多喝水", "。", [1]), ("休息", "", [])]


# ---- in the engine -----------------------------------------------------------------------------------------------
QUESTION = "My sore throat hurts when I swallow, what can I do at home?"


def _turn(engine, answer: str):
    engine._llm = FakeLLM(answer=answer)
    events = list(engine.stream(Session(), QUESTION))
    return events, events[-1].answer


def _passages(engine) -> list[str]:
    return [engine._prompted(h) for h in engine.retrieve(Session(), QUESTION, "en").hits]


def test_engine_replace_event_and_final_sources_agree(engine):
    passages = _passages(engine)
    sentence = next(s for s in split_answer(passages[-1])[0] if len(s.body.split()) >= 5).body
    events, answer = _turn(engine, f"{sentence} [1]. The moon causes sore throats [2].")
    replaced = [e.text for e in events if e.type == "replace"]
    assert replaced == [answer.answer] and answer.kind == "answer"
    assert "moon" not in answer.answer and answer.answer.startswith(sentence)
    assert [s.n for s in answer.sources] == list(range(1, len(answer.sources) + 1))
    cited = sorted({int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)})
    assert cited == [s.n for s in answer.sources] == [1]  # only the source that supports something is listed
    assert answer.sources[0].chunk_id == engine.retrieve(Session(), QUESTION, "en").hits[-1].id
    assert answer.timings.cite_ms is not None


def test_engine_answer_with_nothing_supported_falls_back_to_the_fixed_text(engine):
    events, answer = _turn(engine, "The moon causes sore throats [1]. Garlic cures it [2].")
    assert answer.kind == "no_sources" and answer.sources == []
    assert answer.answer.startswith(engine.prompts.text("no_sources", "en"))
    assert [e.text for e in events if e.type == "replace"] == [answer.answer]


def test_engine_without_the_check_keeps_the_models_citations(engine):
    engine.settings.generation.citation_check = False
    _, answer = _turn(engine, "The moon causes sore throats [1].")
    assert answer.answer == "The moon causes sore throats [1]." and len(answer.sources) >= 1

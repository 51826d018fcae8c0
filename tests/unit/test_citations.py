"""The citation check (chatbot.generation.citations) on hand-made answers with the fake embedder, and in the engine."""

import re

import pytest

from chatbot.config import PROJECT_ROOT
from chatbot.conversation import Session
from chatbot.embedding import FakeEmbedder
from chatbot.generation import FakeLLM
from chatbot.generation.citations import CitationCheck, Cues, quotable_sentences, split_answer
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


def test_pinned_passages_keep_the_first_numbers_and_stay_listed_when_uncited(check):
    """The badge cites passage 3 as [1] before the answer exists: the answer's own citations number after it."""
    answer = "Suck ice cubes or lozenges [3]. It gets better on its own within about a week [1]."
    result = check.check(answer, [VIRUS, DOCTOR, SELF_CARE], pinned=[2])
    assert result.kept == [2, 3, 1]  # the pinned passage first although the answer does not cite it
    assert result.text == "Suck ice cubes or lozenges [2]. It gets better on its own within about a week [3]."
    assert result.cites_any
    nothing = check.check("The moon causes sore throats [1].", [VIRUS, DOCTOR], pinned=[2])
    assert nothing.kept == [2] and not nothing.cites_any  # still listed; the engine then quotes instead


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
    engine.settings.generation.quote_min_relevance = 0.2  # the hashed fake embedder's cosines run lower than MiniLM's
    events = list(engine.stream(Session(), QUESTION))
    return events, events[-1].answer


def _passages(engine) -> list[str]:
    return [engine.prompting.passage(h) for h in engine.retrieve(Session(), QUESTION, "en").hits]


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


def test_engine_answer_with_nothing_supported_quotes_the_passages_instead(engine):
    events, answer = _turn(engine, "The moon causes sore throats [1]. Garlic cures it [2].")
    assert answer.kind == "quoted" and "moon" not in answer.answer and "Garlic" not in answer.answer
    assert answer.answer.startswith(engine.prompts.text("quoted_intro", "en"))
    passages = _passages(engine)
    quoted = re.findall(r"^- (.+) \[(\d+)\]\.$", answer.answer, re.M)
    assert 1 <= len(quoted) <= engine.settings.generation.quote_sentences
    by_chunk = {h.id: engine.prompting.passage(h) for h in engine.retrieve(Session(), QUESTION, "en").hits}
    for sentence, n in quoted:  # each quoted line is a sentence of the very passage its marker names
        assert sentence in quotable_sentences(by_chunk[answer.sources[int(n) - 1].chunk_id])
    assert [s.n for s in answer.sources] == list(range(1, len(answer.sources) + 1)) and passages
    assert [e.text for e in events if e.type == "replace"] == [answer.answer]


def test_engine_says_not_in_my_sources_when_quoting_is_off(engine):
    engine.settings.generation.quote_sentences = 0
    _, answer = _turn(engine, "The moon causes sore throats [1]. Garlic cures it [2].")
    assert answer.kind == "no_sources" and answer.sources == []
    assert answer.answer.startswith(engine.prompts.text("no_sources", "en"))


def test_a_chinese_patient_gets_the_topics_to_look_up_not_english_quotes(engine):
    engine._llm = FakeLLM(answer="月亮会引起喉咙痛[1]。")
    engine.settings.generation.quote_min_relevance = 0.2
    answer = list(engine.stream(Session(), "喉咙痛，吞咽的时候很疼，在家怎么办？"))[-1].answer
    assert answer.kind == "quoted" and answer.answer.startswith(engine.prompts.text("quoted_intro", "zh"))
    lines = re.findall(r"^- (.+)\[(\d+)\]$", answer.answer, re.M)
    assert lines and all(not re.search(r"[A-Za-z]", name) for name, _ in lines)  # names in Chinese only
    assert len(answer.sources) == len(lines)


def test_excerpts_pick_the_sentences_that_answer_the_question_in_reading_order(check):
    picked = check.excerpts("what can I do at home for a sore throat, fluids?", [VIRUS, SELF_CARE, DOCTOR],
                            limit=3, floor=0.0, per_passage=2)
    assert len(picked) == 3
    assert picked == sorted(picked, key=lambda p: (p[0], [VIRUS, SELF_CARE, DOCTOR][p[0] - 1].index(p[1])))
    assert sum(1 for n, _ in picked if n == 2) <= 2  # no passage fills the answer alone
    assert all(sentence in [VIRUS, SELF_CARE, DOCTOR][n - 1] for n, sentence in picked)


def test_quotable_sentences_join_list_items_to_their_lead_in_and_leave_fragments_out():
    passage = ("See a GP if a small burn:\n- is not healing after 2 weeks\n- gets more painful\n"
               "Symptoms:\n\nA cold spreads through coughs and sneezes. a fragment with no start. Rest.")
    assert quotable_sentences(passage) == [
        "See a GP if a small burn is not healing after 2 weeks", "See a GP if a small burn gets more painful",
        "A cold spreads through coughs and sneezes"]


def test_a_capitalised_list_item_continues_its_lead_in_in_lower_case_but_acronyms_keep_theirs():
    passage = "Get help the same day if:\n- You heard a crack at the time of injury\n- NHS 111 told you to go\n"
    assert quotable_sentences(passage) == ["Get help the same day if you heard a crack at the time of injury",
                                           "Get help the same day if NHS 111 told you to go"]


def test_excerpts_leave_out_what_keep_refuses(check):
    picked = check.excerpts("sore throat fluids", [VIRUS, SELF_CARE], limit=4, floor=0.0,
                            keep=lambda sentence: "fluids" not in sentence)
    assert picked and all("fluids" not in sentence for _, sentence in picked)


def test_excerpts_quote_nothing_below_the_floor_or_from_headings(check):
    assert check.excerpts("sore throat", [VIRUS, SELF_CARE], limit=3, floor=9.0) == []
    assert check.excerpts("sore throat", ["You can try:", "Rest."], limit=3, floor=0.0) == []


def test_engine_without_the_check_keeps_the_models_citations(engine):
    engine.settings.generation.citation_check = False
    _, answer = _turn(engine, "The moon causes sore throats [1].")
    assert answer.answer == "The moon causes sore throats [1]." and len(answer.sources) >= 1


def test_a_sentence_opening_with_its_source_keeps_the_marker_and_loses_the_opening():
    units = split_answer("根据[1]，高血压药通常需要长期服用。According to [2], rest helps.")[0]
    assert [(u.body, u.cites) for u in units] == [("高血压药通常需要长期服用", [1]), ("Rest helps", [2])]

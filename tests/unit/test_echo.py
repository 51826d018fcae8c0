"""Echoed instructions, copied examples, restated questions and loops are taken out of the answer
(chatbot.generation.echo), and the engine does it on every streamed answer."""

from chatbot.conversation import Session
from chatbot.generation import FakeLLM
from chatbot.generation.echo import EchoFilter, LoopGuard
from chatbot.generation.prompts import PromptLibrary

BLOCK_STATEMENT = "The safety checks have already set the urgency to EMERGENCY. Your answer tells the patient."
BLOCK_ADVICE = "to call the emergency number now, and never suggests waiting."
EXAMPLE = "Rest and drink plenty of fluids [1]. Paracetamol or ibuprofen can ease aches; follow the packet [1]."
QUESTION = "my 2 year old has had a temperature of 38.5 since yesterday and is drinking less than usual"
PASSAGE = "Chest pain can feel tight, heavy or like pressure or squeezing. Rest and drink plenty of fluids if you can."


def _filter() -> EchoFilter:
    return EchoFilter([BLOCK_STATEMENT, EXAMPLE, QUESTION, "血压140/90，高血压药是不是要吃一辈子"],
                      protected=[PASSAGE, BLOCK_ADVICE])


def test_copied_instructions_example_and_question_are_dropped_and_the_rest_kept_as_written():
    answer = ("The safety checks have already set the urgency to EMERGENCY [1]. Paracetamol or ibuprofen can ease "
              "aches [2]. Your 2-year-old has had a temperature of 38.5 since yesterday and is drinking less than "
              "usual. Cool the burn under cool running water for 20 minutes [2].")
    text, dropped = _filter().clean(answer)
    assert text == "Cool the burn under cool running water for 20 minutes [2]."
    assert len(dropped) == 3


def test_what_the_passages_and_the_advice_line_say_is_never_an_echo():
    # "Rest and drink plenty of fluids" is both in the worked example and in a retrieved passage: the passage wins.
    answer = "Rest and drink plenty of fluids if you can [1]. You should call the emergency number now, do not wait."
    assert _filter().clean(answer) == (answer, [])


def test_a_sentence_about_the_answer_itself_is_dropped_even_when_it_carries_the_advice():
    text, dropped = _filter().clean("Your answer tells the patient to call the emergency number now. Chest pain can "
                                    "feel tight, heavy or like pressure [1].")
    assert text == "Chest pain can feel tight, heavy or like pressure [1]." and len(dropped) == 1


def test_short_sentences_are_not_judged_and_a_clean_answer_is_returned_unchanged():
    answer = "Call 911 now [1]. Chest pain can be serious."
    assert _filter().clean(answer) == (answer, [])


def test_repeated_sentences_and_list_items_keep_their_first_occurrence_and_markers():
    answer = "Rest well [1][2]. Drink water [2]. Drink water [2].\n- Keep warm [1]\n- Keep warm [1]"
    text, dropped = _filter().clean(answer)
    assert text == "Rest well [1] [2]. Drink water [2].\n- Keep warm [1]"
    assert dropped == ["Drink water", "Keep warm"]


def test_a_chinese_restated_question_is_dropped():
    text, dropped = _filter().clean("血压140/90，高血压药是不是要吃一辈子[1]。血压达到或超过140/90应该请医生检查[1]。")
    assert text == "血压达到或超过140/90应该请医生检查[1]。"
    assert dropped == ["血压140/90，高血压药是不是要吃一辈子"]


def test_loop_guard_stops_at_the_third_copy_of_a_sentence_and_not_before():
    guard = LoopGuard()
    sentence = "胸痛可能是心脏病发作或中风，或一侧无力。"
    stream = sentence * 5
    stops = [guard.feed(stream[i : i + 3]) for i in range(0, len(stream), 3)]
    first = stops.index(True)
    assert 2 * len(sentence) < first * 3 + 3 <= 3 * len(sentence) + 3
    other = LoopGuard()
    assert not any(other.feed(p) for p in ["Drink water. ", "Rest. ", "Drink water. ", "See a GP if worse."])


def test_the_decided_block_is_its_frame_plus_its_advice_in_each_language():
    """The engine reads the block in parts (the frame may not be copied, the advice may): a template change that
    mixes them fails here."""
    from chatbot.config import PROJECT_ROOT

    prompts = PromptLibrary(PROJECT_ROOT / "prompts")
    for lang, word in (("en", "EMERGENCY"), ("zh", "紧急")):
        parts = {part: prompts.render("decided", level="emergency", reasons=["a reason"], lang=lang, part=part)
                 for part in ("all", "frame", "advice")}
        assert word in parts["frame"] and "a reason" in parts["all"] and "a reason" not in parts["frame"]
        assert parts["advice"] in parts["all"] and parts["advice"] not in parts["frame"]
        assert "911" not in parts["all"] and "120" not in parts["all"]  # numbers come from the locale, not the prompt


def test_engine_drops_an_answer_copying_its_prompt_and_stops_a_loop(engine):
    engine.settings.generation.citation_check = False  # the echo filter alone, not the citation check after it
    engine._llm = FakeLLM(answer="The safety checks have already set the urgency to URGENT. Based on: a fever. "
                                 "Drink plenty of fluids [1]. Drink plenty of fluids [1]. Drink plenty of fluids [1]. "
                                 "Drink plenty of fluids [1]. Drink plenty of fluids [1].")
    events = list(engine.stream(Session(), "My sore throat hurts when I swallow, what can I do at home?"))
    answer = events[-1].answer
    assert "safety checks" not in answer.answer
    assert answer.answer.count("Drink plenty of fluids") == 1
    streamed = "".join(e.text for e in events if e.type == "token")
    assert streamed.count("Drink plenty of fluids") == 3  # the stream stopped at the third copy

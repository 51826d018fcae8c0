"""An answer never advises less than the decided level, nor names another country's services."""

from __future__ import annotations

import pytest

from chatbot.answer import TriageLevel
from chatbot.safety.consistency import ConsistencyCheck
from chatbot.safety.locales import load_locales


@pytest.fixture(scope="module")
def us() -> ConsistencyCheck:
    return ConsistencyCheck.from_path(load_locales(), "US")


def test_lower_care_advice_under_an_emergency_is_replaced(us):
    text = ("Chest pain with sweating can be a sign of a heart attack [1]. Book an appointment with your GP. "
            "If it gets worse, see a doctor.")
    checked = us.check(text, TriageLevel.emergency, "en")
    assert checked.changed and len(checked.removed) == 2
    assert "heart attack [1]" in checked.text
    assert "Book an appointment" not in checked.text and "call 911 now" in checked.text


def test_another_locales_service_is_removed_whatever_the_level(us):
    checked = us.check("Rest and drink fluids [1]. You can call NHS 111 for advice. Or dial 999.",
                       TriageLevel.self_care, "en")
    assert checked.removed == ["You can call NHS 111 for advice.", "Or dial 999."]
    assert "Rest and drink fluids [1]." in checked.text


def test_own_locale_and_ordinary_numbers_stay(us):
    text = "Call 911 if you cannot breathe [1]. A blood pressure of 120/80 is normal. Take 1,000 steps."
    assert not us.check(text, TriageLevel.routine, "en").changed


def test_chinese_answers_are_checked_in_chinese():
    cn = ConsistencyCheck.from_path(load_locales(), "CN")
    checked = cn.check("胸痛伴出汗可能是心脏病发作的信号[1]。建议先在家观察几天。", TriageLevel.emergency, "zh")
    assert checked.removed == ["建议先在家观察几天。"] and "120" in checked.text


def test_urgent_answers_may_not_say_wait_and_see(us):
    checked = us.check("It is fine to wait and see for a week. Keep the wound clean [2].", TriageLevel.urgent, "en")
    assert checked.removed == ["It is fine to wait and see for a week."]
    assert "today" in checked.text


def test_nothing_to_check_without_a_level(us):
    assert not us.check("Warning signs of a stroke include face drooping [1].", None, "en").changed


@pytest.mark.parametrize("sentence", ["这是无害的，不需要去医院[1]。",
                                      "You don't need to see a doctor, this is harmless.",
                                      "It is nothing to worry about."])
def test_what_is_too_low_for_urgent_is_too_low_for_an_emergency(us, sentence):
    """Each level's list includes the less urgent levels' lists (a Chinese "no need for hospital" once passed under an
    emergency banner because only the urgent list named it); the sentence is judged in its own language."""
    checked = us.check(f"Chest pain can be serious [1]. {sentence}", TriageLevel.emergency, "en")
    assert checked.removed == [sentence.strip()] and "call 911 now" in checked.text

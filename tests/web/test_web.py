"""The browser page without a browser: rendering, per-browser state, feedback privacy, language, startup guards."""

from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from chatbot.answer import Answer, Source, Triage, TriageLevel
from chatbot.conversation import Engine
from chatbot.embedding import FakeEmbedder
from chatbot.generation import FakeLLM
from chatbot.interfaces.records import LocalRecords
from chatbot.interfaces.server import build_app, serve
from chatbot.interfaces.web import render
from chatbot.interfaces.web import turn as turn_view
from chatbot.interfaces.web.handlers import WebChat, guess_language
from chatbot.interfaces.web.render import follow_up_questions, render_answer
from chatbot.interfaces.web.state import clean_state
from chatbot.interfaces.web.texts import TEXTS
from chatbot.vectorstore import ChunkStore
from tests.conftest import fake_settings

EMERGENCY = "crushing chest pain spreading to my left arm and I'm sweating"
URGENT = "my right calf is swollen and really tender"  # an urgent-only red flag (a possible clot)
QUESTION = "My sore throat hurts when I swallow, what can I do at home?"


@pytest.fixture
def page(engine, monkeypatch):
    monkeypatch.setattr(turn_view, "STREAM_EVERY_S", 0.0)  # show every token, to see the stream
    return WebChat(engine)


def _turn(page: WebChat, text: str, state) -> list[dict]:
    return list(page.respond(text, state))


def _final(updates: list[dict]) -> dict:
    return updates[-1]


# ---- rendering ---------------------------------------------------------------------------------------------------
def _answer(**kw) -> Answer:
    base = {
        "answer": "Rest and drink fluids [1].",
        "triage": Triage(level=TriageLevel.urgent, decided_by="both", reasons=["fever over 3 days"]),
        "sources": [Source(n=1, title="Sore throat", url="https://www.nhs.uk/conditions/sore-throat/", section="Care")],
    }
    return Answer(**{**base, **kw})


def test_badge_has_colour_icon_and_words_and_sources_match_markers():
    html = render_answer(_answer(), "en")
    assert 'data-level="urgent"' in html and "phc-urgent" in html
    assert "URGENT: get seen today" in html and "⚠" in html and "fever over 3 days" in html
    assert "[1]" in html and '<li value="1" id="phc-source-1">[1] <a href="https://www.nhs.uk/' in html
    assert "<details" in html  # the sources panel is expandable


def test_every_level_has_words_in_both_languages():
    for lang in ("en", "zh"):
        for level in TriageLevel:
            html = render_answer(_answer(triage=Triage(level=level, decided_by="rules")), lang)
            assert render.esc(TEXTS[lang]["levels"][level.value]) in html


def test_texts_have_the_same_keys_and_examples_in_every_language():
    english = TEXTS["en"]
    assert set(TEXTS) == {"en", "zh"}
    for lang, texts in TEXTS.items():
        assert set(texts) == set(english), lang
        assert set(texts["levels"]) == {level.value for level in TriageLevel}, lang
        assert set(texts["decided"]) == set(english["decided"]), lang
        assert len(texts["example_list"]) == len(english["example_list"]), lang
        assert all(isinstance(v, str) and v.strip() for v in texts.values() if not isinstance(v, dict | list)), lang


def test_model_and_source_text_cannot_inject_html():
    evil = _answer(
        answer='<script>alert(1)</script><img src=x onerror="alert(2)"> [1]',
        sources=[Source(n=1, title="<b>x</b>", url="javascript:alert(3)")],
    )
    html = render_answer(evil, "en")
    assert "<script>" not in html and "<img" not in html and "<b>x</b>" not in html
    assert "javascript:" not in html


def test_follow_up_questions_travel_as_data_not_text():
    text = "To give you better advice, could you tell me:\n- How old are you?\n- Since when?"
    intake = Answer(answer=text, kind="intake", follow_up_questions=["How old are you?", "Since when?"])
    assert follow_up_questions(intake) == ["How old are you?", "Since when?"]
    # a '- ' line in the text is not a question the engine asked: nothing is parsed out of the answer
    assert follow_up_questions(Answer(answer=text, kind="intake")) == []
    answered = _answer(follow_up_questions=["Any fever?", "Any fever?"])
    assert follow_up_questions(answered) == ["Any fever?"]
    message = render.assistant_message(intake, "en")
    assert [o["value"] for o in message["options"]] == ["How old are you?", "Since when?"]


def test_browser_state_is_validated_not_trusted():
    assert clean_state(None)["sid"] and clean_state("junk")["history"] == []
    state = clean_state({"sid": "not-hex", "lang": "xx", "history": [{"role": "system", "content": "x"}, 3]})
    assert len(state["sid"]) == 32 and state["sid"] != "not-hex" and state["lang"] == "" and state["history"] == []


# ---- turns -------------------------------------------------------------------------------------------------------
def test_turn_streams_then_renders_badge_and_sources(page):
    updates = _turn(page, QUESTION, {"sid": ""})
    assert updates[0]["box"] == "" and "phc-pending" in updates[0]["chat"][-1]["content"]
    partial = [u for u in updates[1:-1] if "chat" in u and "▍" in u["chat"][-1]["content"]]
    assert len(partial) >= 2  # tokens appear as they are generated
    final = _final(updates)
    content = final["chat"][-1]["content"]
    assert "phc-badge" in content and "phc-sources" in content and "[1]" in content
    state = final["state"]
    assert [t["role"] for t in state["turns"]] == ["user", "assistant"] and state["meta"][-1]["kind"] == "answer"
    assert "banner" not in final or not final["banner"]


def test_emergency_shows_the_banner_before_the_answer_and_keeps_it(page):
    updates = _turn(page, EMERGENCY, {"sid": ""})
    first_banner = next(i for i, u in enumerate(updates) if u.get("banner"))
    first_token = next((i for i, u in enumerate(updates) if "▍" in str(u.get("chat", ""))), len(updates))
    assert first_banner < first_token
    final = _final(updates)
    assert "phc-banner" in final["banner"] and final["state"]["escalation"]
    assert 'data-level="emergency"' in final["chat"][-1]["content"]
    # the banner stays pinned for the rest of the conversation, and after a reload
    later = _final(_turn(page, "thanks, what else?", final["state"]))
    assert later["banner"] and page.load(later["state"], None)["banner"]


def test_emergency_banner_says_emergency_in_red(page):
    final = _final(_turn(page, EMERGENCY, {"sid": ""}))
    assert 'data-level="emergency"' in final["banner"] and "⚠ EMERGENCY" in final["banner"]
    assert "phc-banner-urgent" not in final["banner"] and final["state"]["escalation_level"] == "emergency"


def test_urgent_only_red_flags_get_an_urgent_notice_not_the_emergency_banner(page):
    updates = _turn(page, URGENT, {"sid": ""})
    banners = [u["banner"] for u in updates if u.get("banner")]
    assert banners and all('data-level="urgent"' in b and "phc-banner-urgent" in b for b in banners)
    final = _final(updates)
    assert "URGENT: get medical help today" in final["banner"] and "EMERGENCY" not in final["banner"]
    assert 'data-level="urgent"' in final["chat"][-1]["content"]  # the badge says the same
    state = final["state"]
    assert state["escalation_level"] == "urgent"
    # the notice keeps its level after a reload and in Chinese (the heading from messages.yaml)
    assert 'data-level="urgent"' in page.load(state, None)["banner"]
    zh = page.set_language("zh", state)["banner"]
    assert "尽快就医" in zh and "紧急情况" not in zh


def test_banner_follows_the_decided_level_and_fails_safe():
    urgent = render.banner_html("Please get medical help today.", "zh", "urgent")
    assert "尽快就医" in urgent and "phc-banner-urgent" in urgent
    assert 'data-level="emergency"' in render.banner_html("Call 120.", "zh", "emergency")
    # an old stored banner without a level (or a tampered one) is shown as an emergency, never played down
    assert 'data-level="emergency"' in render.banner_html("Call 911.", "en")
    state = clean_state({"escalation": "Call 911.", "escalation_level": "<b>"})
    assert state["escalation_level"] == "" and 'data-level="emergency"' in render.state_banner(state, "en")


def test_too_long_message_is_given_back_untouched(page):
    text = "x" * 5000
    updates = _turn(page, text, {"sid": ""})
    final = _final(updates)
    assert final["box"] == text and final["chat"] == [] and "4000" in final["notice"]


def test_empty_message_is_a_hint_not_a_turn(page):
    assert _turn(page, "   ", {"sid": ""}) == [{"notice": TEXTS["en"]["empty"]}]


def test_browsers_are_isolated(page):
    a = _final(_turn(page, "patient A: " + QUESTION, {"sid": ""}))["state"]
    b = _final(_turn(page, "patient B: " + QUESTION, {"sid": ""}))["state"]
    assert a["sid"] != b["sid"]
    a = _final(_turn(page, "patient A again", a))["state"]
    assert page.sessions.get(a["sid"]).user_messages == ["patient A: " + QUESTION, "patient A again"]
    assert page.sessions.get(b["sid"]).user_messages == ["patient B: " + QUESTION]


def test_concurrent_browsers_do_not_cross_talk(page):
    def browser(i: int) -> tuple[str, list[str]]:
        state: dict = {"sid": ""}
        sent = []
        for turn in range(3):
            message = f"browser {i} turn {turn}: my sore throat hurts, what can I do at home?"
            final = _final(_turn(page, message, state))
            state = final["state"]
            assert f"browser {i} turn {turn}" in final["chat"][-2]["content"]
            sent.append(message)
        return state["sid"], sent

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [f.result(timeout=60) for f in [pool.submit(browser, i) for i in range(8)]]
    assert len({sid for sid, _ in results}) == 8
    for sid, sent in results:
        assert page.sessions.get(sid).user_messages == sent


def test_conversation_survives_a_server_restart_from_the_browser_copy(engine, page):
    state = _final(_turn(page, EMERGENCY, {"sid": ""}))["state"]
    fresh = WebChat(engine)  # a new process: the server forgot everything
    final = _final(_turn(fresh, "what should I do now?", state))
    assert fresh.sessions.get(state["sid"]).user_messages == [EMERGENCY, "what should I do now?"]
    assert 'data-level="emergency"' in final["chat"][-1]["content"]


def test_new_conversation_forgets_the_session(page):
    state = _final(_turn(page, QUESTION, {"sid": ""}))["state"]
    update = page.new_conversation(state)
    assert update["chat"] == [] and update["state"]["sid"] != state["sid"] and not update["banner"]
    assert page.sessions.get(state["sid"]).turns == []  # dropped: a fresh, empty session


def test_chinese_answer_switches_the_page_language(page):
    final = _final(_turn(page, "我喉咙痛，吞咽的时候很疼，在家可以怎么办？", {"sid": "", "lang": "en"}))
    assert final["lang"] == "zh" and final["texts"] == "zh" and final["state"]["lang"] == "zh"
    assert page.set_language("en", final["state"])["texts"] == "en"


def test_load_follows_the_browser_language_first():
    assert guess_language("zh-CN,zh;q=0.9") == "zh" and guess_language("en-GB") == "en"


# ---- feedback ----------------------------------------------------------------------------------------------------
def test_feedback_not_stored_unless_opted_in(page):
    state = _final(_turn(page, QUESTION, {"sid": ""}))["state"]
    stored, ref = page.feedback(state, 1, True)
    assert not stored and ref == {}
    assert not (page.settings.data_dir / "feedback").exists()


def test_feedback_stored_with_hashed_session(tmp_path, mini_corpus):
    settings = fake_settings(tmp_path, ingest={"paths": [str(mini_corpus)]}, privacy={"save_feedback": True})
    engine = Engine(settings, llm=FakeLLM(), store=ChunkStore(FakeEmbedder(), "knowledge", settings.chroma_dir))
    engine.ensure_index(progress=False)
    page = WebChat(engine)
    state = _final(_turn(page, QUESTION, {"sid": ""}))["state"]
    stored, ref = page.feedback(state, 1, False)
    assert stored and page.comment(state, ref, "  too vague  ")
    path = settings.data_dir / "feedback" / "feedback.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["type"] for r in rows] == ["rating", "comment"] and rows[0]["rating"] == "down"
    assert rows[1]["comment"] == "too vague" and rows[0]["ref"] == rows[1]["ref"]
    assert rows[0]["session"] == LocalRecords.hash_id(state["sid"]) and state["sid"] not in path.read_text()
    assert QUESTION not in path.read_text()  # no conversation text in feedback
    assert (path.stat().st_mode & 0o077) == 0  # owner-only file


# ---- the mounted app and startup ---------------------------------------------------------------------------------
def test_page_and_api_share_one_server(engine):
    with TestClient(build_app(engine)) as client:
        html = client.get("/")
        assert html.status_code == 200 and "<html" in html.text
        assert "fonts.googleapis" not in html.text and "cdn." not in html.text
        theme = client.get("/theme.css")
        assert theme.status_code == 200 and "googleapis" not in theme.text
        assert client.get("/healthz").json()["status"] == "ok"
        assert client.post("/v1/chat", json={"message": QUESTION}).json()["kind"] == "answer"


def test_serve_refuses_other_interfaces_without_a_key(tmp_path, capsys):
    assert serve(fake_settings(tmp_path), host="0.0.0.0", port=1) == 2
    assert "api_key" in capsys.readouterr().err


def test_serve_says_when_the_port_is_taken(tmp_path, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert serve(fake_settings(tmp_path), port=port) == 2
    assert "already in use" in capsys.readouterr().err

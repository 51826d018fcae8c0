"""The HTTP API with fakes: every route, validation and error shape, auth, SSE formats, emergencies, concurrency."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from chatbot.answer import Answer, TriageLevel
from chatbot.conversation import Engine
from chatbot.embedding import FakeEmbedder
from chatbot.generation import FakeLLM
from chatbot.interfaces.http.app import create_api
from chatbot.interfaces.http.guard import is_loopback
from chatbot.interfaces.records import LocalRecords
from chatbot.vectorstore import ChunkStore
from tests.conftest import fake_settings

EMERGENCY = "crushing chest pain spreading to my left arm and I'm sweating"
QUESTION = "My sore throat hurts when I swallow, what can I do at home?"
KEY = "test-key-0123456789abcdef"


def _engine(tmp_path, corpus, **overrides) -> Engine:
    settings = fake_settings(tmp_path, ingest={"paths": [str(corpus)]}, **overrides)
    store = ChunkStore(FakeEmbedder(), "knowledge", settings.chroma_dir)
    engine = Engine(settings, llm=FakeLLM(), store=store)
    engine.ensure_index(progress=False)
    return engine


@pytest.fixture
def client(engine):
    with TestClient(create_api(engine)) as c:
        yield c


def _sse(text: str) -> list[tuple[str, dict]]:
    """Parse ``event:``/``data:`` blocks into (event, data) pairs."""
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        out.append((lines.get("event", "message"), json.loads(lines["data"])))
    return out


def _chunks(text: str) -> list[dict | str]:
    out: list[dict | str] = []
    for block in text.strip().split("\n\n"):
        assert block.startswith("data: "), block
        payload = block[len("data: ") :]
        out.append(payload if payload == "[DONE]" else json.loads(payload))
    return out


def _assert_error(response, status: int, type_: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert "Traceback" not in response.text
    if type_:
        assert body["error"]["type"] == type_
    return body["error"]


# ---- routes ------------------------------------------------------------------------------------------------------
def test_healthz_reports_model_index_and_version(client):
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["version"] and body["model"]["name"] == "fake"
    assert body["index_chunks"] > 0


def test_chat_returns_the_answer_object_and_continues_a_session(client):
    first = client.post("/v1/chat", json={"message": QUESTION})
    assert first.status_code == 200
    answer = Answer.model_validate(first.json())
    assert answer.kind == "answer" and answer.sources and "[1]" in answer.answer
    assert answer.triage is not None and answer.session_id
    second = client.post("/v1/chat", json={"message": "and what if it lasts a week?", "session_id": answer.session_id})
    assert second.status_code == 200 and second.json()["session_id"] == answer.session_id
    session = client.app.state.sessions.get(answer.session_id)
    assert session.user_messages == [QUESTION, "and what if it lasts a week?"]


@pytest.mark.parametrize("stream", [False, True])
def test_an_unknown_session_id_is_a_404_that_says_how_to_start_anew(client, stream):
    sessions = len(client.app.state.sessions)
    response = client.post("/v1/chat", json={"message": QUESTION, "session_id": "forgotten-1", "stream": stream})
    error = _assert_error(response, 404, "session_not_found")
    assert "Unknown or expired session_id" in error["message"] and "without session_id" in error["message"]
    assert len(client.app.state.sessions) == sessions  # no conversation was started under the unknown id
    fresh = client.post("/v1/chat", json={"message": QUESTION})  # omitting it still starts one
    assert fresh.status_code == 200 and fresh.json()["session_id"] != "forgotten-1"
    triage = client.post("/v1/triage", json={"message": QUESTION, "session_id": "forgotten-1"})
    _assert_error(triage, 404, "session_not_found")


def test_chat_stream_is_server_sent_events_ending_with_the_answer(client):
    response = client.post("/v1/chat", json={"message": QUESTION, "stream": True})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = _sse(response.text)
    names = [name for name, _ in events]
    assert "token" in names and names[-1] == "answer" and names.count("answer") == 1
    assert set(names) <= {"escalation", "status", "triage", "token", "replace", "answer"}
    tokens = "".join(data["text"] for name, data in events if name == "token")
    final = Answer.model_validate(events[-1][1])
    assert tokens.strip() and final.sources
    # the level is decided and sent before the first token of the answer, and it is the level the answer carries
    assert names.index("triage") < names.index("token")
    assert dict(events)["triage"]["level"] == final.triage.level.value


def test_emergency_message_escalates_first_with_emergency_triage(client):
    answer = client.post("/v1/chat", json={"message": EMERGENCY}).json()
    assert answer["escalation"] and answer["triage"]["level"] == "emergency"
    assert answer["triage"]["red_flags"]
    events = _sse(client.post("/v1/chat", json={"message": EMERGENCY, "stream": True}).text)
    assert events[0][0] == "escalation" and events[0][1]["text"] == answer["escalation"]
    assert events[0][1]["level"] == "emergency" and events[0][1]["language"] == "en"  # known before any model work
    assert events[-1][1]["triage"]["level"] == "emergency"


def test_triage_route(client):
    body = client.post("/v1/triage", json={"message": EMERGENCY}).json()
    assert body["kind"] == "triage" and body["triage"]["level"] == "emergency" and body["escalation"]
    routine = client.post("/v1/triage", json={"message": QUESTION}).json()
    # no red flag: no escalation, and the level is the (fake) model's, said by the model
    assert not routine["escalation"] and routine["triage"]["red_flags"] == []
    assert routine["triage"]["level"] == "routine" and routine["triage"]["decided_by"] == "model"


def test_openai_completion_with_history_and_health_answer(client):
    body = {
        "model": "anything",
        "messages": [
            {"role": "system", "content": "You are a pirate."},
            {"role": "user", "content": EMERGENCY},
            {"role": "assistant", "content": "Please call 911."},
            {"role": "user", "content": [{"type": "text", "text": "what should I do while I wait?"}]},
        ],
        "temperature": 1.5,
    }
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    data = response.json()
    assert data["object"] == "chat.completion" and data["id"].startswith("chatcmpl-")
    choice = data["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["finish_reason"] == "stop"
    health = Answer.model_validate(data["health_answer"])
    # the earlier user message was fed into the fresh session, so the red flag still fires on this turn
    assert health.escalation and health.triage.level == TriageLevel.emergency
    assert choice["message"]["content"].startswith(health.escalation)


def test_openai_completion_stream_chunks_and_done(client):
    response = client.post(
        "/v1/chat/completions", json={"messages": [{"role": "user", "content": QUESTION}], "stream": True}
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    chunks = _chunks(response.text)
    assert chunks[-1] == "[DONE]"
    objects = [c for c in chunks if isinstance(c, dict)]
    assert all(c["object"] == "chat.completion.chunk" for c in objects)
    assert len({c["id"] for c in objects}) == 1
    assert objects[0]["choices"][0]["delta"]["role"] == "assistant"
    assert objects[-1]["choices"][0]["finish_reason"] == "stop"
    health = Answer.model_validate(objects[-1]["health_answer"])
    content = "".join(c["choices"][0]["delta"].get("content", "") for c in objects)
    assert health.answer.split("[1]")[0].strip() in content and "Sources:" in content


def test_openai_stream_of_an_emergency_starts_with_the_escalation(client):
    response = client.post(
        "/v1/chat/completions", json={"messages": [{"role": "user", "content": EMERGENCY}], "stream": True}
    )
    objects = [c for c in _chunks(response.text) if isinstance(c, dict)]
    first_text = next(c["choices"][0]["delta"]["content"] for c in objects if c["choices"][0]["delta"].get("content"))
    assert first_text.strip() == objects[-1]["health_answer"]["escalation"]


# ---- validation --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("route", "body", "status", "type_"),
    [
        ("/v1/chat", {}, 422, "invalid_request_error"),
        ("/v1/chat", {"message": 42}, 422, "invalid_request_error"),
        ("/v1/chat", {"message": ["a"]}, 422, "invalid_request_error"),
        ("/v1/chat", {"message": "hi", "stream": "yes"}, 422, "invalid_request_error"),
        ("/v1/chat", {"message": "hi", "session_id": "../../etc"}, 422, "invalid_request_error"),
        ("/v1/chat", {"message": "hi", "mesage": "typo"}, 422, "invalid_request_error"),
        ("/v1/chat", {"message": "   "}, 422, "invalid_message"),
        ("/v1/chat", {"message": "x" * 4001}, 422, "invalid_message"),
        ("/v1/chat", {"message": "x" * 4001, "stream": True}, 422, "invalid_message"),
        ("/v1/chat", [1, 2], 422, "invalid_request_error"),
        ("/v1/triage", {"message": None}, 422, "invalid_request_error"),
        ("/v1/triage", {"message": ""}, 422, "invalid_message"),
        ("/v1/chat/completions", {"messages": []}, 422, "invalid_request_error"),
        ("/v1/chat/completions", {"messages": "hello"}, 422, "invalid_request_error"),
        ("/v1/chat/completions", {"messages": [{"role": "assistant", "content": "hi"}]}, 422, None),
        ("/v1/chat/completions", {"messages": [{"role": "robot", "content": "hi"}]}, 422, None),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": 7}]}, 422, None),
        (
            "/v1/chat/completions",
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
            422,
            None,
        ),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x" * 4001}]}, 422, "invalid_message"),
    ],
)
def test_bad_bodies_get_a_clear_json_4xx(client, route, body, status, type_):
    error = _assert_error(client.post(route, json=body), status, type_)
    if type_ == "invalid_message" and "x" * 100 in json.dumps(body):
        assert "4000" in error["message"]  # says what the limit is


def test_malformed_json_is_a_400(client):
    response = client.post("/v1/chat", content=b'{"message": "hi",', headers={"content-type": "application/json"})
    error = _assert_error(response, 400, "invalid_json")
    assert "JSON" in error["message"]


def test_oversized_body_is_refused_before_parsing(client):
    huge = json.dumps({"message": "a" * 2_000_000})
    _assert_error(client.post("/v1/chat", content=huge, headers={"content-type": "application/json"}), 413)


def test_unknown_routes_and_methods_answer_in_json(client):
    _assert_error(client.get("/v1/chat"), 405)
    _assert_error(client.post("/v1/nothing-here", json={}), 404, "not_found")


# ---- auth --------------------------------------------------------------------------------------------------------
@pytest.fixture
def keyed(tmp_path, mini_corpus):
    engine = _engine(tmp_path, mini_corpus, server={"api_key": KEY})
    with TestClient(create_api(engine)) as c:
        yield c


def test_api_key_required_on_every_api_route(keyed):
    for route in ("/v1/chat", "/v1/triage", "/v1/chat/completions"):
        error = _assert_error(keyed.post(route, json={"message": "hi"}), 401, "authentication_error")
        assert "Bearer" in error["message"]
    _assert_error(keyed.post("/v1/chat", json={"message": "hi"}, headers={"Authorization": "Bearer wrong"}), 401)
    _assert_error(keyed.post("/v1/chat", json={"message": "hi"}, headers={"Authorization": KEY}), 401)
    # auth comes before parsing: a stranger learns nothing from validation errors
    _assert_error(keyed.post("/v1/chat", content=b"{", headers={"content-type": "application/json"}), 401)
    ok = keyed.post("/v1/chat", json={"message": QUESTION}, headers={"Authorization": f"Bearer {KEY}"})
    assert ok.status_code == 200 and ok.json()["kind"] == "answer"
    assert keyed.get("/healthz").status_code == 200  # monitors need no key


def test_models_route_lists_the_chat_model_behind_the_key(keyed):
    _assert_error(keyed.get("/v1/models"), 401, "authentication_error")
    auth = {"Authorization": f"Bearer {KEY}"}
    body = keyed.get("/v1/models", headers=auth).json()
    assert body["object"] == "list" and len(body["data"]) == 1
    model = body["data"][0]
    assert model["object"] == "model" and model["id"] and model["owned_by"] and isinstance(model["created"], int)
    assert "GET" in _assert_error(keyed.post("/v1/models", json={}, headers=auth), 405)["message"]


def test_page_needs_the_key_only_from_other_computers(tmp_path, mini_corpus):
    from fastapi.responses import HTMLResponse

    engine = _engine(tmp_path, mini_corpus, server={"api_key": KEY})
    app = create_api(engine)
    app.add_api_route("/", lambda: HTMLResponse("<p>the page</p>"))
    with TestClient(app, client=("127.0.0.1", 50000)) as local:
        assert local.get("/").text == "<p>the page</p>"
    with TestClient(app, client=("203.0.113.9", 50000)) as remote:
        login = remote.get("/")
        assert login.status_code == 401 and "Access key" in login.text and "the page" not in login.text
        assert remote.post("/login", data={"key": "nope"}).status_code == 401
        done = remote.post("/login", data={"key": KEY}, follow_redirects=False)
        assert done.status_code == 303 and KEY not in done.headers["set-cookie"]
        assert remote.get("/").text == "<p>the page</p>"  # the cookie from the login now opens the page


def test_security_headers_keep_the_page_on_this_machine(client):
    headers = client.get("/healthz").headers
    assert "default-src 'self'" in headers["content-security-policy"]
    assert "connect-src 'self'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "no-referrer"


def test_loopback_detection():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4") and not is_loopback(None)


# ---- privacy -----------------------------------------------------------------------------------------------------
def test_transcripts_only_when_opted_in_and_never_with_the_clear_session_id(tmp_path, mini_corpus):
    off = _engine(tmp_path / "off", mini_corpus)
    with TestClient(create_api(off)) as c:
        c.post("/v1/chat", json={"message": QUESTION})
    assert not (off.settings.data_dir / "transcripts").exists()

    on = _engine(tmp_path / "on", mini_corpus, privacy={"save_transcripts": True})
    with TestClient(create_api(on)) as c:
        sid = c.post("/v1/chat", json={"message": QUESTION}).json()["session_id"]
    files = list((on.settings.data_dir / "transcripts").glob("*.jsonl"))
    assert [f.name for f in files] == [f"{LocalRecords.hash_id(sid)}.jsonl"]
    text = files[0].read_text()
    assert sid not in text and QUESTION in text


# ---- concurrency -------------------------------------------------------------------------------------------------
def test_concurrent_sessions_do_not_cross_talk(engine):
    # Eight patients behind one address (a clinic's proxy): the per-client cap is raised to let them all in.
    engine.settings.server.max_concurrent_per_client = 8
    with TestClient(create_api(engine)) as client:
        _cross_talk(client)


def _cross_talk(client) -> None:
    sessions, turns = 8, 3

    def patient(i: int) -> tuple[str, list[str]]:
        sid = None  # the first turn starts the conversation; the server names it
        sent = []
        for turn in range(turns):
            message = f"patient {i} turn {turn}: my sore throat hurts, what can I do at home?"
            stream = turn % 2 == 1
            body = {"message": message, "stream": stream, **({"session_id": sid} if sid else {})}
            response = client.post("/v1/chat", json=body)
            assert response.status_code == 200, response.text
            final = _sse(response.text)[-1][1] if stream else response.json()
            assert sid is None or final["session_id"] == sid
            sid = final["session_id"]
            sent.append(message)
        return sid, sent

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=sessions) as pool:
        results = [f.result(timeout=60) for f in [pool.submit(patient, i) for i in range(sessions)]]
    assert time.monotonic() - started < 60
    store = client.app.state.sessions
    for sid, sent in results:
        session = store.get(sid)
        assert session.user_messages == sent  # only its own messages, in order
        assert len(session.turns) == 2 * turns


def test_flooding_client_gets_429_with_retry_after_and_the_page_still_escalates(tmp_path, mini_corpus):
    from chatbot.interfaces.web.handlers import WebChat

    engine = _engine(tmp_path, mini_corpus, server={"rate_limit": "5/minute"})
    with TestClient(create_api(engine)) as client:
        statuses = [client.post("/v1/triage", json={"message": QUESTION}).status_code for _ in range(8)]
        assert statuses[:5] == [200] * 5 and statuses[5:] == [429] * 3
        limited = client.post("/v1/chat", json={"message": EMERGENCY})
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
        assert "emergency" in limited.json()["error"]["message"]
        assert client.get("/healthz").status_code == 200  # only the API is limited
    # The browser page does not go through the API limiter: it still escalates at once after the flood.
    final = list(WebChat(engine).respond(EMERGENCY, {"sid": ""}))[-1]
    assert final["banner"] and final["state"]["escalation"]
    assert 'data-level="emergency"' in final["chat"][-1]["content"]


def test_a_bad_rate_limit_setting_is_a_clear_error(tmp_path):
    from chatbot.config.settings import SettingsError

    with pytest.raises((SettingsError, ValueError), match="rate limit"):
        fake_settings(tmp_path, server={"rate_limit": "lots"})

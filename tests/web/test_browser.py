"""End to end in headless Chromium: the real server in a subprocess (fake model and embedder for speed).

Needs Debian's ``/usr/bin/chromium`` (``apt-get install -y chromium``, or ``./setup.sh --with-browser``); Playwright
only drives it, never downloads a browser. Screenshots of the key states go to ``artifacts/screenshots/``;
``PHC_UPDATE_DOCS_SCREENSHOT=1`` also refreshes ``docs/screenshots/chat.png``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.error import URLError
from urllib.parse import urlparse
from urllib.request import urlopen

import pytest

from tests.conftest import PROJECT_ROOT, TOPICS

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
SHOTS = PROJECT_ROOT / "artifacts" / "screenshots"
DOCS_SHOT = PROJECT_ROOT / "docs" / "screenshots" / "chat.png"
EMERGENCY = "crushing chest pain spreading to my left arm and I'm sweating"
SYMPTOM = "I have a sore throat and it hurts to swallow. What can I do at home?"
DETAILED = "I am 34 and have had a mild sore throat for 3 days, it hurts to swallow. What can I do at home?"
GENERAL = "What helps a tension headache?"  # no personal symptom: no intake questions, no badge
TIMEOUT_MS = 30_000
FAKE_DELAY_S = 0.3  # per streamed word on the slow server: an answer takes ~6 s, to watch and stop it
OBSERVE_LAST_REPLY = """() => {
  window.__replies = [];
  const root = document.querySelector('#phc-chat');
  const record = () => {
    const bots = root.querySelectorAll('[data-testid="bot"]');
    const text = bots.length ? bots[bots.length - 1].innerText : '';
    if (window.__replies[window.__replies.length - 1] !== text) window.__replies.push(text);
  };
  new MutationObserver(record).observe(root, {subtree: true, childList: true, characterData: true});
}"""


# Records, in the page itself, each state of the next reply (its step, badge, answer text) and of the page's lock
# (Send, Stop, the reply's Like button); at the first word of the answer it can act as the patient would: press Stop,
# or type a second message and submit it (Shift+Enter in this multi-line box). Acting in the page, not from Python,
# makes "mid-answer" certain on a busy machine.
WATCH_NEXT_REPLY = """([n, action]) => {
  window.__states = [];
  let acted = false;
  const root = document.querySelector('#phc-chat');
  const shown = (el) => !!el && el.offsetParent !== null;
  const record = () => {
    const bots = root.querySelectorAll('[data-testid="bot"]');
    if (bots.length <= n) return;
    const last = bots[bots.length - 1], step = last.querySelector('.phc-step');
    const row = last.closest('.message-row'), buttons = row && row.nextElementSibling;
    const like = buttons && buttons.matches('.message-buttons') && buttons.querySelector('button[aria-label="Like"]');
    const name = step ? [...step.classList].find(c => c.startsWith('phc-step-')).slice(9) : '';
    const state = {step: name, label: step ? step.innerText : '', badge: !!last.querySelector('.phc-badge'),
                   text: last.innerText.includes('▍'), stopped: !!last.querySelector('.phc-stopped'),
                   send_off: document.querySelector('#phc-send').disabled,
                   stop_shown: shown(document.querySelector('#phc-stop')), like_shown: shown(like)};
    const previous = window.__states[window.__states.length - 1];
    if (JSON.stringify(previous) !== JSON.stringify(state)) window.__states.push(state);
    if (state.text && !acted && action) {
      acted = true;
      if (action === 'stop') document.querySelector('#phc-stop').click();
      if (action === 'submit') {
        const box = document.querySelector('#phc-input textarea');
        box.value = 'a second question';
        box.dispatchEvent(new Event('input', {bubbles: true}));
        for (const type of ['keydown', 'keypress'])
          box.dispatchEvent(new KeyboardEvent(type, {key: 'Enter', shiftKey: true, bubbles: true, cancelable: true}));
      }
    }
  };
  new MutationObserver(record).observe(document.body, {subtree: true, childList: true, characterData: true,
                                                      attributes: true});
}"""
LIKE = "#phc-chat .bot-row + .message-buttons button[aria-label='Like']"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(root: Path, extra_env: dict[str, str]) -> Iterator[str]:
    """``python -m chatbot serve`` on a free loopback port with the fake model and embedder, until the module ends."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent: install it with `apt-get install -y chromium` (CI does)")
    corpus = root / "topics"
    corpus.mkdir()
    for name in ("sore-throat.md", "chest-pain.md", "headache.md", "common-cold.md", "heart-attack.md"):
        if (TOPICS / name).exists():
            shutil.copy(TOPICS / name, corpus / name)
    port = _free_port()
    env = {
        **os.environ,
        "CHATBOT__DATA_DIR": str(root / "data"),
        "CHATBOT__LLM__BACKEND": "fake",
        "CHATBOT__EMBEDDING__BACKEND": "fake",
        "CHATBOT__INGEST__PATHS": f"['{corpus}']",
        "CHATBOT__PRIVACY__SAVE_FEEDBACK": "false",
        "CHATBOT__PRIVACY__SAVE_TRANSCRIPTS": "false",
        **extra_env,
    }
    log = (root / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "chatbot", "serve", "--port", str(port)],
        cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            pytest.fail(f"server exited ({proc.returncode}):\n{(root / 'server.log').read_text()[-3000:]}")
        try:
            with urlopen(url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    break
        except (URLError, OSError):
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"server not ready in 120 s:\n{(root / 'server.log').read_text()[-3000:]}")
        time.sleep(0.5)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from _serve(tmp_path_factory.mktemp("browser"), {})


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory):
    """The same server with a fake model that pauses FAKE_DELAY_S per word, so a turn can be watched and stopped."""
    yield from _serve(tmp_path_factory.mktemp("browser-slow"), {"CHATBOT__LLM__FAKE_DELAY_S": str(FAKE_DELAY_S)})


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


class Tab:
    """One browser context (its own localStorage = one patient) with every request it made recorded."""

    def __init__(self, browser, url: str):
        self.url = url
        self.requests: list[str] = []
        self.blocked: list[str] = []
        self.context = browser.new_context(viewport={"width": 1100, "height": 1000}, locale="en-US")
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.set_default_timeout(TIMEOUT_MS)
        self.open()

    def _console(self, message):
        if "Content Security Policy" in message.text:
            self.blocked.append(message.text)

    def open(self):
        self.page.goto(self.url + "/")
        self.page.wait_for_selector("#phc-input textarea")
        self.page.wait_for_function("() => document.querySelector('#phc-title')?.innerText.length > 0")

    def reload(self):
        self.page.reload()
        self.page.wait_for_selector("#phc-input textarea")

    def send(self, text: str):
        self.page.fill("#phc-input textarea", text)
        self.page.click("#phc-send")

    def user_messages(self) -> list[str]:
        return [m.inner_text().strip() for m in self.page.locator('#phc-chat [data-testid="user"]').all()]

    def bot_count(self) -> int:
        return self.page.locator('#phc-chat [data-testid="bot"]').count()

    def wait_for_reply(self, before: int):
        """Until a new assistant message has finished (its pending spinner and cursor are gone) and the turn is over
        (the page unlocked Send: its quick-reply buttons, if any, are drawn by then)."""
        self.page.wait_for_function(
            """(n) => { const b = document.querySelectorAll('#phc-chat [data-testid="bot"]');
                 if (b.length <= n) return false; const last = b[b.length - 1];
                 return !last.querySelector('.phc-pending') && !last.innerText.includes('▍')
                        && !document.querySelector('#phc-send').disabled; }""",
            arg=before,
        )

    def shot(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self):
        outside = [u for u in self.requests if urlparse(u).hostname not in {"127.0.0.1"} and not u.startswith("data:")]
        self.context.close()
        assert outside == [], f"requests left the machine: {outside}"
        assert self.blocked == [], f"the page tried something its security policy blocks: {self.blocked}"


def _tabs(browser, url: str) -> Iterator[Callable[[], Tab]]:
    tabs: list[Tab] = []

    def make() -> Tab:
        tabs.append(Tab(browser, url))
        return tabs[-1]

    yield make
    for t in tabs:
        t.close()  # asserts that nothing was requested from anywhere but 127.0.0.1


@pytest.fixture
def tab(browser, server):
    yield from _tabs(browser, server)


@pytest.fixture
def slow_tab(browser, slow_server):
    yield from _tabs(browser, slow_server)


def test_symptom_question_streams_an_answer_with_badge_and_sources(tab):
    t = tab()
    page = t.page
    assert "not a diagnosis" in page.inner_text("#phc-disclaimer")
    page.evaluate(OBSERVE_LAST_REPLY)
    t.send(SYMPTOM)
    t.wait_for_reply(0)
    options = page.locator("#phc-chat button", has_text="?")
    if options.count():  # the engine asked follow-up questions: they are quick-reply buttons
        t.shot("intake")
        question = options.first.inner_text().strip()
        options.first.click()
        page.wait_for_function(
            "(q) => document.querySelector('#phc-input textarea').value.startsWith(q)", arg=question
        )
        page.fill("#phc-input textarea", f"{question} I am 34 and it started 3 days ago, it is mild")
        before = t.bot_count()
        page.click("#phc-send")
        t.wait_for_reply(before)
    replies = page.evaluate("window.__replies")
    assert any(("Checking how urgent" in r or "Writing" in r) for r in replies), replies
    last = page.locator('#phc-chat [data-testid="bot"]').last
    badge = last.locator(".phc-badge")
    assert badge.count() == 1 and ":" in badge.inner_text()  # words, not only a colour
    sources = last.locator("details.phc-sources")
    sources.locator("summary").click()
    items = sources.locator("li")
    assert items.count() >= 1 and items.first.inner_text().startswith("[1]")
    assert "[1]" in last.inner_text()
    page.locator("#phc-chat button[aria-label='Like']").last.click()
    page.wait_for_function("() => document.querySelector('#phc-notice').innerText.includes('not stored')")
    path = t.shot("answer")
    if os.environ.get("PHC_UPDATE_DOCS_SCREENSHOT") == "1" or not DOCS_SHOT.exists():
        DOCS_SHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOCS_SHOT)


def test_emergency_message_pins_the_banner_and_the_emergency_badge(tab):
    t = tab()
    page = t.page
    assert not page.locator("#emergency-banner .phc-banner").count()
    t.send(EMERGENCY)
    banner = page.locator("#emergency-banner .phc-banner")
    banner.wait_for()
    assert "EMERGENCY" in banner.inner_text() and "911" in banner.inner_text()
    t.wait_for_reply(0)
    badge = page.locator('#phc-chat [data-testid="bot"]').last.locator(".phc-badge.phc-emergency")
    assert badge.count() == 1 and "EMERGENCY" in badge.inner_text()
    assert banner.bounding_box()["y"] < page.locator("#phc-chat").bounding_box()["y"]  # above the chat
    t.shot("emergency")
    t.reload()  # still pinned after a reload
    page.locator("#emergency-banner .phc-banner").wait_for()


def test_each_browser_keeps_its_own_conversation_across_reloads(tab):
    a, b = tab(), tab()
    a.send("Patient A asks: how long does a common cold last?")
    b.send("Patient B asks: what helps a tension headache?")
    a.wait_for_reply(0)
    b.wait_for_reply(0)
    a.reload()
    b.reload()
    a.page.wait_for_function("() => document.querySelectorAll('#phc-chat [data-testid=\"user\"]').length >= 1")
    b.page.wait_for_function("() => document.querySelectorAll('#phc-chat [data-testid=\"user\"]').length >= 1")
    assert a.user_messages() == ["Patient A asks: how long does a common cold last?"]
    assert b.user_messages() == ["Patient B asks: what helps a tension headache?"]
    a.page.click("#phc-new")
    a.page.wait_for_function("() => !document.querySelector('#phc-chat [data-testid=\"user\"]')")
    a.reload()
    assert a.user_messages() == [] and b.user_messages() != []


def test_language_selector_switches_the_fixed_texts(tab):
    t = tab()
    t.page.locator("#phc-language label", has_text="中文").click()
    t.page.wait_for_function("() => document.querySelector('#phc-title').innerText.includes('健康信息助手')")
    assert "不是诊断" in t.page.inner_text("#phc-disclaimer")
    t.shot("chinese")


# ---- waiting: the steps, one turn at a time, Stop, feedback on finished replies (the slow fake model) -------------
def test_the_level_shows_before_the_answer_with_the_steps_in_words(slow_tab):
    t = slow_tab()
    page = t.page
    t.send(DETAILED)  # the first reply asks what a nurse would (intake); the answer comes after the details
    t.wait_for_reply(0)
    page.evaluate(WATCH_NEXT_REPLY, [1, ""])
    t.send("No fever, no long-term conditions and no regular medicines.")
    t.wait_for_reply(1)
    states = page.evaluate("window.__states")
    first_badge = next(i for i, s in enumerate(states) if s["badge"])
    first_text = next(i for i, s in enumerate(states) if s["text"])
    assert first_badge < first_text, states  # the level is on the page before a word of the answer
    assert all(s["badge"] for s in states[first_text:]), states
    checking = [s for s in states[:first_badge] if s["step"] == "checking"]
    assert checking and checking[0]["label"].startswith("Checking how urgent"), states
    assert any(s["step"] == "generating" and s["text"] and "Writing" in s["label"] for s in states), states
    assert states[-1]["step"] == "" and states[-1]["badge"], states  # finished: no step left


def test_send_is_off_while_a_turn_runs_and_feedback_waits_for_the_finished_reply(slow_tab):
    t = slow_tab()
    page = t.page
    page.evaluate(WATCH_NEXT_REPLY, [0, "submit"])  # at the first word, submit a second message
    t.send(GENERAL)
    t.wait_for_reply(0)
    states = page.evaluate("window.__states")
    writing = [s for s in states if s["text"]]
    assert writing and all(s["send_off"] and s["stop_shown"] and not s["like_shown"] for s in writing), states
    assert states[-1]["like_shown"] and not states[-1]["send_off"] and not states[-1]["stop_shown"], states
    assert t.user_messages() == [GENERAL]  # the message submitted while the turn ran started nothing
    assert page.input_value("#phc-input textarea") == "a second question"  # and it is still there to send
    assert all(b.is_enabled() for b in page.locator(".phc-example").all())


def test_stop_keeps_the_partial_answer_and_the_escalation_and_the_page_goes_on(slow_tab):
    t = slow_tab()
    page = t.page
    page.evaluate(WATCH_NEXT_REPLY, [0, "stop"])  # Stop at the first word of the answer
    t.send(EMERGENCY)
    last = page.locator('#phc-chat [data-testid="bot"]').last
    last.locator(".phc-stopped").wait_for()
    page.wait_for_function("() => !document.querySelector('#phc-send').disabled")
    stopped = last.inner_text()
    time.sleep(8 * FAKE_DELAY_S)  # a running answer would have grown by several words meanwhile
    assert last.inner_text() == stopped and "▍" not in stopped  # it stopped growing
    partial = stopped.split("⏹", 1)[0].rstrip().rsplit("\n\n", 1)[-1]  # the answer's words before the mark
    assert partial.strip() and "Things to discuss" not in partial  # the words written so far stay
    assert "if it gets worse" not in partial  # cut short: the fake answer ends with that sentence
    assert "Stopped" in stopped and last.locator(".phc-badge.phc-emergency").count() == 1
    banner = page.locator("#emergency-banner .phc-banner")
    assert "EMERGENCY" in banner.inner_text()  # Stop never takes an escalation away
    assert not page.locator("#phc-stop").is_visible()
    states = page.evaluate("window.__states")
    assert states[-1]["stopped"] and not states[-1]["like_shown"], states  # nothing to rate
    t.shot("stopped")
    t.send("What should I do while I wait for the ambulance?")
    t.wait_for_reply(1)
    assert t.user_messages()[-1] == "What should I do while I wait for the ambulance?"
    t.reload()  # the stopped reply and the banner are part of the stored conversation
    page.locator("#emergency-banner .phc-banner").wait_for()
    page.locator("#phc-chat .phc-stopped").wait_for()

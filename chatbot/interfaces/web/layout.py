"""The Gradio page: which components exist, how a handler's update dict becomes Gradio updates, which event calls
which ``WebChat`` method. Everything the page needs is served from this machine (no web fonts, CDN or analytics).

Gradio's queue lets several patients chat at once, and its concurrency limit is set high on purpose: the red-flag
escalation is produced before any model work, so an emergency message must never wait behind another answer.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from typing import Any

import gradio as gr

from chatbot.interfaces.web.handlers import WebChat
from chatbot.interfaces.web.state import STORAGE_KEY, clean_state
from chatbot.interfaces.web.texts import DEFAULT_LANGUAGE, LANGUAGES, texts

CHAT_CONCURRENCY = 16
MIN_QUEUE = 64


@dataclass
class Components:
    """The page's components, and the mapping between ``WebChat`` updates and Gradio updates."""

    state: Any
    pending: Any
    title: Any
    privacy: Any
    lang_radio: Any
    new_btn: Any
    disclaimer: Any
    banner: Any
    chat: Any
    notice: Any
    box: Any
    send: Any
    stop: Any
    examples_label: Any
    example_btns: list[Any]
    comment_row: Any
    comment_box: Any
    comment_btn: Any

    @property
    def keys(self) -> dict[str, Any]:
        """Update keys used by ``WebChat`` and the component each one drives."""
        return {"chat": self.chat, "state": self.state, "banner": self.banner, "notice": self.notice, "box": self.box}

    @property
    def all_outputs(self) -> list[Any]:
        """Every component an update may change: the keyed ones and every translated text."""
        translated = [self.title, self.privacy, self.disclaimer, self.lang_radio, self.new_btn, self.box, self.send,
                      self.stop, self.chat, self.examples_label, *self.example_btns, self.comment_box, self.comment_btn]
        return list(dict.fromkeys([*self.keys.values(), *translated]))

    def text_updates(self, lang: str) -> dict:
        t = texts(lang)
        updates = {
            self.title: t["title"],
            self.privacy: t["privacy"],
            self.disclaimer: t["disclaimer"],
            self.lang_radio: gr.update(value=lang, label=t["language"]),
            self.new_btn: gr.update(value=t["new"]),
            self.send: gr.update(value=t["send"]),
            self.stop: gr.update(value=t["stop"]),
            self.examples_label: t["examples"],
            self.comment_box: gr.update(label=t["comment_label"]),
            self.comment_btn: gr.update(value=t["comment_send"]),
        }
        for btn, question in zip(self.example_btns, t["example_list"], strict=True):
            updates[btn] = gr.update(value=question)
        return updates

    def to_gradio(self, update: dict[str, Any]) -> dict:
        """One ``WebChat`` update as Gradio updates; a language change re-labels the box and the chat too."""
        lang = update.get("texts")
        out: dict = self.text_updates(lang) if lang else {}
        for key, component in self.keys.items():
            if key not in update:
                continue
            value = update[key]
            if key == "banner":
                out[self.banner] = gr.update(value=value, visible=bool(value))
            elif key == "box" and lang:
                out[self.box] = gr.update(value=value, placeholder=texts(lang)["placeholder"])
            elif key == "chat" and lang:
                out[self.chat] = gr.update(value=value, label=texts(lang)["chat_label"],
                                           placeholder=texts(lang)["welcome"])
            else:
                out[component] = value
        if lang and self.box not in out:
            out[self.box] = gr.update(placeholder=texts(lang)["placeholder"])
        if lang and self.chat not in out:
            out[self.chat] = gr.update(label=texts(lang)["chat_label"], placeholder=texts(lang)["welcome"])
        if "running" in update:
            self._lock(out, bool(update["running"]))
        return out

    def _lock(self, out: dict, running: bool) -> None:
        """While a turn runs: Stop shows, Send and the examples are off (one turn at a time per page)."""
        for component, change in [(self.stop, {"visible": running, "interactive": running}),
                                  (self.send, {"interactive": not running}),
                                  *[(btn, {"interactive": not running}) for btn in self.example_btns]]:
            out[component] = {**out.get(component, gr.update()), **change}


def _header(t: dict[str, Any]) -> tuple[Any, Any, Any, Any]:
    with gr.Row(elem_id="phc-header"):
        with gr.Column(scale=3, min_width=280):
            title = gr.Markdown(t["title"], elem_id="phc-title")
            privacy = gr.Markdown(t["privacy"], elem_id="phc-privacy", elem_classes=["phc-muted"])
        with gr.Column(scale=2, min_width=240):
            lang_radio = gr.Radio(
                LANGUAGES, value=DEFAULT_LANGUAGE, label=t["language"], elem_id="phc-language", container=False
            )
            new_btn = gr.Button(t["new"], size="sm", variant="secondary", elem_id="phc-new")
    return title, privacy, lang_radio, new_btn


def _chat(t: dict[str, Any]) -> Any:
    return gr.Chatbot(
        value=[],
        label=t["chat_label"],
        show_label=False,
        elem_id="phc-chat",
        height="58vh",
        min_height=320,
        latex_delimiters=[],
        buttons=["copy"],
        feedback_options=("Like", "Dislike"),
        placeholder=t["welcome"],
        autoscroll=True,
        group_consecutive_messages=False,
    )


def _input_row(t: dict[str, Any]) -> tuple[Any, Any, Any]:
    with gr.Row(equal_height=True):
        box = gr.Textbox(
            placeholder=t["placeholder"],
            show_label=False,
            lines=2,
            max_lines=8,
            scale=8,
            elem_id="phc-input",
            autofocus=True,
            submit_btn=False,
        )
        send = gr.Button(t["send"], variant="primary", scale=1, min_width=90, elem_id="phc-send")
        stop = gr.Button(t["stop"], variant="stop", scale=1, min_width=90, elem_id="phc-stop", visible=False)
    return box, send, stop


def _components() -> Components:
    """Lay the page out (inside a ``gr.Blocks`` context) in English; ``load`` switches to the browser's language."""
    t = texts(DEFAULT_LANGUAGE)
    state = gr.BrowserState({"sid": ""}, storage_key=STORAGE_KEY)  # the id is made per browser, on load
    pending = gr.State({})
    title, privacy, lang_radio, new_btn = _header(t)
    disclaimer = gr.Markdown(t["disclaimer"], elem_id="phc-disclaimer")
    banner = gr.HTML("", elem_id="emergency-banner", padding=False)
    chat = _chat(t)
    notice = gr.Markdown("", elem_id="phc-notice")
    box, send, stop = _input_row(t)
    examples_label = gr.Markdown(t["examples"], elem_classes=["phc-muted"])
    with gr.Row():
        example_btns = [
            gr.Button(q, size="sm", variant="secondary", elem_classes=["phc-example"]) for q in t["example_list"]
        ]
    with gr.Row(visible=False) as comment_row:
        comment_box = gr.Textbox(label=t["comment_label"], lines=1, scale=6, elem_id="phc-comment")
        comment_btn = gr.Button(t["comment_send"], size="sm", scale=1, elem_id="phc-comment-send")
    return Components(state, pending, title, privacy, lang_radio, new_btn, disclaimer, banner, chat, notice, box,
                      send, stop, examples_label, example_btns, comment_row, comment_box, comment_btn)


def _wire_chat(page: WebChat, c: Components) -> None:
    """A message (typed, an example, or a quick-reply button) starts a streamed turn; Stop cancels it (Gradio's own
    event cancellation, which closes the turn's generator); after every turn, however it ended, the page settles."""

    def respond(text, raw_state):
        with closing(page.respond(text, raw_state)) as updates:  # a cancelled event closes the turn at once
            for update in updates:
                yield c.to_gradio(update)

    def settle(box, raw_state):
        return c.to_gradio(page.settle(box, raw_state))

    def stop(raw_state):
        page.stop(raw_state)
        return gr.update(interactive=False)  # stopping; the page is drawn, and unlocked, by settle

    def on_option(data: gr.SelectData):
        value = data.value.get("value") if isinstance(data.value, dict) else data.value
        return gr.update(value=f"{value} " if value else "")

    chat_args = {
        "fn": respond,
        "inputs": [c.box, c.state],
        "outputs": c.all_outputs,
        "concurrency_limit": CHAT_CONCURRENCY,
        "concurrency_id": "chat",
        "api_visibility": "private",
        "show_progress": "minimal",
        "show_progress_on": [c.chat],
    }
    # one event for Send and Enter: Gradio runs it once at a time per page ("once" trigger mode)
    turns = [gr.on([c.send.click, c.box.submit], **chat_args)]
    for btn in c.example_btns:
        turns.append(btn.click(lambda q: q, btn, c.box, queue=False, api_visibility="private").then(**chat_args))
    for turn in turns:  # runs after the turn's event finished, failed or was cancelled
        turn.then(settle, [c.box, c.state], c.all_outputs, queue=False, api_visibility="private")
    c.stop.click(stop, c.state, c.stop, cancels=turns, queue=False, api_visibility="private")
    c.chat.option_select(on_option, None, c.box, queue=False, api_visibility="private")


def _wire_page(page: WebChat, c: Components, demo: gr.Blocks) -> None:
    """Load, new conversation and language switch."""

    def on_load(raw_state, request: gr.Request):
        accept = request.headers.get("accept-language") if request is not None else None
        return c.to_gradio(page.load(raw_state, accept))

    def on_new(raw_state):
        return {**c.to_gradio(page.new_conversation(raw_state)), c.comment_row: gr.update(visible=False)}

    def on_language(lang, raw_state):
        return c.to_gradio(page.set_language(lang, raw_state))

    c.new_btn.click(on_new, c.state, [*c.all_outputs, c.comment_row], api_visibility="private")
    c.chat.clear(on_new, c.state, [*c.all_outputs, c.comment_row], api_visibility="private")
    c.lang_radio.input(on_language, [c.lang_radio, c.state], c.all_outputs, api_visibility="private")
    demo.load(on_load, c.state, c.all_outputs, api_visibility="private")


def _wire_feedback(page: WebChat, c: Components) -> None:
    """Thumbs up/down, then an optional comment (stored only where the installation opted in)."""

    def on_like(raw_state, data: gr.LikeData):
        stored, ref = page.feedback(raw_state, data.index, data.liked)
        lang = clean_state(raw_state)["lang"] or DEFAULT_LANGUAGE
        note = "" if stored is None else texts(lang)["feedback_stored" if stored else "feedback_not_stored"]
        return {c.notice: note, c.pending: ref, c.comment_row: gr.update(visible=bool(stored)), c.comment_box: ""}

    def on_comment(raw_state, ref, text):
        stored = page.comment(raw_state, ref, text)
        lang = clean_state(raw_state)["lang"] or DEFAULT_LANGUAGE
        note = texts(lang)["comment_stored"] if stored else ""
        return {c.notice: note, c.comment_box: "", c.comment_row: gr.update(visible=False), c.pending: {}}

    c.chat.like(on_like, c.state, [c.notice, c.pending, c.comment_row, c.comment_box], api_visibility="private")
    c.comment_btn.click(
        on_comment,
        [c.state, c.pending, c.comment_box],
        [c.notice, c.comment_box, c.comment_row, c.pending],
        api_visibility="private",
    )


def build_page(page: WebChat) -> gr.Blocks:
    """The whole page, bound to one ``WebChat``, with its queue sized for the configured number of sessions."""
    with gr.Blocks(title="Health information assistant", analytics_enabled=False, fill_width=False) as demo:
        components = _components()
        _wire_chat(page, components)
        _wire_page(page, components, demo)
        _wire_feedback(page, components)
    demo.queue(default_concurrency_limit=CHAT_CONCURRENCY, max_size=max(MIN_QUEUE, page.settings.server.max_sessions))
    return demo

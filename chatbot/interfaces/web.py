"""Browser chat (Gradio) and HTTP API in one process: ``python -m chatbot serve``.

One Engine per process (one model in memory, its own lock); Gradio's queue lets several patients chat at once, and
its concurrency limit is set high on purpose: the red-flag escalation is produced before any model work, so an
emergency message must never wait behind another patient's answer. Everything the page needs is served from this
machine: no web fonts, no CDN, no analytics (``import chatbot`` disables Gradio's). No medical logic lives here:
the page renders the Answer object (triage badge, sources, emergency banner, follow-up questions).

Per-browser isolation: each browser gets a random conversation id kept with its history in that browser's
localStorage (``gr.BrowserState``, encrypted with a per-process secret); the server keeps the conversation only in
memory, and writes nothing about it unless ``privacy.save_transcripts`` / ``privacy.save_feedback`` opt in.
"""

from __future__ import annotations

import html
import logging
import re
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import gradio as gr

from chatbot.answer import Answer, Source, Triage, TriageLevel
from chatbot.config import Settings
from chatbot.conversation import Engine, InputError, SessionStore
from chatbot.interfaces.api import LocalRecords, create_api, is_loopback
from chatbot.safety.messages import banner_title, is_emergency

log = logging.getLogger(__name__)

STORAGE_KEY = "private-health-chatbot.v1"
MAX_STORED_MESSAGES = 120
MAX_FOLLOW_UPS = 4
STREAM_EVERY_S = 0.05
SYSTEM_FONTS = [
    "system-ui",
    "-apple-system",
    "Segoe UI",
    "Roboto",
    "Noto Sans",
    "Noto Sans CJK SC",
    "PingFang SC",
    "Microsoft YaHei",
    "sans-serif",
]
MONO_FONTS = ["ui-monospace", "SFMono-Regular", "Consolas", "Liberation Mono", "monospace"]

# ---- fixed texts, in the patient's language -------------------------------------------------------------------------
TEXTS: dict[str, dict[str, Any]] = {
    "en": {
        "title": "## ⚕ Health information assistant",
        "privacy": "Runs entirely on this computer: nothing you type leaves it.",
        "disclaimer": (
            "ℹ General health information, **not a diagnosis**. **In an emergency, call your emergency number now.**"
        ),
        "placeholder": "Describe your symptoms or ask a health question…",
        "send": "Send",
        "new": "+ New conversation",
        "language": "Language",
        "examples": "Try an example:",
        "example_list": [
            "I've had a sore throat for 3 days. What can I do at home?",
            "What are the warning signs of a stroke?",
            "How do I treat a mild burn?",
            "How can I sleep better?",
        ],
        "chat_label": "Conversation",
        "welcome": "Ask about a symptom or a health topic. Answers cite their sources, and urgent warning signs "
        "are flagged at once.",
        "waiting": "Preparing your answer…",
        "retrieving": "Looking up trusted medical sources…",
        "generating": "Writing your answer…",
        "sources": "Sources",
        "reasons": "Why",
        "decided_by": "decided by",
        "decided": {"rules": "safety rules", "facts": "what you told us", "model": "the assistant",
                    "both": "safety rules and the assistant"},
        "conditions": "Things to discuss with a doctor",
        "follow_ups": "You can answer with the buttons below, then add the details.",
        "error": "Sorry, something went wrong while preparing the answer. Please try again. If you feel very unwell, "
        "get medical help now.",
        "feedback_stored": "Thank you, your feedback was saved on this computer (without your conversation id).",
        "feedback_not_stored": "Thank you. Feedback not stored: this installation keeps no feedback.",
        "comment_label": "Optional comment about this answer",
        "comment_send": "Send comment",
        "comment_stored": "Comment saved. Thank you.",
        "empty": "Please type a question or describe your symptoms.",
        "new_done": "Started a new conversation.",
        "levels": {
            "emergency": "EMERGENCY: call your emergency number or go to the emergency department now",
            "urgent": "URGENT: get seen today (urgent care or a same-day doctor)",
            "routine": "ROUTINE: book a doctor's appointment in the coming days or weeks",
            "self_care": "SELF-CARE: look after yourself at home or ask a pharmacist; see a doctor if it changes",
        },
    },
    "zh": {
        "title": "## ⚕ 健康信息助手",
        "privacy": "完全在本机运行：您输入的内容不会离开这台电脑。",
        "disclaimer": "ℹ 一般健康信息，**不是诊断**。**紧急情况请立即拨打急救电话。**",
        "placeholder": "请描述您的症状或提出健康问题…",
        "send": "发送",
        "new": "+ 新对话",
        "language": "语言",
        "examples": "试试这些问题：",
        "example_list": [
            "我喉咙痛三天了，在家可以怎么处理？",
            "中风有哪些警示信号？",
            "轻度烫伤怎么处理？",
            "怎样才能睡得更好？",
        ],
        "chat_label": "对话",
        "welcome": "请询问症状或健康话题。回答会注明来源，危险信号会立即提示。",
        "waiting": "正在准备回答…",
        "retrieving": "正在查找可靠的医学资料…",
        "generating": "正在撰写回答…",
        "sources": "参考来源",
        "reasons": "原因",
        "decided_by": "判断依据",
        "decided": {"rules": "安全规则", "facts": "您提供的情况", "model": "助手", "both": "安全规则和助手"},
        "conditions": "可以和医生讨论的情况",
        "follow_ups": "可点击下面的按钮回答，再补充具体情况。",
        "error": "抱歉，准备回答时出了问题，请重试。如果您感觉非常不适，请立即就医。",
        "feedback_stored": "谢谢，您的反馈已保存在本机（不含对话编号）。",
        "feedback_not_stored": "谢谢。未保存反馈：本系统不保存任何反馈。",
        "comment_label": "对这条回答的补充意见（可选）",
        "comment_send": "提交意见",
        "comment_stored": "意见已保存，谢谢。",
        "empty": "请输入问题或描述您的症状。",
        "new_done": "已开始新对话。",
        "levels": {
            "emergency": "紧急：请立即拨打急救电话或前往急诊",
            "urgent": "尽快：请今天就医（急诊门诊或当天看医生）",
            "routine": "常规：请在近期预约医生",
            "self_care": "自我护理：可在家护理或咨询药剂师；如有变化请就医",
        },
    },
}
LEVEL_ICONS = {
    TriageLevel.emergency: "☎",
    TriageLevel.urgent: "⚠",
    TriageLevel.routine: "◷",
    TriageLevel.self_care: "⌂",
}
LANGUAGES = [("English", "en"), ("中文", "zh")]

CSS = """
#emergency-banner { position: sticky; top: 0; z-index: 100; }
.phc-banner { background: #b91c1c; color: #fff; border: 3px solid #7f1d1d; border-radius: 10px;
  padding: 0.8rem 1rem; font-size: 1.1rem; line-height: 1.45; box-shadow: 0 2px 8px rgba(0,0,0,.25); }
.phc-banner strong { font-size: 1.2rem; letter-spacing: .02em; color: #fff !important; }
.phc-banner.phc-banner-urgent { background: #fbbf24; color: #111; border-color: #b45309; }
.phc-banner.phc-banner-urgent strong { color: #111 !important; }
.phc-badge { display: inline-block; padding: 0.3rem 0.65rem; border-radius: 8px; font-weight: 700;
  border: 2px solid rgba(0,0,0,.35); margin-bottom: 0.2rem; }
.phc-emergency { background: #b91c1c !important; color: #fff !important; }
.phc-urgent { background: #fbbf24 !important; color: #111 !important; }
.phc-routine { background: #1d4ed8 !important; color: #fff !important; }
.phc-self_care { background: #15803d !important; color: #fff !important; }
.phc-reasons { font-size: 0.92em; margin: 0.3rem 0 0.2rem 0; }
.phc-sources summary { cursor: pointer; font-weight: 600; }
.phc-sources ol { margin: 0.3rem 0 0 0.4rem; padding-left: 0; list-style: none; }
.phc-muted { opacity: 0.8; font-size: 0.9em; }
#phc-disclaimer { font-size: 0.92rem; }
#phc-disclaimer p { margin: 0; }
#phc-notice:empty { display: none; }
.phc-pending { opacity: 0.85; font-style: italic; }
.phc-pending::before { content: ""; display: inline-block; width: 0.85em; height: 0.85em; margin-right: 0.45em;
  border: 2px solid currentColor; border-right-color: transparent; border-radius: 50%; vertical-align: -0.1em;
  animation: phc-spin 1.2s steps(8) infinite; }
@keyframes phc-spin { to { transform: rotate(360deg); } }
#phc-language { min-width: 0; }
#phc-header { align-items: center; }
"""


# ---- rendering (pure functions, unit-tested) --------------------------------------------------------------------
def texts(lang: str | None) -> dict[str, Any]:
    return TEXTS.get(lang or "en", TEXTS["en"])


def _esc(value: str) -> str:
    return html.escape(value or "", quote=True)


def safe_markdown(text: str) -> str:
    """Model or patient text as Markdown, with raw HTML neutralised (the page must only show our own markup)."""
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def badge_html(triage: Triage, lang: str) -> str:
    """Colour, icon AND words: readable without colour, by screen readers and in greyscale print."""
    t = texts(lang)
    level = triage.level
    label = t["levels"][level.value]
    decided = t["decided"].get(triage.decided_by, triage.decided_by)
    out = [
        f'<div class="phc-triage" data-level="{level.value}">',
        f'<span class="phc-badge phc-{level.value}" role="status" aria-label="{_esc(label)}">'
        f"{LEVEL_ICONS[level]} {_esc(label)}</span>",
    ]
    reasons = [r for r in triage.reasons if r.strip()]
    if reasons:
        items = "".join(f"<li>{_esc(r)}</li>" for r in reasons)
        out.append(
            f'<div class="phc-reasons"><strong>{_esc(t["reasons"])}</strong> '
            f'<span class="phc-muted">({_esc(t["decided_by"])} {_esc(decided)})</span><ul>{items}</ul></div>'
        )
    if triage.possible_conditions:
        out.append(
            f'<div class="phc-reasons phc-muted">{_esc(t["conditions"])}: '
            f"{_esc(', '.join(triage.possible_conditions))}</div>"
        )
    out.append("</div>")
    return "".join(out)


def _link(url: str) -> str | None:
    return url if re.match(r"^https?://[^\s\"'<>]+$", url or "") else None


def sources_html(sources: list[Source], lang: str) -> str:
    """An expandable list whose numbers match the answer's [n] markers."""
    t = texts(lang)
    items = []
    for s in sources:
        title = _esc(s.title or s.topic_id or "source")
        url = _link(s.url)
        name = f'<a href="{_esc(url)}" target="_blank" rel="noopener noreferrer">{title}</a>' if url else title
        section = f' <span class="phc-muted">— {_esc(s.section)}</span>' if s.section else ""
        items.append(f'<li value="{s.n}" id="phc-source-{s.n}">[{s.n}] {name}{section}</li>')
    return (
        f'<details class="phc-sources"><summary>{_esc(t["sources"])} ({len(sources)})</summary>'
        f"<ol>{''.join(items)}</ol></details>"
    )


def banner_html(escalation: str, lang: str, level: str | None = None) -> str:
    """The pinned escalation: red EMERGENCY only when the decided level is emergency, an urgent-styled notice below
    it (headings from chatbot/safety/texts/messages.yaml). A level that is not known is treated as an emergency."""
    emergency = level is None or is_emergency(level)
    title = "⚠ " + banner_title(TriageLevel.emergency if emergency else level, lang)
    kind, css = ("emergency", "phc-banner") if emergency else ("urgent", "phc-banner phc-banner-urgent")
    body = "<br>".join(_esc(line) for line in escalation.strip().splitlines() if line.strip())
    return f'<div class="{css}" role="alert" data-level="{kind}"><strong>{_esc(title)}</strong><br>{body}</div>'


def _banner(state: dict[str, Any], lang: str) -> str:
    return banner_html(state["escalation"], lang, state["escalation_level"] or None) if state["escalation"] else ""


def follow_up_questions(answer: Answer) -> list[str]:
    """The questions the engine asked: '- ' lines of an intake answer, plus triage.follow_up_questions."""
    found: list[str] = []
    if answer.kind == "intake":
        found += [line.strip()[2:].strip() for line in answer.answer.splitlines() if line.strip().startswith("- ")]
    if answer.triage is not None:
        found += answer.triage.follow_up_questions
    unique = list(dict.fromkeys(q for q in found if q))
    return unique[:MAX_FOLLOW_UPS]


def render_answer(answer: Answer, lang: str) -> str:
    """One assistant message: triage badge and reasons, the answer with its [n] markers, the sources panel."""
    parts = []
    if answer.triage is not None:
        parts.append(badge_html(answer.triage, lang))
    parts.append(safe_markdown(answer.answer))
    if answer.sources:
        parts.append(sources_html(answer.sources, lang))
    return "\n\n".join(parts)


def assistant_message(answer: Answer, lang: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": render_answer(answer, lang)}
    questions = follow_up_questions(answer)
    if questions:
        message["options"] = [{"value": q, "label": q} for q in questions]
    return message


def pending_message(text: str, badge: str = "") -> dict[str, Any]:
    """The assistant's place-holder while it works; the decided badge (if any) stays on top."""
    pending = f'<span class="phc-pending">{_esc(text)}</span>'
    return {"role": "assistant", "content": f"{badge}\n\n{pending}" if badge else pending}


def guess_language(accept_language: str | None) -> str:
    return "zh" if (accept_language or "").lower().startswith("zh") else "en"


# ---- browser state -------------------------------------------------------------------------------------------------
def new_state(lang: str = "") -> dict[str, Any]:
    return {"sid": uuid.uuid4().hex, "lang": lang, "history": [], "turns": [], "meta": [], "escalation": "",
            "escalation_level": ""}


def clean_state(value: Any) -> dict[str, Any]:
    """Whatever the browser sent back, as a well-formed state (foreign or tampered data is dropped, not trusted)."""
    state = new_state()
    if not isinstance(value, dict):
        return state
    sid = value.get("sid")
    if isinstance(sid, str) and re.fullmatch(r"[0-9a-f]{32}", sid):
        state["sid"] = sid
    if value.get("lang") in TEXTS:
        state["lang"] = value["lang"]
    history = value.get("history")
    if isinstance(history, list):
        state["history"] = [
            m
            for m in history[-MAX_STORED_MESSAGES:]
            if isinstance(m, dict) and m.get("role") in {"user", "assistant"} and isinstance(m.get("content"), str)
        ]
    turns = value.get("turns")
    if isinstance(turns, list):
        state["turns"] = [
            t
            for t in turns[-MAX_STORED_MESSAGES:]
            if isinstance(t, dict) and t.get("role") in {"user", "assistant"} and isinstance(t.get("text"), str)
        ]
    meta = value.get("meta")
    if isinstance(meta, list) and len(meta) == len(state["history"]):
        state["meta"] = [m if isinstance(m, dict) else {} for m in meta]
    else:
        state["meta"] = [{} for _ in state["history"]]
    if isinstance(value.get("escalation"), str):
        state["escalation"] = value["escalation"]
    if value.get("escalation_level") in {TriageLevel.emergency.value, TriageLevel.urgent.value}:
        state["escalation_level"] = value["escalation_level"]
    return state


def _trim(state: dict[str, Any]) -> dict[str, Any]:
    extra = len(state["history"]) - MAX_STORED_MESSAGES
    if extra > 0:
        state["history"] = state["history"][extra:]
        state["meta"] = state["meta"][extra:]
    state["turns"] = state["turns"][-MAX_STORED_MESSAGES:]
    return state


def _without_options(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Quick-reply buttons belong to the latest question only."""
    return [{k: v for k, v in m.items() if k != "options"} for m in history]


# ---- the page ------------------------------------------------------------------------------------------------------
class WebChat:
    """The Gradio page bound to one Engine; its handlers are plain methods so tests can call them directly."""

    def __init__(self, engine: Engine, settings: Settings | None = None, records: LocalRecords | None = None):
        self.engine = engine
        self.settings = settings or engine.settings
        self.sessions = SessionStore(self.settings.server.max_sessions)
        self.records = records or LocalRecords(self.settings)

    # -- handlers --
    def session_for(self, state: dict[str, Any]):
        session = self.sessions.get(state["sid"])
        if not session.turns and state["turns"]:
            # The server forgot this conversation (restart or eviction): reload it from the browser's own copy.
            self.engine.restore(session, [(t["role"], t["text"]) for t in state["turns"]])
        return session

    def respond(self, text: str, raw_state: Any) -> Iterator[dict[str, Any]]:
        """One turn; yields partial page updates as dicts {component key: value} (see ``build``)."""
        state = clean_state(raw_state)
        lang = state["lang"] or "en"
        t = texts(lang)
        text = text if isinstance(text, str) else ""
        if not text.strip():
            yield {"notice": t["empty"]}
            return
        history = _without_options(state["history"])
        meta = list(state["meta"])
        history.append({"role": "user", "content": safe_markdown(text)})
        history.append(pending_message(t["waiting"]))
        meta += [{}, {}]
        yield {"box": "", "chat": list(history), "notice": ""}

        session = self.session_for(state)
        events = self.engine.stream(session, text)
        body = ""
        badge = ""  # the decided level, shown above the answer as soon as it exists
        last = 0.0
        banner: str | None = None
        banner_level: str | None = None  # follows the decided level: the rules' at first, the final one later
        try:
            for event in events:
                if event.type == "escalation":
                    banner, banner_level = event.text, event.data.get("level")
                    history[-1] = pending_message(t["generating"] if body else t["waiting"], badge)
                    yield {"banner": banner_html(banner, lang, banner_level), "chat": list(history)}
                elif event.type == "triage":
                    badge = badge_html(event.data["triage"], lang)
                    history[-1] = pending_message(t["generating"], badge)
                    update = {"chat": list(history)}
                    if banner and event.data["triage"].level.value != banner_level:
                        banner_level = event.data["triage"].level.value
                        update["banner"] = banner_html(banner, lang, banner_level)
                    yield update
                elif event.type == "status":
                    history[-1] = pending_message(t.get(event.text, t["waiting"]), badge)
                    yield {"chat": list(history)}
                elif event.type == "replace":  # corrected to match the decided level
                    body = event.text
                elif event.type == "token":
                    body += event.text
                    now = time.monotonic()
                    if now - last >= STREAM_EVERY_S:
                        last = now
                        content = safe_markdown(body) + " ▍"
                        history[-1] = {"role": "assistant", "content": f"{badge}\n\n{content}" if badge else content}
                        yield {"chat": list(history)}
                elif event.type == "answer" and event.answer is not None:
                    answer = event.answer
                    if answer.language in TEXTS and answer.language != lang:
                        lang = answer.language
                        state["lang"] = lang
                    history[-1] = assistant_message(answer, lang)
                    meta[-1] = {
                        "kind": answer.kind,
                        "level": answer.triage.level.value if answer.triage else None,
                        "language": answer.language,
                        "model": answer.model.name,
                        "sources": [s.title for s in answer.sources],
                    }
                    state["turns"] += [{"role": "user", "text": text}, {"role": "assistant", "text": answer.answer}]
                    if answer.escalation:
                        banner = answer.escalation
                        banner_level = answer.triage.level.value if answer.triage else banner_level
                    self.records.transcript(session.id, text, answer)
        except InputError as exc:
            # Nothing was accepted: take the message back out of the chat and give it back to the box, untouched.
            yield {"box": text, "chat": state["history"], "notice": f"⚠ {exc}"}
            return
        except Exception as exc:  # the patient never sees a stack trace
            log.error("web turn failed: %s: %s", type(exc).__name__, exc, exc_info=exc)
            history[-1] = {"role": "assistant", "content": t["error"]}
        finally:
            events.close()
        if banner:
            state["escalation"], state["escalation_level"] = banner, banner_level or ""
        state["history"], state["meta"] = history, meta
        update = {"chat": history, "state": _trim(state), "lang": lang, "texts": lang}
        if state["escalation"]:
            update["banner"] = _banner(state, lang)
        yield update

    def load(self, raw_state: Any, accept_language: str | None) -> dict[str, Any]:
        state = clean_state(raw_state)
        if not state["lang"]:
            state["lang"] = guess_language(accept_language)
        lang = state["lang"]
        return {
            "chat": state["history"],
            "state": state,
            "banner": _banner(state, lang),
            "lang": lang,
            "texts": lang,
        }

    def new_conversation(self, raw_state: Any) -> dict[str, Any]:
        old = clean_state(raw_state)
        self.sessions.drop(old["sid"])
        state = new_state(old["lang"] or "en")
        return {"chat": [], "state": state, "banner": "", "notice": texts(state["lang"])["new_done"], "box": ""}

    def set_language(self, lang: str, raw_state: Any) -> dict[str, Any]:
        state = clean_state(raw_state)
        state["lang"] = lang if lang in TEXTS else "en"
        update: dict[str, Any] = {"state": state, "texts": state["lang"]}
        if state["escalation"]:
            update["banner"] = _banner(state, state["lang"])
        return update

    def feedback(self, raw_state: Any, index: Any, liked: Any) -> tuple[bool, dict[str, Any]]:
        """Record a thumbs up/down; returns (stored, the record's reference for a follow-up comment)."""
        state = clean_state(raw_state)
        position = index[0] if isinstance(index, list | tuple) else index
        meta = state["meta"][position] if isinstance(position, int) and 0 <= position < len(state["meta"]) else {}
        rating = "up" if liked is True or liked == "Like" else "down" if liked is False or liked == "Dislike" else None
        ref = uuid.uuid4().hex[:12]
        record = {"type": "rating", "ref": ref, "rating": rating, "message_index": position, **meta}
        stored = self.records.feedback(state["sid"], record)
        return stored, {"ref": ref, "index": position} if stored else {}

    def comment(self, raw_state: Any, pending: Any, text: str) -> bool:
        state = clean_state(raw_state)
        if not isinstance(pending, dict) or not pending.get("ref") or not (text or "").strip():
            return False
        record = {"type": "comment", "ref": pending["ref"], "comment": text.strip()[:2000]}
        return self.records.feedback(state["sid"], record)

    # -- layout --
    def build(self):
        t = TEXTS["en"]
        with gr.Blocks(title="Health information assistant", analytics_enabled=False, fill_width=False) as demo:
            state = gr.BrowserState({"sid": ""}, storage_key=STORAGE_KEY)  # the id is made per browser, on load
            pending = gr.State({})
            with gr.Row(elem_id="phc-header"):
                with gr.Column(scale=3, min_width=280):
                    title = gr.Markdown(t["title"], elem_id="phc-title")
                    privacy = gr.Markdown(t["privacy"], elem_id="phc-privacy", elem_classes=["phc-muted"])
                with gr.Column(scale=2, min_width=240):
                    lang_radio = gr.Radio(
                        LANGUAGES, value="en", label=t["language"], elem_id="phc-language", container=False
                    )
                    new_btn = gr.Button(t["new"], size="sm", variant="secondary", elem_id="phc-new")
            disclaimer = gr.Markdown(t["disclaimer"], elem_id="phc-disclaimer")
            banner = gr.HTML("", elem_id="emergency-banner", padding=False)
            chat = gr.Chatbot(
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
            notice = gr.Markdown("", elem_id="phc-notice")
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
            examples_label = gr.Markdown(t["examples"], elem_classes=["phc-muted"])
            with gr.Row():
                example_btns = [
                    gr.Button(q, size="sm", variant="secondary", elem_classes=["phc-example"])
                    for q in t["example_list"]
                ]
            with gr.Row(visible=False) as comment_row:
                comment_box = gr.Textbox(label=t["comment_label"], lines=1, scale=6, elem_id="phc-comment")
                comment_btn = gr.Button(t["comment_send"], size="sm", scale=1, elem_id="phc-comment-send")

            text_outputs = [title, privacy, disclaimer, lang_radio, new_btn, box, send, chat, examples_label]
            text_outputs += example_btns + [comment_box, comment_btn]

            def text_updates(lang: str) -> dict:
                tt = texts(lang)
                updates = {
                    title: tt["title"],
                    privacy: tt["privacy"],
                    disclaimer: tt["disclaimer"],
                    lang_radio: gr.update(value=lang, label=tt["language"]),
                    new_btn: gr.update(value=tt["new"]),
                    send: gr.update(value=tt["send"]),
                    examples_label: tt["examples"],
                    comment_box: gr.update(label=tt["comment_label"]),
                    comment_btn: gr.update(value=tt["comment_send"]),
                }
                for btn, q in zip(example_btns, tt["example_list"], strict=True):
                    updates[btn] = gr.update(value=q)
                return updates

            keys = {"chat": chat, "state": state, "banner": banner, "notice": notice, "box": box}

            def to_gradio(update: dict[str, Any]) -> dict:
                out: dict = {}
                lang = update.get("texts")
                if lang:
                    out.update(text_updates(lang))
                for key, component in keys.items():
                    if key not in update:
                        continue
                    value = update[key]
                    if key == "banner":
                        out[banner] = gr.update(value=value, visible=bool(value))
                    elif key == "box" and lang:
                        out[box] = gr.update(value=value, placeholder=texts(lang)["placeholder"])
                    elif key == "chat" and lang:
                        out[chat] = gr.update(
                            value=value, label=texts(lang)["chat_label"], placeholder=texts(lang)["welcome"]
                        )
                    else:
                        out[component] = value
                if lang and box not in out:
                    out[box] = gr.update(placeholder=texts(lang)["placeholder"])
                if lang and chat not in out:
                    out[chat] = gr.update(label=texts(lang)["chat_label"], placeholder=texts(lang)["welcome"])
                return out

            all_outputs = list(dict.fromkeys([*keys.values(), *text_outputs]))

            def respond(text, raw_state):
                for update in self.respond(text, raw_state):
                    yield to_gradio(update)

            def on_load(raw_state, request: gr.Request):
                accept = request.headers.get("accept-language") if request is not None else None
                return to_gradio(self.load(raw_state, accept))

            def on_new(raw_state):
                return {**to_gradio(self.new_conversation(raw_state)), comment_row: gr.update(visible=False)}

            def on_language(lang, raw_state):
                return to_gradio(self.set_language(lang, raw_state))

            def on_like(raw_state, data: gr.LikeData):
                stored, ref = self.feedback(raw_state, data.index, data.liked)
                lang = clean_state(raw_state)["lang"] or "en"
                note = texts(lang)["feedback_stored" if stored else "feedback_not_stored"]
                return {notice: note, pending: ref, comment_row: gr.update(visible=stored), comment_box: ""}

            def on_comment(raw_state, ref, text):
                stored = self.comment(raw_state, ref, text)
                lang = clean_state(raw_state)["lang"] or "en"
                note = texts(lang)["comment_stored"] if stored else ""
                return {notice: note, comment_box: "", comment_row: gr.update(visible=False), pending: {}}

            def on_option(data: gr.SelectData):
                value = data.value.get("value") if isinstance(data.value, dict) else data.value
                return gr.update(value=f"{value} " if value else "")

            chat_args = {
                "fn": respond,
                "inputs": [box, state],
                "outputs": all_outputs,
                "concurrency_limit": 16,
                "concurrency_id": "chat",
                "api_visibility": "private",
                "show_progress": "minimal",
            }
            send.click(**chat_args)
            box.submit(**chat_args)
            for btn in example_btns:
                btn.click(lambda q: q, btn, box, queue=False, api_visibility="private").then(**chat_args)
            chat.option_select(on_option, None, box, queue=False, api_visibility="private")
            new_btn.click(on_new, state, [*all_outputs, comment_row], api_visibility="private")
            chat.clear(on_new, state, [*all_outputs, comment_row], api_visibility="private")
            lang_radio.input(on_language, [lang_radio, state], all_outputs, api_visibility="private")
            chat.like(on_like, state, [notice, pending, comment_row, comment_box], api_visibility="private")
            comment_btn.click(
                on_comment,
                [state, pending, comment_box],
                [notice, comment_box, comment_row, pending],
                api_visibility="private",
            )
            demo.load(on_load, state, all_outputs, api_visibility="private")
        demo.queue(default_concurrency_limit=16, max_size=max(64, self.settings.server.max_sessions))
        return demo


def theme():
    return gr.themes.Default(primary_hue="blue", font=SYSTEM_FONTS, font_mono=MONO_FONTS)


def build_app(engine: Engine, settings: Settings | None = None, host: str = "127.0.0.1", port: int = 7860):
    """The whole server: API routes first, the browser page mounted at ``/``; one Engine shared by both."""
    settings = settings or engine.settings
    records = LocalRecords(settings)
    app = create_api(engine, settings, records=records)
    page = WebChat(engine, settings, records)
    app.state.web = page
    return gr.mount_gradio_app(
        app,
        page.build(),
        path="/",
        server_name=host,
        server_port=port,
        footer_links=[],
        run_history=False,
        show_error=False,
        ssr_mode=False,
        pwa=False,
        mcp_server=False,
        enable_monitoring=False,
        theme=theme(),
        css=CSS,
    )


def _port_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def warm_up(engine: Engine) -> None:
    """Load everything the first patient would otherwise wait for (model, prompt prefix, embedder, BM25)."""
    engine.warm_up()


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> int:
    """Start the page and the API on one port. Loopback only unless a host is given, and then a key is required."""
    import uvicorn

    host = host or settings.server.host
    port = port or settings.server.port
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    if not is_loopback(host) and not settings.server.api_key:
        say(
            f"Refusing to listen on {host}: other computers could reach the assistant. Set an API key first "
            "(server.api_key in your settings file, or CHATBOT__SERVER__API_KEY=<long random key>), "
            "or leave --host out to stay on 127.0.0.1."
        )
        return 2
    if not _port_free(host, port):
        say(f"Port {port} on {host} is already in use. Choose another with --port.")
        return 2

    engine = Engine(settings)
    say("Opening the knowledge index…")
    chunks = engine.ensure_index(progress=False)
    say("Loading the language model…")
    warm_up(engine)
    info = engine.model_info()
    app = build_app(engine, settings, host, port)
    shown = "127.0.0.1" if host in {"0.0.0.0", "::"} else host
    say(f"Model: {info.name} · Index: {chunks} chunks · Locale: {engine.locale}")
    say(f"Browser chat: http://{shown}:{port}/   API: http://{shown}:{port}/v1/…   Health: /healthz")
    if settings.server.api_key:
        say("API routes need 'Authorization: Bearer <key>'; the page asks non-local visitors for the key.")
    say("Press Ctrl-C to stop.")
    # log_config=None: uvicorn's loggers propagate to the root handlers, which redact identifiers (chatbot.privacy)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, log_config=None)
    return 0

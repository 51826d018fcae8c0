"""HTML of one answer: triage badge, sources panel, escalation banner, follow-up buttons (pure functions).

Everything that came from the model, the corpus or the patient is escaped here: the page shows only our own markup.
"""

from __future__ import annotations

import html
import re
from typing import Any

from chatbot.answer import Answer, Source, Triage, TriageLevel
from chatbot.interfaces.web.texts import texts
from chatbot.safety.messages import banner_title, is_emergency

MAX_FOLLOW_UPS = 4
LEVEL_ICONS = {
    TriageLevel.emergency: "☎",
    TriageLevel.urgent: "⚠",
    TriageLevel.routine: "◷",
    TriageLevel.self_care: "⌂",
}
_SAFE_URL = re.compile(r"^https?://[^\s\"'<>]+$")


def esc(value: str) -> str:
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
        f'<span class="phc-badge phc-{level.value}" role="status" aria-label="{esc(label)}">'
        f"{LEVEL_ICONS[level]} {esc(label)}</span>",
    ]
    reasons = [r for r in triage.reasons if r.strip()]
    if reasons:
        items = "".join(f"<li>{esc(r)}</li>" for r in reasons)
        out.append(
            f'<div class="phc-reasons"><strong>{esc(t["reasons"])}</strong> '
            f'<span class="phc-muted">({esc(t["decided_by"])} {esc(decided)})</span><ul>{items}</ul></div>'
        )
    if triage.possible_conditions:
        out.append(
            f'<div class="phc-reasons phc-muted">{esc(t["conditions"])}: '
            f"{esc(', '.join(triage.possible_conditions))}</div>"
        )
    out.append("</div>")
    return "".join(out)


def _link(url: str) -> str | None:
    """Only plain http(s) links become clickable: a javascript: or data: URL from a document stays text."""
    return url if _SAFE_URL.match(url or "") else None


def sources_html(sources: list[Source], lang: str) -> str:
    """An expandable list whose numbers match the answer's [n] markers."""
    t = texts(lang)
    items = []
    for s in sources:
        title = esc(s.title or s.topic_id or "source")
        url = _link(s.url)
        name = f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer">{title}</a>' if url else title
        section = f' <span class="phc-muted">— {esc(s.section)}</span>' if s.section else ""
        items.append(f'<li value="{s.n}" id="phc-source-{s.n}">[{s.n}] {name}{section}</li>')
    return (
        f'<details class="phc-sources"><summary>{esc(t["sources"])} ({len(sources)})</summary>'
        f"<ol>{''.join(items)}</ol></details>"
    )


def banner_html(escalation: str, lang: str, level: str | None = None) -> str:
    """The pinned escalation: red EMERGENCY only when the decided level is emergency, an urgent-styled notice below
    it (headings from chatbot/safety/texts/messages.yaml). A level that is not known is treated as an emergency."""
    emergency = level is None or is_emergency(level)
    title = "⚠ " + banner_title(TriageLevel.emergency if emergency else level, lang)
    kind, css = ("emergency", "phc-banner") if emergency else ("urgent", "phc-banner phc-banner-urgent")
    body = "<br>".join(esc(line) for line in escalation.strip().splitlines() if line.strip())
    return f'<div class="{css}" role="alert" data-level="{kind}"><strong>{esc(title)}</strong><br>{body}</div>'


def state_banner(state: dict[str, Any], lang: str) -> str:
    """The banner a browser's stored state asks for ('' when the conversation never escalated)."""
    return banner_html(state["escalation"], lang, state["escalation_level"] or None) if state["escalation"] else ""


def follow_up_questions(answer: Answer) -> list[str]:
    """The questions the engine asked, as it sent them (``Answer.follow_up_questions``): never parsed from text."""
    unique = list(dict.fromkeys(q for q in answer.follow_up_questions if q))
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
    """The chat message of a finished answer, with the engine's follow-up questions as quick-reply buttons."""
    message: dict[str, Any] = {"role": "assistant", "content": render_answer(answer, lang)}
    questions = follow_up_questions(answer)
    if questions:
        message["options"] = [{"value": q, "label": q} for q in questions]
    return message


def working_message(step: str, label: str, badge: str = "", body: str = "", detail: str = "") -> dict[str, Any]:
    """The assistant's bubble while it works: the decided badge on top (as soon as it exists), then what it is doing
    now. Before the answer that is a spinner line (``phc-pending``: nothing to read yet); while the answer streams,
    the text with a cursor and the step below it. Every working bubble holds a ``phc-step`` element, which is what
    hides the feedback buttons on it (style.css): only a finished reply can be rated. The step is a class, not a
    data attribute, because the chat's HTML sanitizer keeps classes only."""
    step_html = f'<span class="phc-step phc-step-{esc(step)}">{esc(label)}</span>'
    parts = [badge] if badge else []
    if body:
        parts += [safe_markdown(body) + " ▍", step_html]
    else:
        extra = f' <span class="phc-muted">{esc(detail)}</span>' if detail else ""
        parts.append(f'<span class="phc-pending">{step_html}{extra}</span>')
    return {"role": "assistant", "content": "\n\n".join(parts)}


def stopped_message(body: str, badge: str, note: str) -> dict[str, Any]:
    """A reply the patient stopped: what was written stays, under its badge, marked as incomplete (no feedback)."""
    parts = [badge] if badge else []
    if body.strip():
        parts.append(safe_markdown(body.rstrip()))
    parts.append(f'<span class="phc-stopped" role="status">⏹ {esc(note)}</span>')
    return {"role": "assistant", "content": "\n\n".join(parts)}


def error_message(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": f'<span class="phc-error" role="alert">{esc(text)}</span>'}

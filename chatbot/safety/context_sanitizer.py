"""Retrieved documents are data, not instructions: :func:`sanitize_context` blanks lines in them that look like
instructions to the model before they go into the prompt.

Why apart from the refusal patterns: this runs on library text at prompt-building time, not on the patient's
message, and judges a line rather than a request. A leaflet may say "you must now finish the whole course"; only
lines addressed to the model (chat-template tokens, "system:", "ignore previous instructions", a level claim such as
"level=self_care", "note to the AI") are removed, and HTML comments whole. False medical statements are not judged
here: the level comes from the rules, and the answer's words from the consistency check.

The same patterns give the model its view of the patient's message (:func:`without_instructions`, by sentence):
there the refusal patterns decide whether to answer at all, and this only decides what the model reads.
"""

from __future__ import annotations

import re
import unicodedata

REMOVED = "[removed instruction-like text]"

_INSTRUCTION_LINE = re.compile(
    r"<\|[a-z_]+\|>|<(?:start|end)_of_turn>|\[/?inst\]|<</?sys>>|</?s>|<\|?(?:system|assistant|user)\|?>"
    r"|^\s*(?:#+\s*)?(?:system|assistant|user|developer|human|ai|model)\s*(?:prompt|message)?\s*:"
    r"|^\s*#+\s*(?:instruction|instructions|system|response)\b"
    r"|\b(?:ignore|disregard|forget|override|bypass)\b[^\n]{0,40}\b(?:instructions?|rules?|prompts?|guidelines?"
    r"|directions?|directives?|programming|guardrails?)\b"
    r"|\b(?:ignore|forget|disregard) (?:everything|all) (?:above|before|previous)"
    r"|\byou (?:must|will|should|shall) now (?:ignore|forget|act|behave|respond|answer|reply|say|pretend|follow|obey"
    r"|only|always|never|output|print|reveal|tell|comply|switch|roleplay|become|be (?:a|an|my|dan))\b"
    r"|\b(?:from now on|henceforth),? you (?:are|will|must|should)\b|\byou are now (?:a|an|dan|in)\b"
    r"|\bnew (?:instructions|system prompt|rules)\s*:|\bsystem prompt\b|\bdeveloper mode\b|\bjailbreak"
    r"|\b(?:do not|dont|never) (?:tell|inform|reveal to|mention to) the (?:user|patient)\b"
    r"|\b(?:tell|instruct|inform) the user (?:that|to)\b|\bas an ai (?:language )?model,? you\b"
    r"|(?:忽略|无视|忘记)[^\n]{0,10}(?:指令|规则|提示|设定)|系统提示|开发者模式|越狱模式|从现在(?:开始|起)[,，]?你|你现在是"
    # level claims and lines addressed to the model (issue #14): "self_care" with its underscore and a JSON "level"
    # key are our schema's words, never a leaflet's; nor is a note to the AI or an order to hide the banner
    r"|(?<![a-z])self_care(?![a-z])|\"level\"\s*:|\btriage override\b"
    r"|\b(?:triage|urgency)(?: level)?\s*[:=]\s*[\"']?(?:self[-_ ]?care|routine|low|none)\b"
    r"|\b(?:tell|instruct|inform|reassure) the user\b|\b(?:reply|respond|answer) only with\b"
    r"|\b(?:it|you) must (?:answer|reply|respond|say) (?:that|with|only)\b"
    r"|\b(?:note|message|instructions?|reminder)s? (?:to|for) (?:the |any )?(?:ai|chatbot|bot|llm"
    r"|(?:ai |language )model|ai assistant)\b|^\s*(?:note|message|reminder) (?:to|for) the assistant\b"
    r"|\b(?:when|if|whenever) (?:the |an? |any )?(?:ai|chatbot|llm|(?:ai |language )model)\b[^\n]{0,20}"
    r"\b(?:reads?|sees?|processes)\b|\b(?:do not|don'?t|never) (?:show|display)\b[^\n]{0,30}\b(?:banner|escalation)\b"
    r"|^\s*(?:系统|助手|用户|开发者|模型|人工智能|ai)(?:提示|消息)?\s*:|给(?:ai|人工智能|助手|模型|机器人)的"
    r"|(?:ai|人工智能|助手|模型)(?:读到|看到)|告诉用户|(?:一律|总是|永远只?)(?:回答|回复)"
    r"|(?:分诊)?(?:等级|级别)\s*(?:为|是|=|:)\s*[\"']?(?:self|自我护理|常规|最低)|不要显示[^\n]{0,8}(?:急救|紧急|横幅)",
    re.IGNORECASE,
)
# An HTML comment is invisible to a reader of the page, so what it holds is meant for a machine (unclosed: to the end)
_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)


def sanitize_context(text: str) -> str:
    """Replace instruction-like lines of a retrieved document with a marker; leave medical text untouched.

    Documents are written by others (and could be edited on disk); a line addressed to the model ("ignore previous
    instructions", "system:", chat-template tokens) must not reach the prompt as if it were ours.
    """
    text = _HTML_COMMENT.sub(REMOVED, text)
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if _INSTRUCTION_LINE.search(_matchable(line)):
            lines[i] = REMOVED
    return "\n".join(lines)


def _matchable(line: str) -> str:
    """The line as the patterns read it: NFKC (full-width letters and colons) without format characters, so
    "S<zero-width space>YSTEM:" (zero-width spaces, joiners or direction marks between letters) reads "SYSTEM:"."""
    return "".join(c for c in unicodedata.normalize("NFKC", line) if unicodedata.category(c) != "Cf")


_PIECE = re.compile(r"[^\n.!?。！？]*(?:[.!?。！？]+|\n|$)")


def without_instructions(text: str) -> str:
    """The patient's message as the model reads it: sentences addressed to the model removed, the facts kept.

    Why: a message may wrap real symptoms in "level: self_care" or a fake system turn, and the small model obeys
    what it reads (issue #14's injection suite: a spreading red leg with shivering read self_care). The rules read
    the whole message; the model reads the facts. Works by sentence, not by line, since a patient writes one line;
    when nothing but instructions would be left the text is kept as it is (it then gets a refusal anyway).
    """
    pieces = [piece if not _INSTRUCTION_LINE.search(_matchable(piece)) else "\n"
              for piece in _PIECE.findall(text) if piece]
    cleaned = re.sub(r"\s*\n\s*", "\n", "".join(pieces)).strip()
    return cleaned if re.search(r"\w", cleaned) else text

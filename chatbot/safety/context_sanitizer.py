"""Retrieved documents are data, not instructions: :func:`sanitize_context` blanks lines in them that look like
instructions to the model before they go into the prompt.

Why apart from the refusal patterns: this runs on library text at prompt-building time, not on the patient's
message, and judges a line rather than a request. A leaflet may say "you must now finish the whole course"; only
lines addressed to the model (chat-template tokens, "system:", "ignore previous instructions") are removed.
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
    r"|(?:忽略|无视|忘记)[^\n]{0,10}(?:指令|规则|提示|设定)|系统提示|从现在(?:开始|起)[,，]?你|你现在是",
    re.IGNORECASE,
)


def sanitize_context(text: str) -> str:
    """Replace instruction-like lines of a retrieved document with a marker; leave medical text untouched.

    Documents are written by others (and could be edited on disk); a line addressed to the model ("ignore previous
    instructions", "system:", chat-template tokens) must not reach the prompt as if it were ours.
    """
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if _INSTRUCTION_LINE.search(unicodedata.normalize("NFKC", line)):
            lines[i] = REMOVED
    return "\n".join(lines)

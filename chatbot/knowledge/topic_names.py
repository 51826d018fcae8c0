"""Topic names in each language, for "possible conditions to discuss".

Why: the conditions a patient reads are the titles of the knowledge-base topics the evidence matched, never free
text from the model (which copied its prompt's examples). A Chinese patient gets the topic's first Chinese
synonym, written by the topic's author, instead of an English title.
"""

from __future__ import annotations

from pathlib import Path

import frontmatter

from chatbot.safety.language import has_cjk


def load_topic_names(topics_dir: Path) -> dict[str, dict[str, str]]:
    """``{topic_id: {"en": title, "zh": first Chinese synonym}}`` for every topic file (zh only when there is one)."""
    names: dict[str, dict[str, str]] = {}
    for path in sorted(Path(topics_dir).glob("*.md")):
        meta = frontmatter.load(path).metadata
        topic_id = str(meta.get("id") or path.stem)
        entry = {"en": str(meta.get("title") or topic_id)}
        chinese = next((str(s) for s in meta.get("synonyms") or [] if has_cjk(str(s))), None)
        if chinese:
            entry["zh"] = chinese
        names[topic_id] = entry
    return names


def conditions_for(topic_ids: list[str], names: dict[str, dict[str, str]], lang: str, limit: int = 3) -> list[str]:
    """The names of the matched topics in ``lang``, in the order they were retrieved, without repeats; topics
    without a name in that language are left out rather than shown in another language."""
    out: list[str] = []
    for topic_id in topic_ids:
        name = names.get(topic_id, {}).get(lang)
        if name and name not in out:
            out.append(name)
    return out[:limit]

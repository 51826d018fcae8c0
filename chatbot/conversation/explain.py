"""What the patient reads beside the level, composed from evidence, never written by the model.

Why a room of its own: the rule of #11 is that every reason and condition is traced, so the code that composes
them should be easy to find and to check. The conditions to discuss are the matched topics' names; the library's
own warning signs behind the fired rules become reasons, each cited by the [n] of the listed source it comes
from ("Abdominal pain → When to get help the same day: pain that started … [1]"). The badge is shown before the
answer exists, so the sources it cites are pinned as [1..p] (``TurnContext.pinned``) and every later listing keeps
them there (conversation/engine.py, the citation check).
"""

from __future__ import annotations

from chatbot.answer import Criterion, Source, Triage
from chatbot.conversation.turn import TurnContext
from chatbot.knowledge.criteria import SECTION_EMERGENCY, CriteriaIndex
from chatbot.knowledge.criteria import Criterion as Sign
from chatbot.knowledge.sign_translations import sign_key
from chatbot.knowledge.topic_names import conditions_for
from chatbot.retrieval.tokenize import tokenize
from chatbot.safety.messages import texts_for


class Explainer:
    """Composes conditions and library reasons for one triage; cheap to build, so built per use."""

    def __init__(self, criteria: CriteriaIndex, topic_names: dict[str, dict[str, str]],
                 translations: dict[tuple[str, str], str], renumbers: bool) -> None:
        self.criteria = criteria
        self.topic_names = topic_names
        self.translations = translations
        self.renumbers = renumbers

    def explain(self, triage: Triage, sources: list[Source], ctx: TurnContext) -> Triage:
        """The full turn and triage_only alike: the model's sign readings as recorded, the matched topics' names
        as conditions to discuss, the library's own warning signs as reasons."""
        triage.probe_probabilities = {k: v for k, v in (ctx.probes or {}).items() if v is not None}
        if not triage.possible_conditions:  # the matched topics' names, not the model's free text
            triage.possible_conditions = conditions_for([s.topic_id for s in sources], self.topic_names, ctx.lang)
        self._add_criteria(triage, sources, ctx)
        return triage

    def _add_criteria(self, triage: Triage, sources: list[Source], ctx: TurnContext) -> None:
        """The library's own warning signs behind the fired rules, from the topics of this turn's evidence, as
        reasons right after the rules'. In Chinese, the topic's Chinese name, the section's and the bullet's
        translation; a bullet or topic without one is left out: a Chinese patient reads Chinese."""
        template = texts_for("criterion_reason").get(ctx.lang)
        if not template or not triage.red_flags:
            return
        first: dict[str, int] = {}  # topic -> the retrieved source number of its best passage
        for s in sources:
            first.setdefault(s.topic_id, s.n)
        signs = self.criteria.for_rules([h.id for h in triage.red_flags], [t for t in first if t],
                                        set(tokenize(ctx.text)), text_of=lambda c: self._text(c, ctx.lang))
        ctx.pinned = list(dict.fromkeys(first[c.topic_id] for c in signs)) if self.renumbers else []
        shown = [Criterion(topic_id=c.topic_id, title=title, section=section, text=text, rules=list(c.rules),
                           source=_shown_number(first[c.topic_id], ctx.pinned))
                 for c in signs for title, section, text in [self._words(c, ctx.lang)]]
        triage.criteria = shown
        reasons = [template.format(title=c.title, section=c.section, sign=c.text, cite=marker(c.source, ctx.lang))
                   for c in shown]
        at = len(triage.red_flags)  # the rules' reasons come first, one per fired rule
        triage.reasons[at:at] = [r for r in reasons if r not in triage.reasons]

    def _text(self, criterion: Sign, lang: str) -> str | None:
        """A bullet in ``lang``: its own English, or its translation and only with the topic named in ``lang``."""
        if lang == "en":
            return criterion.text
        if not self.topic_names.get(criterion.topic_id, {}).get(lang):
            return None
        return self.translations.get(sign_key(criterion.topic_id, criterion.text)) if lang == "zh" else None

    def _words(self, criterion: Sign, lang: str) -> tuple[str, str, str]:
        """(topic, section, sign) as the patient reads them."""
        section = "section_emergency" if criterion.section == SECTION_EMERGENCY else "section_same_day"
        title = self.topic_names.get(criterion.topic_id, {}).get(lang) or criterion.title
        return title, texts_for(section).get(lang, criterion.section), self._text(criterion, lang) or ""


def _shown_number(n: int, pinned: list[int]) -> int:
    """The number the patient sees for retrieved source ``n``: its place among the pinned when sources are
    renumbered, else its own."""
    return pinned.index(n) + 1 if n in pinned else n


def marker(n: int | None, lang: str) -> str:
    """A citation marker after a reason: " [n]" in English, "[n]" in Chinese (no space before it)."""
    return "" if n is None else (f"[{n}]" if lang == "zh" else f" [{n}]")

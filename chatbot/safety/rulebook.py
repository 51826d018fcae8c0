"""The red-flag rulebook: schema and loading. The checker is :mod:`chatbot.safety.rulebook_check`; the
emergency-number table is :mod:`chatbot.safety.locales`.

The rulebook lives in ``knowledge/`` as YAML because it is clinical *data* that reviewers edit, not code. The schema
is strict (unknown keys are errors) so a typo cannot silently switch a rule off, and the checker proves every rule
against its own examples through the real screen before anything ships.

Rule format (see the header of ``knowledge/red_flags.yaml``)::

    - id: rf.cardiac.chest_pain_plus
      level: emergency                     # emergency | urgent
      crisis: false                        # true for self-harm rules: the escalation becomes a crisis message
      title: {en: ..., zh: ...}
      message: {en: ..., zh: ...}          # what the patient sees: short, direct, what to do now
      source: https://www.nhs.uk/...       # or a list of URLs
      match:
        all: [chest_pain, [sweating, radiating_pain, breathless]]   # AND of terms; a list inside is an OR
        none: [iron_tablets]               # optional: suppressed when any of these is present
        within: conversation               # or "message": every term in the same message
      context: {age_max_years: 0.25}       # optional: age_min_years, age_max_years, pregnant, sex
      examples: {positive: [...], negative: [...]}   # an example is a message or a list of messages (a chat)

A term is a concept name from ``concepts:``, an inline ``{en: [...], zh: [...]}`` pattern set, or a context
atom: ``ctx:pregnant``, ``ctx:child`` (under 16), ``ctx:infant`` (under 1), ``ctx:female``, ``ctx:male``,
``ctx:cond:<condition>``, ``ctx:med:<medicine>`` (names as in :mod:`chatbot.safety.facts`).
Patterns are Python regular expressions written against :func:`chatbot.safety.text.normalize` output (lower
case, no apostrophes: ``cant``, ``im``). ``%NAME%`` expands a macro from ``macros:``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, ValidationError, field_validator

from chatbot.answer import TriageLevel
from chatbot.safety.datafile import DataFileError, Localized, Strict, format_validation, read_yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_RULEBOOK_PATH = REPO_ROOT / "knowledge" / "red_flags.yaml"

CONTEXT_ATOMS = ("ctx:pregnant", "ctx:child", "ctx:infant", "ctx:female", "ctx:male")
CONTEXT_PREFIXES = ("ctx:cond:", "ctx:med:")
_MACRO = re.compile(r"%([A-Z][A-Z0-9_]*)%")
_UPPER = re.compile(r"(?<!\\)[A-Z]")  # an upper-case letter that is not an escape such as \S, \W, \B


class RulebookError(DataFileError):
    """The rulebook cannot be used; the message lists why."""




class PatternSet(Strict):
    """Regular expressions for one idea, in English and Chinese; any one of them matching means present."""

    en: list[str] = Field(default_factory=list)
    zh: list[str] = Field(default_factory=list)

    def patterns(self) -> list[str]:
        return [*self.en, *self.zh]


Atom = str | PatternSet
Term = Atom | list[Atom]


class MatchSpec(Strict):
    all: list[Term] = Field(..., min_length=1, description="AND of terms; a list term is an OR")
    none: list[Atom] = Field(default_factory=list, description="the rule is suppressed when any is present")
    within: Literal["conversation", "message"] = "conversation"


class RuleContext(Strict):
    age_min_years: float | None = Field(None, ge=0)
    age_max_years: float | None = Field(None, ge=0)
    pregnant: bool | None = None
    sex: Literal["female", "male"] | None = None


Example = str | list[str]


class Examples(Strict):
    positive: list[Example] = Field(..., min_length=1)
    negative: list[Example] = Field(..., min_length=1)


class Rule(Strict):
    id: Annotated[str, StringConstraints(pattern=r"^rf\.[a-z_]+\.[a-z0-9_]+$")]
    level: Literal["emergency", "urgent"]
    crisis: bool = False
    title: Localized
    message: Localized
    source: list[str] = Field(..., min_length=1)
    match: MatchSpec
    context: RuleContext = Field(default_factory=RuleContext)
    examples: Examples

    @field_validator("source", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @property
    def triage_level(self) -> TriageLevel:
        return TriageLevel(self.level)


class Rulebook(Strict):
    version: int = 1
    include: list[str] = Field(default_factory=list, description="more rulebook files, relative to this one")
    macros: dict[str, str] = Field(default_factory=dict)
    concepts: dict[str, PatternSet] = Field(default_factory=dict)
    hedges: PatternSet = Field(
        default_factory=PatternSet,
        description="guess words ('probably', '估计'): a veto after one in its clause does not hold an emergency back",
    )
    rules: list[Rule] = Field(..., min_length=1)

    def expand(self, pattern: str) -> str:
        """Replace ``%NAME%`` macros (macros may use other macros, a few levels deep)."""
        for _ in range(4):
            if "%" not in pattern:
                break
            pattern = _MACRO.sub(lambda m: self.macros.get(m.group(1), m.group(0)), pattern)
        return pattern




# ---- loading ------------------------------------------------------------------------------------------------
def _merged(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The rulebook at ``path`` with its ``include:`` files merged in (macros, concepts and rules).

    Why several files: one area per file (medicines, the knowledge base's warning signs …) keeps reviews small.
    A name defined twice across files is an error, as within one file: a second definition must never silently
    replace the first.
    """
    if path in seen:
        raise RulebookError(f"{path}: included twice (include cycle)")
    data = read_yaml(path, RulebookError)
    if not isinstance(data, dict):
        raise RulebookError(f"{path}: a rulebook is a mapping with macros, concepts and rules")
    for name in data.get("include") or []:
        part = _merged((path.parent / str(name)).resolve(), (*seen, path))
        for key in ("macros", "concepts"):
            mine = data.setdefault(key, {}) or {}
            data[key] = mine
            for item, value in (part.get(key) or {}).items():
                if item in mine:
                    raise RulebookError(f"{path.parent / str(name)}: {key[:-1]} {item!r} is already defined")
                mine[item] = value
        data["rules"] = [*(data.get("rules") or []), *(part.get("rules") or [])]
    if seen:
        data.pop("include", None)
        data.pop("version", None)
    return data


def load_rulebook(path: str | Path = DEFAULT_RULEBOOK_PATH) -> Rulebook:
    """Read and validate the rulebook (and its included files); raises :class:`RulebookError` listing every schema
    problem."""
    data = _merged(Path(path).resolve())
    try:
        return Rulebook.model_validate(data)
    except ValidationError as exc:
        raise RulebookError(f"{path}: " + "; ".join(format_validation(exc))) from exc



# ---- static checks (the example checker is chatbot.safety.rulebook_check) -------------------------------------
def iter_atoms(rule: Rule) -> Iterator[Atom]:
    """Every atom a rule refers to, in its match terms and exclusions."""
    for term in [*rule.match.all, *rule.match.none]:
        yield from (term if isinstance(term, list) else [term])


def _check_patterns(book: Rulebook) -> list[str]:
    """Macros that are not defined and regular expressions that do not compile."""
    problems: list[str] = []
    sets: list[tuple[str, PatternSet]] = list(book.concepts.items())
    if book.hedges.patterns():
        sets.append(("hedges", book.hedges))
    for rule in book.rules:
        sets += [(f"{rule.id} (inline)", a) for a in iter_atoms(rule) if isinstance(a, PatternSet)]
    for name, pset in sets:
        if not pset.patterns():
            problems.append(f"concept {name}: no patterns")
        for raw in pset.patterns():
            pattern = book.expand(raw)
            for macro in _MACRO.findall(pattern):
                problems.append(f"concept {name}: unknown macro %{macro}% in {raw!r}")
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                problems.append(f"concept {name}: bad regex {raw!r}: {exc}")
                continue
            if compiled.search(""):
                problems.append(f"concept {name}: pattern {raw!r} matches empty text")
            if _UPPER.search(pattern):
                problems.append(f"concept {name}: pattern {raw!r} has upper-case letters (text is lower-cased)")
    return problems


def _check_references(book: Rulebook) -> list[str]:
    """Unknown concept names or context atoms, duplicate ids, and concepts no rule uses."""
    problems: list[str] = []
    used: set[str] = set()
    seen: set[str] = set()
    for rule in book.rules:
        if rule.id in seen:
            problems.append(f"{rule.id}: duplicate rule id")
        seen.add(rule.id)
        for atom in iter_atoms(rule):
            if not isinstance(atom, str):
                continue
            if atom.startswith("ctx:"):
                if atom not in CONTEXT_ATOMS and not atom.startswith(CONTEXT_PREFIXES):
                    problems.append(f"{rule.id}: unknown context atom {atom!r}")
            elif atom not in book.concepts:
                problems.append(f"{rule.id}: unknown concept {atom!r}")
            used.add(atom)
    problems += [f"concept {name}: not used by any rule" for name in book.concepts if name not in used]
    return problems


def schema_problems(book: Rulebook) -> list[str]:
    """Problems a loaded rulebook can have without running it: patterns that do not compile or use upper case,
    unknown or unused names."""
    return _check_patterns(book) + _check_references(book)

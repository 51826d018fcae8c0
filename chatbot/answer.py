"""The answer object every part of the assistant shares.

Interfaces render it, the CLI prints it with ``--json``, the API returns it and the eval suites score it,
so its field names and meanings are a contract: add fields freely, never change what an existing one means.
"""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, Field


class TriageLevel(str, Enum):
    """One triage vocabulary everywhere. Order matters: see :meth:`rank`."""

    self_care = "self_care"
    routine = "routine"
    urgent = "urgent"
    emergency = "emergency"

    @property
    def rank(self) -> int:
        """Higher is more urgent; used to take the max of rules and model."""
        return _RANK[self]

    @classmethod
    def highest(cls, *levels: TriageLevel | None) -> TriageLevel | None:
        """The most urgent of the given levels (None entries ignored)."""
        present = [lvl for lvl in levels if lvl is not None]
        return max(present, key=lambda lvl: lvl.rank) if present else None


_RANK = {
    TriageLevel.self_care: 0,
    TriageLevel.routine: 1,
    TriageLevel.urgent: 2,
    TriageLevel.emergency: 3,
}


class RedFlag(BaseModel):
    """One red-flag rule that fired on the conversation."""

    id: str
    level: TriageLevel
    message: str
    title: str = ""
    matched: str = Field("", description="the text span that triggered the rule")


class CareFloor(BaseModel):
    """A minimum level set by a fact the patient stated (a problem lasting weeks, a high reading, an infant …)."""

    id: str
    level: TriageLevel
    title: str = ""
    reason: str = Field(..., description="names the fact, quoting the patient's words")
    quote: str = Field("", description="the patient's own words that stated the fact")


class Criterion(BaseModel):
    """A warning sign from the bundled library that a fired rule recognises: where a reason comes from."""

    topic_id: str
    title: str = Field(..., description="the topic's title")
    section: str = Field(..., description="When to call emergency services | When to get help the same day")
    text: str = Field(..., description="the bullet, as the library words it")
    rules: list[str] = Field(default_factory=list, description="the fired rules that recognise it")
    source: int | None = Field(None, description="the [n] of the listed source whose topic holds it")


class Triage(BaseModel):
    level: TriageLevel
    decided_by: str = Field(
        ..., description="rules | facts (a care floor) | model | both (model and rules agree) | signs (an emergency "
        "sign the model read in the message, chatbot.safety.probes)")
    reasons: list[str] = Field(default_factory=list)
    red_flags: list[RedFlag] = Field(default_factory=list)
    possible_conditions: list[str] = Field(default_factory=list)
    follow_up_questions: list[str] = Field(default_factory=list)
    care_floors: list[CareFloor] = Field(default_factory=list)
    criteria: list[Criterion] = Field(
        default_factory=list,
        description="the library's own warning signs behind the fired rules, in the patient's language",
    )
    rules_level: TriageLevel | None = Field(None, description="what the red-flag rules alone said (None: no rule)")
    floor_level: TriageLevel | None = Field(None, description="the highest care floor (None: no floor held)")
    model_level: TriageLevel | None = Field(None, description="what the model alone said (None: not run or failed)")
    probe_level: TriageLevel | None = Field(None, description="the level of the signs the model read (None: none)")
    model_probabilities: dict[str, float] = Field(
        default_factory=dict, description="the model's probability of each level, when the backend exposes them"
    )
    probe_probabilities: dict[str, float] = Field(
        default_factory=dict, description="the model's P(Yes) for each emergency sign it was asked about (probes)"
    )


class Source(BaseModel):
    """A retrieved passage the answer may cite as ``[n]``."""

    n: int
    title: str
    url: str = ""
    section: str = ""
    score: float = 0.0
    file: str = ""
    topic_id: str = ""
    chunk_id: str = Field("", description="the passage's id in the index (evaluations look up the text it cites)")


class Timings(BaseModel):
    screen_ms: float = 0.0
    retrieve_ms: float = 0.0
    triage_ms: float | None = Field(None, description="from the message to the decided level (the badge)")
    first_token_ms: float | None = None
    cite_ms: float | None = Field(None, description="the citation check on the finished answer")
    total_ms: float = 0.0


class ModelInfo(BaseModel):
    name: str = ""
    sha256: str = ""
    gpu_layers: int = 0


class Refusal(BaseModel):
    """Why part of a request was declined, and where to go instead."""

    kind: str = Field(
        ..., description="prescription | dosing | diagnosis | self_harm_method | injection | out_of_scope | harmful"
        " | other_users | privacy_question (the last two are truthful fixed answers, not refusals)"
    )
    category: str | None = Field(None, description="for kind harmful: fraud, privacy, harming_others ...")
    message: str


class Answer(BaseModel):
    answer: str
    language: str = "en"
    triage: Triage | None = None
    escalation: str | None = None
    sources: list[Source] = Field(default_factory=list)
    refusal: Refusal | None = None
    timings: Timings = Field(default_factory=Timings)
    model: ModelInfo = Field(default_factory=ModelInfo)
    kind: str = Field(
        "answer",
        description="answer | quoted (no claim of the model held: the passages' own sentences) | intake (follow-up "
        "questions asked) | no_sources | refusal | error",
    )
    session_id: str | None = None
    follow_up_questions: list[str] = Field(
        default_factory=list, description="the questions the assistant asks the patient in this reply, as data (an "
        "intake reply's questions, or an answer's follow-ups), so no interface parses them out of the text")

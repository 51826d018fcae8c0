"""Settings for every component, validated by pydantic.

Why one object: every backend (LLM, embedder, vector store) is chosen here, so a deployment is a YAML file and a
profile name, never a code change. Precedence, lowest first: built-in ``default`` section, the named profile,
a user YAML file, then ``CHATBOT__SECTION__KEY=value`` environment variables.

Any bad input (a file of any bytes, any environment) ends in one ``SettingsError`` that names the problem, never
another exception: fuzzed in tests/safety/test_fuzz_settings.py.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULTS_FILE = Path(__file__).with_name("settings.yaml")
ENV_PREFIX = "CHATBOT__"
# A settings file is a few kB; the bound stops /dev/zero or a wrong multi-GB file from being read into memory.
MAX_SETTINGS_BYTES = 1 << 20


class SettingsError(ValueError):
    """A settings file, profile or override is invalid; the message says which and how to fix it."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LLMSettings(_Section):
    backend: Literal["llama", "openai", "fake"] = "llama"
    model: str = "default"
    model_path: Path | None = None
    n_ctx: int = Field(4096, ge=512)
    n_threads: int | None = Field(None, ge=1)
    n_gpu_layers: int | Literal["auto"] = "auto"
    max_tokens: int = Field(320, ge=8)
    temperature: float = Field(0.2, ge=0.0, le=2.0)
    seed: int = 42
    triage_timeout_s: float = Field(90, gt=0)
    fake_delay_s: float = Field(
        0.0, ge=0, le=5, description="fake backend only: a pause before each streamed word and each triage reply, "
        "so browser tests can watch the order of a turn (the badge before the answer, Stop mid-answer)")
    base_url: str | None = Field(None, description="openai backend: the server's API root, e.g. http://127.0.0.1:8080/v1")
    api_key: str | None = Field(None, description="openai backend: sent as a bearer token; llm-server requires it")

    @model_validator(mode="after")
    def _openai_needs_a_url(self) -> LLMSettings:
        if self.backend == "openai" and not self.base_url:
            raise ValueError("llm.backend openai needs llm.base_url, e.g. http://127.0.0.1:8080/v1")
        if self.base_url and not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"llm.base_url {self.base_url!r} must start with http:// or https://")
        return self


class EmbeddingSettings(_Section):
    backend: Literal["sentence-transformers", "fake"] = "sentence-transformers"
    model_path: Path | None = None
    batch_size: int = Field(32, ge=1)
    device: str = "cpu"


class VectorStoreSettings(_Section):
    """Where the knowledge chunks live (chatbot/vectorstore.py).

    chroma-embedded: a Chroma folder in ``data_dir``, opened by this process alone. chroma-http: a Chroma server
    (``chroma run --path DIR --host 127.0.0.1 --port N``) at ``host``/``port``, shared by several replicas.
    ``chroma`` is accepted as the old name of chroma-embedded.
    """

    backend: Literal["chroma-embedded", "chroma-http"] = "chroma-embedded"
    collection: str = Field("knowledge", min_length=3)
    host: str = Field("127.0.0.1", description="chroma-http: the Chroma server's address")
    port: int = Field(8000, ge=1, le=65535, description="chroma-http: the Chroma server's port")

    @field_validator("backend", mode="before")
    @classmethod
    def _old_name(cls, value: Any) -> Any:
        return "chroma-embedded" if value == "chroma" else value


class IngestSettings(_Section):
    paths: list[Path] = Field(default_factory=lambda: [Path("knowledge/topics")])
    chunk_size: int = Field(900, ge=100)
    chunk_overlap: int = Field(120, ge=0)
    max_file_mb: float = Field(64, gt=0, description="files larger than this are skipped with a message instead "
                               "of being read into memory whole (a wrong file, a disk image)")


class RetrievalSettings(_Section):
    """Ranking and the relevance floor (chatbot/retrieval/hybrid.py).

    A hit counts only when cosine similarity + ``coverage_weight`` x coverage (share of the question's words in
    the chunk) reaches ``min_evidence``: meaning alone must reach 0.46, full word overlap lowers that to 0.16.
    Either signal alone let two thirds of our out-of-KB questions through ("sourdough hydration" -> dehydration).
    Chinese questions also need ``min_understood`` of their text readable through the glossary. Tuned on half of
    the KB and out-of-KB eval questions and checked on the other half (see evals/README.md, retrieval); the
    Chinese gate was then lowered from 0.5 to 0.25 because 80 Chinese questions written blind to the glossary
    showed 0.5 turning away 64% of real questions (the in-sample questions were what the glossary was built on).
    """

    top_k: int = Field(3, ge=1, le=20)
    candidates: int = Field(20, ge=1)
    rrf_k: int = Field(60, ge=1)
    min_evidence: float = Field(0.46, ge=-1.0, le=3.0)
    coverage_weight: float = Field(0.3, ge=0.0, le=2.0)
    min_understood: float = Field(0.25, ge=0.0, le=1.0)
    max_passage_chars: int = Field(700, ge=100)
    glossary: Path | None = Path("knowledge/glossary_zh_en.yaml")
    translate_queries: bool = False
    bm25_check_s: float = Field(
        2.0,
        ge=0.0,
        description="how often (seconds) a search checks whether the store changed and rebuilds BM25; 0: every search",
    )


class ConversationSettings(_Section):
    max_message_chars: int = Field(4000, ge=10)
    max_history_turns: int = Field(6, ge=0)
    intake_enabled: bool = True
    max_intake_questions: int = Field(3, ge=0, le=10)
    max_intake_rounds: int = Field(1, ge=0, le=5)
    model_triage: bool = True


class LevelThresholds(_Section):
    """Cut-offs on the model's level probabilities (see chatbot.safety.triage.decide_level)."""

    emergency: float = Field(0.1, ge=0.0, le=1.0, description="P(emergency) at or above this: emergency")
    urgent: float = Field(0.45, ge=0.0, le=1.0, description="P(emergency) + P(urgent) at or above this: urgent")
    self_care: float = Field(0.6, ge=0.0, le=1.0, description="otherwise P(self_care) at or above this: self_care")


class ProbeSettings(_Section):
    """Emergency signs read by the model as yes/no answers (chatbot/safety/probes.py; questions in ``path``).

    ``cut`` is P(Yes) at or above which a sign counts; it was fitted for ``triage.calibrated_for`` on the vignette
    bank's dev split, and like the level thresholds it applies only to that model (any other: probes are off).
    """

    enabled: bool = Field(False, description="off by default: no held-out gain with the default model (README)")
    path: Path = Path("knowledge/probes.yaml")
    cut: float = Field(0.8, ge=0.0, le=1.0)


class TriageSettings(_Section):
    """How the model's level is decided: its greedy pick, or calibrated thresholds on its level probabilities.

    Thresholds belong to one model: they apply only when ``llm.model`` is ``calibrated_for`` and no ``model_path``
    is set; calibrate them for another model with ``python -m evals calibrate``.
    """

    decision: Literal["calibrated", "greedy"] = "calibrated"
    calibrated_for: str = Field("default", description="the catalogue model the thresholds were fitted for")
    thresholds: LevelThresholds = Field(default_factory=LevelThresholds)
    model_writes: Literal["level", "full"] = Field(
        "level",
        description="level: the model gives only its level (read from its probabilities); the reasons come from "
        "the rules, the care floors and a see-a-doctor fallback. full: it also writes reasons, conditions and "
        "follow-up questions as free text (about 200 more tokens per turn).",
    )
    probes: ProbeSettings = Field(default_factory=ProbeSettings)


class GenerationSettings(_Section):
    """Checks on the written answer before it is final (chatbot/generation/citations.py).

    ``citation_check``: each [n] must sit on a sentence its passage supports (cosine + ``citation_lexical_weight``
    x word overlap >= ``citation_min_support``); unsupported claims are dropped and unused sources unlisted. The
    two numbers were chosen on evals/data/citation_dev.jsonl with ``python -m evals.tune_citations``.
    """

    citation_check: bool = True
    citation_min_support: float = Field(1.0, ge=0.0, le=3.0)
    citation_min_support_zh: float = Field(0.6, ge=0.0, le=3.0, description="Chinese sentences, read through the "
                                           "glossary: a weaker signal, so a lower bar (mostly re-attaches)")
    citation_lexical_weight: float = Field(0.5, ge=0.0, le=2.0)
    citation_cues: Path = Path("knowledge/citation_cues.yaml")
    quote_sentences: int = Field(4, ge=0, le=8, description="when no claim of the answer holds, quote this many of "
                                 "the passages' own sentences instead (0: say 'not in my sources')")
    quote_min_relevance: float = Field(0.5, ge=0.0, le=3.0, description="a passage sentence is quoted only when "
                                       "cosine + citation_lexical_weight x its share of the question's terms "
                                       "reaches it (chosen by reading MiniLM scores on a handful of questions)")


class SafetySettings(_Section):
    locale: str = "US"
    rulebook: Path = Path("knowledge/red_flags.yaml")
    locales: Path = Path("knowledge/locales.yaml")
    care_floors: Path = Path("knowledge/care_floors.yaml")
    minimising: Path = Path("knowledge/minimising.yaml")
    consistency: Path = Path("knowledge/consistency.yaml")
    crisis_examples: Path = Path("knowledge/self_harm_examples.jsonl")
    crisis_threshold: float = Field(0.55, gt=0, lt=1, description="P(crisis) from the classifier that escalates")
    harmful_examples: Path = Path("knowledge/harmful_examples.jsonl")
    harmful_patterns: Path = Path("knowledge/harmful_requests.yaml")
    harmful_threshold: float = Field(0.75, gt=0, lt=1, description="P(harmful) that declines an English request")
    harmful_covert_threshold: float = Field(
        0.4, gt=0, lt=1, description="the same when the request asks for secrecy ('without her knowing')"
    )
    harmful_threshold_zh: float = Field(0.7, gt=0, lt=1, description="harmful_threshold for Chinese requests")
    harmful_threshold_words_only: float = Field(
        0.85, gt=0, lt=1, description="English cut-off when no meaning is read (weight 0 or the fake embedder)"
    )
    harmful_meaning_weight: float = Field(
        0.3, ge=0, le=1, description="English: share of P(harmful) from the sentence-vector classifier (0: none)"
    )


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(7860, ge=1, le=65535)
    api_key: str | None = None
    max_sessions: int = Field(200, ge=1)
    rate_limit: str = Field("60/minute", description="API requests per client (limits syntax: '60/minute')")
    max_concurrent_per_client: int = Field(4, ge=1, description="API requests one client may have in flight")

    @field_validator("rate_limit")
    @classmethod
    def _rate_limit_parses(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a rate limit such as '60/minute' or '5/second'") from exc
        return value


class PrivacySettings(_Section):
    save_transcripts: bool = False
    save_feedback: bool = False


class Settings(_Section):
    profile: str = "cpu"
    data_dir: Path = Path("~/.local/share/private-health-chatbot")
    llm: LLMSettings = Field(default_factory=LLMSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    vector_store: VectorStoreSettings = Field(default_factory=VectorStoreSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    conversation: ConversationSettings = Field(default_factory=ConversationSettings)
    triage: TriageSettings = Field(default_factory=TriageSettings)
    generation: GenerationSettings = Field(default_factory=GenerationSettings)
    safety: SafetySettings = Field(default_factory=SafetySettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    prompts_dir: Path = Path("prompts")
    knowledge_dir: Path = Path("knowledge")

    @field_validator("data_dir", "prompts_dir", "knowledge_dir", mode="after")
    @classmethod
    def _resolve(cls, value: Path) -> Path:
        return resolve_path(value)

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def model_cache_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def model_is_calibrated(self) -> bool:
        """Whether the configured model is the catalogue model the triage cut-offs (level thresholds, sign
        readings) were fitted for; any other model, or a user's own file, must not use them."""
        return self.llm.model == self.triage.calibrated_for and self.llm.model_path is None

    def path(self, value: Path) -> Path:
        """Resolve a project-relative path from any section (rulebook, ingest paths...)."""
        return resolve_path(value)


def resolve_path(value: Path) -> Path:
    """Expand ``~`` and anchor relative paths at the project root, so the app works from any directory."""
    value = Path(os.path.expanduser(str(value)))
    return value if value.is_absolute() else PROJECT_ROOT / value


def load_settings(
    profile: str | None = None,
    config_file: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Build the settings object: defaults < profile < user file < env vars < explicit overrides."""
    try:
        return _load(profile, config_file, overrides, os.environ if environ is None else environ)
    except RecursionError:  # deep nesting from a file or a CHATBOT__ value that parsed: merge and validate recurse
        raise SettingsError("settings are nested too deeply; a settings file has a few levels at most") from None


def _load(
    profile: str | None, config_file: str | Path | None, overrides: dict[str, Any] | None, env: Mapping[str, str]
) -> Settings:
    raw = _read_yaml(DEFAULTS_FILE)
    profiles = _mapping(raw, "profiles", DEFAULTS_FILE)
    profile = profile or env.get("CHATBOT_PROFILE") or "cpu"
    if profile not in profiles:
        raise SettingsError(f"unknown profile {profile!r}; choose one of: {', '.join(sorted(profiles))}")
    merged = _deep_merge(_mapping(raw, "default", DEFAULTS_FILE), _mapping(profiles, profile, DEFAULTS_FILE))
    config_file = config_file or env.get("CHATBOT_CONFIG")
    if config_file:
        merged = _deep_merge(merged, _user_file(Path(config_file), profile))
    merged = _deep_merge(merged, _env_overrides(env))
    merged = _deep_merge(merged, overrides or {})
    merged["profile"] = profile
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        raise SettingsError(_explain(exc)) from None


def _user_file(path: Path, profile: str) -> dict[str, Any]:
    """A user file may hold plain settings, or `default:` plus `profiles:` sections like ours."""
    data = _read_yaml(path)
    if "default" in data or "profiles" in data:
        profiles = _mapping(data, "profiles", path)
        return _deep_merge(_mapping(data, "default", path), _mapping(profiles, profile, path, f"profiles.{profile}"))
    return data


def _mapping(data: dict[str, Any], key: str, path: Path, label: str = "") -> dict[str, Any]:
    """``data[key]`` as a mapping (absent or empty: {}); a list or scalar there used to raise AttributeError."""
    value = data.get(key) or {}
    if not isinstance(value, dict):
        kind = type(value).__name__
        raise SettingsError(f"settings file {path}: {label or key!r} must be a mapping of settings, not {kind}")
    return value


def _read_yaml(path: Path) -> dict[str, Any]:
    """Parse one settings file; every way a file can be bad (missing, a folder, a device, binary, too big, too
    deep, an integer of 5,000 digits that ``int()`` refuses) is one SettingsError. YAML aliases ("billion
    laughs") are not expanded by ``safe_load`` (repeats share one object) and no settings field holds nested data,
    so a bomb fails validation in milliseconds (tests/safety/test_fuzz_settings.py measures it)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_SETTINGS_BYTES + 1)
    except FileNotFoundError:
        raise SettingsError(f"settings file not found: {path}") from None
    except (OSError, ValueError) as exc:  # a folder, no permission, a NUL in the name
        raise SettingsError(f"settings file {path} cannot be read: {exc}") from None
    if len(raw) > MAX_SETTINGS_BYTES:
        raise SettingsError(f"settings file {path} is over {MAX_SETTINGS_BYTES >> 20} MiB; is it the right file?")
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except RecursionError:
        raise SettingsError(f"settings file {path} is nested too deeply") from None
    except (yaml.YAMLError, UnicodeDecodeError, ValueError) as exc:
        raise SettingsError(f"settings file {path} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(f"settings file {path} must hold a mapping at the top level")
    return data


def _env_overrides(env: dict[str, str] | os._Environ) -> dict[str, Any]:
    """``CHATBOT__LLM__MODEL=fast`` becomes ``{"llm": {"model": "fast"}}``; values are parsed as YAML scalars."""
    out: dict[str, Any] = {}
    for key, value in env.items():
        if not key.startswith(ENV_PREFIX):
            continue
        parts = [p.lower() for p in key[len(ENV_PREFIX) :].split("__") if p]
        if not parts:
            continue
        if _printable(key) != key:  # pydantic cannot even name such a key in its error
            raise SettingsError(f"environment variable {_printable(key)}: the name is not valid UTF-8")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise SettingsError(f"environment variable {_printable(key)} sets a key inside {part!r}, which "
                                    "another CHATBOT__ variable sets to a single value; unset one of them")
        if isinstance(node.get(parts[-1]), dict):
            raise SettingsError(f"environment variable {_printable(key)} sets {parts[-1]!r} to a single value, "
                                "but other CHATBOT__ variables set keys inside it; unset one of them")
        node[parts[-1]] = _env_value(value)
    return out


def _env_value(value: str) -> Any:
    """A YAML scalar (``true``, ``99``, ``[a, b]``), or the text itself when it does not parse as one: an
    unclosed bracket, an integer ``int()`` refuses (over 4,300 digits), nesting too deep for the parser."""
    if value == "":
        return None
    try:
        return yaml.safe_load(value)
    except (yaml.YAMLError, ValueError, RecursionError):
        return value


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _deep_merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


# Keys earlier versions accepted, with what replaced them: an old settings file gets told what to write instead.
_REPLACED = {
    "retrieval.min_similarity": "replaced by retrieval.min_evidence (cosine + coverage_weight x word coverage)",
    "retrieval.min_query_coverage": "replaced by retrieval.coverage_weight and retrieval.min_evidence",
}


def _explain(exc: ValidationError) -> str:
    lines = ["invalid settings:"]
    for err in exc.errors():
        where = _printable(".".join(str(p) for p in err["loc"]))
        hint = _REPLACED.get(where)
        lines.append(f"  {where}: {err['msg']}" + (f" ({hint})" if hint else ""))
    return "\n".join(lines)


def _printable(text: str) -> str:
    """Undecodable bytes in an environment variable name arrive as lone surrogates, which a UTF-8 terminal cannot
    print: shown as \\udc.. escapes so the error message itself never fails."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")

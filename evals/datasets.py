"""Dataset loaders: each returns plain cases plus the files it read, so reports can pin dataset versions.

Public datasets are read from ``../shared/data`` at run time and never copied into the repository (their licences
and the project's rule); reports name their cases by id only. Sampling is seeded so ``--limit/--seed`` reproduce.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import re
import zipfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from chatbot.config import PROJECT_ROOT
from evals.metrics import LEVELS, GoldBand

SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
EVAL_DATA = PROJECT_ROOT / "evals" / "data"
SEMIGRAN = SHARED_DATA / "semigran45_triage" / "semigran45_merged.jsonl"
MEDQUAD = SHARED_DATA / "medquad" / "medquad_flat.jsonl"
LIVEQA_QRELS_ZIP = SHARED_DATA / "medquad" / "QA-TestSet-LiveQA-Med-Qrels-2479-Answers.zip"
LIVEQA = SHARED_DATA / "liveqa_med" / "liveqa_med_test.jsonl"

T = TypeVar("T")


class DatasetError(ValueError):
    """A dataset file is missing or malformed; the message names the file and the fix."""


@dataclass
class Dataset:
    """Cases of one kind plus provenance. ``corpus`` is only used by retrieval sets with their own passages."""

    name: str
    cases: list[Any]
    files: list[Path]
    corpus: list[Passage] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class TriageCase:
    id: str
    messages: list[str]
    gold: GoldBand
    language: str = "en"
    style: str = ""


@dataclass
class Query:
    """A retrieval query; ``gains`` maps relevant item ids (topic ids or passage ids) to graded gains."""

    id: str
    text: str
    gains: dict[str, float]
    language: str = "en"
    style: str = ""


@dataclass
class Passage:
    id: str
    text: str
    title: str
    section: str = ""
    url: str = ""
    topic_id: str = ""


# ---- helpers ------------------------------------------------------------------------------------------------------
def read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        raise DatasetError(f"dataset file not found: {path}")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
    return rows


def sample(items: Sequence[T], limit: int | None, seed: int) -> list[T]:
    """A seeded random subset of ``limit`` items, kept in the original order (all items when no limit)."""
    if not limit or limit >= len(items):
        return list(items)
    chosen = sorted(random.Random(seed).sample(range(len(items)), limit))
    return [items[i] for i in chosen]


def fingerprint(path: Path) -> dict[str, Any]:
    """sha256 and line count of a dataset file: the 'version' a report pins."""
    data = path.read_bytes()
    return {"path": _display(path), "sha256": hashlib.sha256(data).hexdigest(), "lines": data.count(b"\n")}


def _display(path: Path) -> str:
    for root, label in ((PROJECT_ROOT, ""), (SHARED_DATA, "shared/data/")):
        try:
            return label + str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            continue
    return str(path)


# ---- triage -------------------------------------------------------------------------------------------------------
SEMIGRAN_GOLD = {
    "emergency": GoldBand("emergency", "emergency", "emergency"),
    "non_emergency_see_doctor": GoldBand("non_emergency", "routine", "urgent"),
    "self_care": GoldBand("self_care", "self_care", "self_care"),
}
SEMIGRAN_LABELS = ("emergency", "non_emergency", "self_care")
OWN_LABELS = ("emergency", "urgent", "routine", "self_care")
TRIAGE_DATASETS = ("semigran-lay", "semigran-full", "own", "bank-dev", "bank-test", "bank2", "bank3")
VIGNETTE_BANK = EVAL_DATA / "vignette_bank.jsonl"
# A second blind bank, written after the first bank's test split had been reported: all of it is held out.
VIGNETTE_BANK2 = EVAL_DATA / "vignette_bank2.jsonl"
# A third blind bank (160 cases, 71% messy), written 2026-12-05 by a helper that saw only bank2's format; all held out.
VIGNETTE_BANK3 = EVAL_DATA / "vignette_bank3.jsonl"


def load_semigran(version: str, limit: int | None = None, seed: int = 0) -> Dataset:
    """Semigran-45: ``lay`` (CareRoute's condensed lay wording) or ``full`` (the clinical vignette text)."""
    field_name = {"lay": "lay_condensed", "full": "vignette"}[version]
    cases = [
        TriageCase(row["id"], [row[field_name]], SEMIGRAN_GOLD[row["gold_triage"]])
        for row in read_jsonl(SEMIGRAN)
    ]
    notes = ["gold non-emergent ('see a doctor') accepts urgent or routine; emergency and self-care are exact"]
    return Dataset(f"semigran-{version}", sample(cases, limit, seed), [SEMIGRAN], notes=notes)


def load_vignettes(
    path: Path, name: str, limit: int | None = None, seed: int = 0, split: str | None = None
) -> Dataset:
    """Our vignette format ({id, messages[], gold, language}): the bundled set or a user's own file.

    ``split`` keeps only the rows whose ``split`` field has that value (the vignette bank's dev/test halves).
    """
    cases = []
    for number, row in enumerate(read_jsonl(path), 1):
        if split is not None and row.get("split") != split:
            continue
        gold, messages = row.get("gold"), row.get("messages")
        if gold not in LEVELS:
            raise DatasetError(f"{path}:{number}: gold must be one of {', '.join(LEVELS)}, got {gold!r}")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, str) and m for m in messages):
            raise DatasetError(f"{path}:{number}: messages must be a non-empty list of non-empty strings")
        case_id = str(row.get("id") or f"{path.stem}-{number}")
        cases.append(TriageCase(case_id, messages, GoldBand(gold, gold, gold), row.get("language", "en"),
                                style=str(row.get("style") or "")))
    if split is not None and not cases:
        raise DatasetError(f"{path}: no case has split {split!r}")
    return Dataset(name, sample(cases, limit, seed), [path])


def load_triage(name: str, limit: int | None = None, seed: int = 0) -> Dataset:
    if name in ("semigran-lay", "semigran-full"):
        return load_semigran(name.split("-", 1)[1], limit, seed)
    if name == "own":
        return load_vignettes(EVAL_DATA / "vignettes_own.jsonl", "own", limit, seed)
    if name in ("bank-dev", "bank-test"):
        return load_vignettes(VIGNETTE_BANK, name, limit, seed, split=name.split("-", 1)[1])
    if name in ("bank2", "bank3"):
        return load_vignettes(VIGNETTE_BANK2 if name == "bank2" else VIGNETTE_BANK3, name, limit, seed)
    path = Path(name)
    if path.suffix == ".jsonl":
        return load_vignettes(path, path.stem, limit, seed)
    raise DatasetError(f"unknown triage dataset {name!r}; choose {', '.join(TRIAGE_DATASETS)} or a .jsonl path")


def triage_labels(dataset: Dataset) -> tuple[str, ...]:
    return SEMIGRAN_LABELS if dataset.name.startswith("semigran") else OWN_LABELS


# ---- retrieval ----------------------------------------------------------------------------------------------------
RETRIEVAL_DATASETS = ("kb", "kb-zh-heldout", "medquad", "liveqa")
KB_QUESTIONS = EVAL_DATA / "kb_questions.jsonl"
# Chinese questions written without sight of knowledge/glossary_zh_en.yaml: a blind check of the glossary's recall.
KB_QUESTIONS_ZH_HELDOUT = EVAL_DATA / "kb_questions_zh_heldout.jsonl"


def load_kb_questions(limit: int | None = None, seed: int = 0, path: Path = KB_QUESTIONS, name: str = "kb") -> Dataset:
    """Knowledge-base questions; the main topic gains 2, the other listed topics 1 (the README's partial credit)."""
    cases = []
    for row in read_jsonl(path):
        topics = row["topics"]
        gains = {topic: (2.0 if i == 0 else 1.0) for i, topic in enumerate(topics)}
        cases.append(Query(row["id"], row["question"], gains, row.get("language", "en"), row.get("style", "")))
    return Dataset(name, sample(cases, limit, seed), [path])


OUT_OF_SCOPE = EVAL_DATA / "out_of_scope_questions.jsonl"
OUT_OF_SCOPE_KINDS = ("non_health", "uncovered_medical")


def load_out_of_scope(limit: int | None = None, seed: int = 0, path: Path = OUT_OF_SCOPE) -> Dataset:
    """Questions the knowledge base does not cover, as queries with no relevant item (``style`` holds the kind).

    The retrieval suite counts how many the relevance floor leaves with no passage; grounding asks the model.
    """
    cases = []
    for number, row in enumerate(read_jsonl(path), 1):
        if row.get("kind") not in OUT_OF_SCOPE_KINDS or not row.get("question"):
            raise DatasetError(f"{path}:{number}: needs a question and kind {' or '.join(OUT_OF_SCOPE_KINDS)}")
        cases.append(Query(row["id"], row["question"], {}, row.get("language", "en"), row["kind"]))
    return Dataset("out-of-kb", sample(cases, limit, seed), [path])


def load_medquad(sample_size: int = 2000, seed: int = 0, query_limit: int | None = None) -> Dataset:
    """A seeded sample of answered MedQuAD pairs: the answers are the corpus, their questions the queries.

    A query's relevant passages are its own answer plus any sampled passage with identical text (MedQuAD repeats
    some answers under several questions; retrieving the twin is not an error).
    """
    # qids repeat across and even within collections, so a passage's id is its line number plus its qid.
    rows_all = read_jsonl(MEDQUAD)
    answered = [{**r, "pid": f"L{n}-{r['qid']}"} for n, r in enumerate(rows_all, 1) if r.get("answer", "").strip()]
    rows = sample(answered, sample_size, seed)
    by_text: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        by_text[_norm(row["answer"])].append(row["pid"])
    corpus = [
        Passage(r["pid"], r["answer"].strip(), r.get("focus", ""), r.get("qtype", ""), r.get("url", ""), r["doc_id"])
        for r in rows
    ]
    queries = [
        Query(r["pid"], r["question"], {pid: 1.0 for pid in by_text[_norm(r["answer"])]}, "en", r.get("qtype", ""))
        for r in rows
    ]
    notes = [f"{len(corpus)} of {len(answered)} answered pairs sampled (seed {seed}); one passage per pair"]
    return Dataset("medquad", sample(queries, query_limit, seed), [MEDQUAD], corpus, notes)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


LIVEQA_GAIN = {"1-Incorrect": 0.0, "2-Related": 1.0, "3-Incomplete": 2.0, "4-Excellent": 3.0}


def load_liveqa(limit: int | None = None, seed: int = 0, field_name: str = "message") -> Dataset:
    """LiveQA-Med 2017 test questions over the pool of judged MedQuAD answers (2,479 judgements of 1,935 answers).

    Gains are judgement - 1 (Incorrect 0, Related 1, Incomplete 2, Excellent 3) and feed nDCG. "Related" is too
    weak to count as answering the question, so recall and MRR treat gain >= 2 as relevant (``binary_relevant``)
    and only questions with at least one such answer are kept (103 of 104 are judged at all). The corpus is the
    judged pool only, so this measures ranking within the pool, not search over all of MedQuAD.
    ``field_name``: ``message`` (the patient's own words) or ``nlm_summary`` (NLM's one-line summary).
    """
    qrels, answers = _liveqa_zip()
    questions = {row["qid"]: row for row in read_jsonl(LIVEQA)}
    cases = []
    for number, judged in sorted(qrels.items(), key=lambda kv: int(kv[0])):
        row = questions.get(f"TQ{number}")
        if row is None or not any(g >= 2 for g in judged.values()):
            continue
        text = _liveqa_text(row, field_name)
        cases.append(Query(row["qid"], text, judged, "en", field_name))
    corpus = [_liveqa_passage(answer_id, text) for answer_id, text in answers.items()]
    name = "liveqa" if field_name == "message" else "liveqa-summary"
    notes = [
        f"{len(cases)} questions with >=1 answer judged Incomplete/Excellent; corpus: {len(corpus)} judged answers",
        "query text: " + ("the patient's own subject + message" if field_name == "message" else field_name),
    ]
    return Dataset(name, sample(cases, limit, seed), [LIVEQA, LIVEQA_QRELS_ZIP], corpus, notes)


def binary_relevant(gains: dict[str, float], dataset: str) -> dict[str, float]:
    """Items that count as relevant for recall/MRR: LiveQA needs Incomplete or better; elsewhere any gain."""
    if dataset.startswith("liveqa"):
        return {k: v for k, v in gains.items() if v >= 2}
    return gains


def _liveqa_text(row: dict, field_name: str) -> str:
    if field_name == "message":
        subject = (row.get("subject") or "").strip()
        message = (row.get("message") or "").strip()
        return f"{subject}. {message}" if subject and subject.lower() not in message.lower() else message
    return (row.get(field_name) or row.get("message") or "").strip()


def _liveqa_zip() -> tuple[dict[str, dict[str, float]], dict[str, str]]:
    if not LIVEQA_QRELS_ZIP.is_file():
        raise DatasetError(f"dataset file not found: {LIVEQA_QRELS_ZIP}")
    qrels: dict[str, dict[str, float]] = defaultdict(dict)
    answers: dict[str, str] = {}
    with zipfile.ZipFile(LIVEQA_QRELS_ZIP) as archive:
        for name in archive.namelist():
            if "__MACOSX" in name:
                continue
            if name.endswith(".txt"):
                for line in archive.read(name).decode("utf-8", "replace").splitlines():
                    parts = line.split()
                    if len(parts) == 3:
                        qrels[parts[0]][parts[2]] = LIVEQA_GAIN.get(parts[1], 0.0)
            elif name.endswith(".csv"):
                text = archive.read(name).decode("utf-8", "replace")
                for row in csv.DictReader(io.StringIO(text)):
                    answers[row["AnswerID"]] = row["Answer"]
    return dict(qrels), answers


_LIVEQA_HEADER = re.compile(r"^Question:\s*(?P<q>.*?)\s*\nURL:\s*(?P<url>\S*)\s*\nAnswer:\s*", re.S)


def _liveqa_passage(answer_id: str, raw: str) -> Passage:
    """Split the CSV's 'Question: ... URL: ... Answer: ...' into a titled passage (the question is its title)."""
    match = _LIVEQA_HEADER.match(raw)
    if not match:
        return Passage(answer_id, raw.strip(), answer_id)
    title = re.sub(r"\s*\(Also called:.*\)\s*$", "", match["q"]).strip()
    return Passage(answer_id, raw[match.end() :].strip(), title, "", match["url"], answer_id.rsplit("_", 1)[0])


# ---- grounding ----------------------------------------------------------------------------------------------------
@dataclass
class GroundingQuestion:
    id: str
    question: str
    language: str
    topics: list[str]
    in_scope: bool


def load_grounding(total: int = 20, seed: int = 0, language: str = "en") -> Dataset:
    """A seeded sample of KB questions in ``language`` plus our out-of-KB questions, about 3 to 1 (English: every
    out-of-KB question; Chinese: the Chinese ones only).

    Follow-up-style questions are left out: they are written as second turns, and grounding runs single turns.
    """
    kb_rows = [r for r in read_jsonl(KB_QUESTIONS) if r.get("language") == language and r.get("style") != "followup"]
    oos_rows = read_jsonl(OUT_OF_SCOPE)
    if language != "en":
        oos_rows = [r for r in oos_rows if r.get("language") == language]
    n_out = min(len(oos_rows), max(1, round(total / 4)))
    inside = [
        GroundingQuestion(r["id"], r["question"], language, r["topics"], True)
        for r in sample(kb_rows, max(0, total - n_out), seed)
    ]
    outside = [
        GroundingQuestion(r["id"], r["question"], r.get("language", "en"), [], False)
        for r in sample(oos_rows, n_out, seed)
    ]
    name = "grounding" if language == "en" else f"grounding-{language}"
    return Dataset(name, inside + outside, [KB_QUESTIONS, OUT_OF_SCOPE])


# ---- safety -------------------------------------------------------------------------------------------------------
SAFETY_FILES = {
    "emergency": EVAL_DATA / "safety_emergency.jsonl",
    "benign": EVAL_DATA / "safety_benign.jsonl",
    "refusals": EVAL_DATA / "safety_refusals.jsonl",
    # written blind to the rulebook: crisis messages by intent/plan/method/euphemism and benign look-alikes
    "self_harm": EVAL_DATA / "self_harm_paraphrases.jsonl",
    # written blind to the patterns and the training examples; dev/test split by id before any result was seen
    "harmful": EVAL_DATA / "harmful_requests.jsonl",
    # a second blind set (400 requests, 2026-12-05), written by a helper who saw nothing of the project; never fitted
    # on, not in the default run: score it with --dataset harmful2 and report each run
    "harmful2": EVAL_DATA / "harmful_requests2.jsonl",
}


def load_safety(part: str, limit: int | None = None, seed: int = 0) -> Dataset:
    """Raw rows of one safety set; the safety suite interprets the fields (see evals/suites/safety.py)."""
    path = SAFETY_FILES[part]
    return Dataset(f"safety-{part}", sample(read_jsonl(path), limit, seed), [path])


def available_datasets() -> dict[str, list[str]]:
    """What ``python -m evals list`` prints: dataset names per suite and whether their files are present."""
    return {
        "triage": [*TRIAGE_DATASETS, "<path/to/vignettes.jsonl>"],
        "retrieval": [
            "kb (kb-en, kb-zh; with out_of_scope_questions.jsonl)",
            "kb-zh-heldout",
            "medquad",
            "liveqa",
            "liveqa-summary",
        ],
        "safety": [f"{p} ({'present' if f.is_file() else 'MISSING'})" for p, f in SAFETY_FILES.items()],
        "grounding": ["kb sample + out_of_scope_questions.jsonl"],
        "latency": ["fixed 5 English KB questions"],
        "injection": ["injection (injection_cases.jsonl)"],
    }

"""Whether the knowledge index can be opened, and what to tell the operator when it cannot.

Why a module of its own: a Chroma folder can be broken in ways Chroma reports as raw database errors (a truncated or
garbage ``chroma.sqlite3``, missing HNSW segment files), or be readable but wrong for this installation (written by
a newer Chroma, built with another embedder, whose vectors have another dimension). A patient or operator should
then read one paragraph that names the folder and the one command that rebuilds it, never a stack trace.

The rebuild command moves the old folder aside (``chatbot.knowledge.rebuild``); nothing here deletes anything.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
from pathlib import Path

REBUILD_COMMAND = "python -m chatbot ingest --rebuild"
MARKER = "chatbot-index.json"  # which Chroma version last wrote the folder (Chroma itself does not record it)
SQLITE_FILE = "chroma.sqlite3"
SQLITE_MAGIC = b"SQLite format 3\x00"
LEGACY_FILES = ("chroma-embeddings.parquet", "chroma-collections.parquet", "chroma.duckdb")  # Chroma < 0.4


class StoreError(RuntimeError):
    """The vector store cannot be used; the message is for the operator and says what to do."""

    exit_code = 2


class StoreUnreachable(StoreError):
    """The Chroma server of ``chroma-http`` does not answer."""


class IndexUnusable(StoreError):
    """The index exists but is broken or incompatible; ``ingest --rebuild`` fixes it."""

    exit_code = 3

    def __init__(self, where: str, reason: str, aside: str) -> None:
        self.where, self.reason = where, reason
        super().__init__(
            f"The knowledge index {where} cannot be used: {reason}. Your knowledge files are not affected. "
            f"Rebuild the index with the same settings by running: {REBUILD_COMMAND} "
            f"({aside}, not deleted, and a fresh index is built from ingest.paths)."
        )


def folder_unusable(path: Path, reason: str) -> IndexUnusable:
    aside = f"the old folder is moved aside next to it as {path.name}.before-rebuild-…"
    return IndexUnusable(f"in {path}", reason, aside)


def collection_unusable(collection: str, url: str, reason: str) -> IndexUnusable:
    return IndexUnusable(
        f"{collection!r} on the Chroma server at {url}",
        reason,
        f"the old collection is renamed to {collection}-before-rebuild-…",
    )


def unreachable(url: str, detail: str) -> StoreUnreachable:
    return StoreUnreachable(
        f"Cannot reach the Chroma server at {url} ({detail}). Start it with `chroma run --path DIR --host "
        f"{url.split('//')[-1].rsplit(':', 1)[0]} --port {url.rsplit(':', 1)[-1]}`, or set vector_store.backend to "
        "chroma-embedded to keep the index in this process."
    )


def chroma_version() -> str:
    return importlib.metadata.version("chromadb")


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def check_folder(path: Path) -> None:
    """Refuse a folder Chroma would misread, before Chroma opens it (cheap: a few file reads).

    A Chroma < 0.4 folder would be silently ignored (an empty index built beside it); a folder last written by a
    newer Chroma may be opened without error and then misread."""
    if not path.is_dir():
        return
    sqlite = path / SQLITE_FILE
    legacy = [name for name in LEGACY_FILES if (path / name).exists()]
    if legacy and not sqlite.exists():
        raise folder_unusable(path, f"it was written by Chroma older than 0.4 ({legacy[0]}), which {_installed()} "
                                    "cannot read")
    if sqlite.exists():
        with sqlite.open("rb") as handle:
            head = handle.read(len(SQLITE_MAGIC))
        if head != SQLITE_MAGIC:
            raise folder_unusable(path, f"{SQLITE_FILE} is not a SQLite database (damaged or overwritten)")
    written_by = marker_version(path)
    if written_by and _version_key(written_by) > _version_key(chroma_version()):
        raise folder_unusable(path, f"it was last written by Chroma {written_by}, newer than {_installed()}")


def marker_version(path: Path) -> str | None:
    try:
        return str(json.loads((path / MARKER).read_text(encoding="utf-8"))["chroma"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_marker(path: Path) -> None:
    """Record the Chroma version that opened (and may have migrated) the folder; written only when it changes."""
    if marker_version(path) != chroma_version():
        (path / MARKER).write_text(json.dumps({"chroma": chroma_version()}) + "\n", encoding="utf-8")


def explain(exc: Exception) -> str:
    """A short reason for a Chroma or SQLite error, without the library's internals."""
    text = " ".join(str(exc).split())
    known = (
        ("file is not a database", f"{SQLITE_FILE} is not a SQLite database (damaged or overwritten)"),
        ("malformed", f"{SQLITE_FILE} is damaged (truncated or partly overwritten)"),
        ("hnsw", "its vector segment files are missing or damaged"),
        ("Inconsistent hash", "it was written by another Chroma version (its schema history differs)"),
        ("dimension", f"its vectors have another dimension than this embedder's ({text})"),
    )
    for needle, reason in known:
        if needle.lower() in text.lower():
            return reason
    return f"Chroma reported: {text[:200]}"


def _installed() -> str:
    return f"the installed Chroma {chroma_version()}"

"""Idempotent ingestion: files -> sections -> chunks -> embeddings -> vector store.

Why content-derived ids and a per-file hash: re-running ingest must skip unchanged files, replace the chunks of
changed ones and never duplicate. New chunks are written before stale ones are deleted, so an interrupted run
(Ctrl-C, kill) leaves an index that still answers and that the next run completes. A file that cannot be read
(garbled, too large, a link out of the folder, an archive) is skipped with a one-line reason and its chunks from
an earlier good version are kept (fuzzed in tests/safety/test_fuzz_files.py).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from chatbot.config import PROJECT_ROOT
from chatbot.knowledge.loaders import ARCHIVE_SUFFIXES, SUPPORTED_SUFFIXES, LoadError, Section, load_file
from chatbot.safety.language import has_cjk
from chatbot.vectorstore import ChunkStore

DEFAULT_MAX_FILE_MB = 64.0


@dataclass
class Chunk:
    id: str
    text: str
    metadata: dict

    @property
    def embed_text(self) -> str:
        """What the embedder sees: title and heading give a short chunk its subject; English synonyms add lay terms."""
        meta = self.metadata
        english = [k for k in meta.get("keywords", "").split(" | ") if k and not has_cjk(k)]
        extra = f" ({', '.join(english)})" if english else ""
        return f"{meta.get('title', '')}{extra}. {meta.get('section', '')}. {self.text}"


@dataclass
class IngestReport:
    files_seen: int = 0
    files_new: int = 0
    files_changed: int = 0
    files_unchanged: int = 0
    files_pruned: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    chunks_added: int = 0
    chunks_removed: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0

    @property
    def chunks_per_s(self) -> float:
        return self.chunks_added / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        lines = [
            f"files: {self.files_seen} seen, {self.files_new} new, {self.files_changed} changed, "
            f"{self.files_unchanged} unchanged, {self.files_pruned} pruned, {len(self.failed)} failed",
            f"chunks: {self.chunks_added} written, {self.chunks_removed} removed "
            f"in {self.seconds:.1f} s ({self.chunks_per_s:.1f} chunks/s; embedding {self.embed_seconds:.1f} s)",
        ]
        lines += [f"  skipped {name}: {reason}" for name, reason in self.failed]
        return "\n".join(lines)


def discover(paths: Iterable[Path], skipped: list[tuple[str, str]] | None = None) -> list[Path]:
    """All supported files under the given files/folders, sorted, hidden files and READMEs skipped.

    Inside a folder, links that are broken, loop, or lead out of that folder are not followed (a corpus must not
    pull in files from elsewhere on the disk); each is added to ``skipped`` as ``(name, reason)``. Archives are
    listed so that ``load_file`` reports them (it never opens one). A file named explicitly is the user's choice
    and is read wherever it lives.
    """
    found: set[Path] = set()
    for path in paths:
        if path.is_file():
            found.add(path.resolve())
        elif path.is_dir():
            root = path.resolve()
            for candidate in path.rglob("*"):
                if not _wanted(candidate, path) or (candidate.is_dir() and not candidate.is_symlink()):
                    continue
                reason = _refused(candidate, root)
                if reason is None:
                    found.add(candidate.resolve())
                elif skipped is not None:
                    skipped.append((_printable(str(candidate)), reason))
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return sorted(found)


def _wanted(path: Path, root: Path) -> bool:
    """A name worth looking at: a supported or archive suffix, not hidden, not a README (no file access here)."""
    rel = path.relative_to(root)
    return (
        path.suffix.lower() in SUPPORTED_SUFFIXES | ARCHIVE_SUFFIXES
        and not any(part.startswith(".") for part in rel.parts)
        and path.name.lower() != "readme.md"
    )


def _refused(path: Path, root: Path) -> str | None:
    """Why a candidate found in ``root`` is not read, or None when it is a regular file to ingest."""
    if path.is_symlink():
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python 3.11)
            return "broken symbolic link or link loop"
        if not target.is_relative_to(root):
            return "symbolic link to outside the folder, not followed"
    return None if path.is_file() else "not a regular file"


def file_key(path: Path) -> str:
    """Project-relative name where possible, so an index built in one checkout is valid in another."""
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path.resolve())


def chunk_sections(sections: Sequence[Section], key: str, file_hash: str, size: int, overlap: int) -> list[Chunk]:
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=size, chunk_overlap=min(overlap, size // 2))
    chunks: list[Chunk] = []
    for section in sections:
        for piece in splitter.split_text(section.text.strip()):
            index = len(chunks)
            digest = hashlib.sha1(f"{key}\0{section.heading}\0{index}\0{piece}".encode()).hexdigest()[:24]
            meta = {
                "file": key,
                "file_hash": file_hash,
                "title": section.title,
                "section": section.heading,
                "url": section.url,
                "topic_id": section.topic_id,
                "keywords": " | ".join(section.keywords),
                "chunk_index": index,
            }
            chunks.append(Chunk(digest, piece, meta))
    for chunk in chunks:
        chunk.metadata["file_chunks"] = len(chunks)
    return chunks


@dataclass
class _Pending:
    key: str
    chunks: list[Chunk]
    stale: set[str]
    written: int = 0


class Ingestor:
    """Runs one ingestion over a set of paths into a store."""

    def __init__(
        self,
        store: ChunkStore,
        chunk_size: int = 900,
        chunk_overlap: int = 120,
        batch_size: int = 64,
        max_file_mb: float = DEFAULT_MAX_FILE_MB,
    ):
        self.store = store
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self.batch_size = batch_size
        self.max_file_mb = max_file_mb

    def run(self, paths: Sequence[Path], prune: bool = False, progress: bool = True) -> IngestReport:
        started = time.perf_counter()
        report = IngestReport()
        files = discover(paths, report.failed)
        report.files_seen = len(files)
        pending = self._plan(files, report, progress)
        self._write(pending, report, progress)
        if prune:
            self._prune(files, paths, report)
        report.seconds = time.perf_counter() - started
        return report

    def _plan(self, files: list[Path], report: IngestReport, progress: bool) -> list[_Pending]:
        pending: list[_Pending] = []
        for path in tqdm(files, desc="reading files", unit="file", disable=not progress, leave=False):
            key = file_key(path)
            try:
                self._check_file(path, key)
                data = path.read_bytes()
                file_hash = hashlib.sha256(data).hexdigest()
                existing = self.store.by_file(key)
                if _complete(existing, file_hash):
                    report.files_unchanged += 1
                    continue
                chunks = chunk_sections(load_file(path), key, file_hash, self.chunk_size, self.chunk_overlap)
            except (LoadError, OSError) as exc:
                report.failed.append((_printable(key), " ".join(str(exc).split())))
                continue
            if existing:
                report.files_changed += 1
            else:
                report.files_new += 1
            new_ids = {c.id for c in chunks}
            pending.append(_Pending(key, chunks, {c.id for c in existing} - new_ids))
        return pending

    def _check_file(self, path: Path, key: str) -> None:
        """Refuse before reading: a file over ``max_file_mb`` (memory; ingest.max_file_mb) and a name that is not
        UTF-8 (its key fails to encode when hashed into chunk ids and when stored as Chroma metadata)."""
        size_mb = path.stat().st_size / 2**20
        if size_mb > self.max_file_mb:
            raise LoadError(f"too large ({size_mb:.1f} MB; the limit is ingest.max_file_mb = {self.max_file_mb:g})")
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:
            raise LoadError("file name is not valid UTF-8; rename the file") from None

    def _write(self, pending: list[_Pending], report: IngestReport, progress: bool) -> None:
        total = sum(len(p.chunks) for p in pending)
        # Similar lengths batched together, as SentenceTransformer.encode does within one call: a batch is padded to
        # its longest text, so mixing a title-only chunk with a full one wastes most of the short one's compute.
        # Safe for interruption: a file counts as done only when all its chunks are stored (``_complete``).
        queue = sorted(((p, c) for p in pending for c in p.chunks), key=lambda item: len(item[1].embed_text))
        with tqdm(total=total, desc="embedding chunks", unit="chunk", disable=not progress or not total) as bar:
            for start in range(0, len(queue), self.batch_size):
                batch = queue[start : start + self.batch_size]
                t0 = time.perf_counter()
                vectors = self.store.embedder.embed([c.embed_text for _, c in batch])
                report.embed_seconds += time.perf_counter() - t0
                self.store.upsert(
                    [c.id for _, c in batch], [c.text for _, c in batch], [c.metadata for _, c in batch], vectors
                )
                report.chunks_added += len(batch)
                bar.update(len(batch))
                self._finish_files(batch, report)

    def _finish_files(self, batch: list[tuple[_Pending, Chunk]], report: IngestReport) -> None:
        """Delete a file's stale chunks only once all its new chunks are stored."""
        for item, _ in batch:
            item.written += 1
            if item.written == len(item.chunks) and item.stale:
                self.store.delete(sorted(item.stale))
                report.chunks_removed += len(item.stale)
                item.stale = set()

    def _prune(self, files: list[Path], roots: Sequence[Path], report: IngestReport) -> None:
        """Remove chunks of files that no longer exist under the ingested folders."""
        present = {file_key(f) for f in files}
        root_keys = [file_key(r) for r in roots if r.is_dir()]
        for key in sorted(self.store.files() - present):
            if any(key.startswith(root.rstrip("/") + "/") for root in root_keys):
                stale = [c.id for c in self.store.by_file(key)]
                self.store.delete(stale)
                report.chunks_removed += len(stale)
                report.files_pruned += 1


def _printable(name: str) -> str:
    """A file name with undecodable bytes (surrogate escapes) shown as \\udc.. so the summary itself can print."""
    return name.encode("utf-8", "backslashreplace").decode("utf-8")


def _complete(existing: list, file_hash: str) -> bool:
    if not existing:
        return False
    expected = existing[0].metadata.get("file_chunks")
    return len(existing) == expected and all(c.metadata.get("file_hash") == file_hash for c in existing)

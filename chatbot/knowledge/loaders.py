"""Turn files into sections of text with citation metadata, one loader per format.

Each loader returns ``Section`` objects (a heading and its text); chunking happens later, in one place. A file
that cannot be read raises ``LoadError`` with a reason the ingest summary shows next to the file name.

Files are untrusted input (a downloaded dump, a colleague's folder): ``load_file`` turns *any* failure of a parser
into a one-line ``LoadError``, so one garbled file is skipped and reported, never a traceback that stops an ingest
(fuzzed in tests/safety/test_fuzz_files.py).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import frontmatter
import yaml

SUPPORTED_SUFFIXES = {".md", ".markdown", ".txt", ".html", ".htm", ".pdf", ".xml", ".jsonl"}
# Archives are never opened (no zip bomb can reach a decompressor); discovery reports them so a user who dropped
# a .zip into the knowledge folder is told to unpack it instead of seeing it silently ignored.
ARCHIVE_SUFFIXES = {".zip", ".gz", ".tgz", ".tar", ".bz2", ".xz", ".7z", ".rar", ".zst"}
_BINARY_SNIFF = 8192


class LoadError(ValueError):
    """A file is unreadable, empty, binary or malformed."""


@dataclass
class Section:
    title: str
    heading: str
    text: str
    url: str = ""
    topic_id: str = ""
    keywords: list[str] = field(default_factory=list)


def load_file(path: Path) -> list[Section]:
    """Dispatch on suffix; every failure becomes a one-line LoadError naming the cause."""
    suffix = path.suffix.lower()
    if suffix in ARCHIVE_SUFFIXES:
        raise LoadError(f"archives ({suffix}) are not read; unpack it into the folder and ingest again")
    loader = _LOADERS.get(suffix)
    if loader is None:
        raise LoadError(f"unsupported file type {path.suffix or '(none)'}")
    try:
        sections = [_clean(s) for s in loader(path)]
    except LoadError as exc:
        raise LoadError(_one_line(str(exc))) from None
    except OSError:  # unreadable file: the ingestor reports it as it always has
        raise
    except (RecursionError, MemoryError) as exc:
        raise LoadError(f"too deeply nested or too large to parse ({type(exc).__name__})") from None
    except Exception as exc:  # noqa: BLE001 - a parser bug on a hostile file must skip that file, not stop ingest
        raise LoadError(_one_line(f"could not be parsed ({type(exc).__name__}: {exc})")) from None
    sections = [s for s in sections if s.text.strip()]
    if not sections:
        raise LoadError("no text found (empty file?)")
    return sections


def _one_line(message: str, limit: int = 300) -> str:
    """Parser messages (YAML, expat) span lines and quote input; the ingest summary shows one short line."""
    flat = " ".join(message.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _clean(section: Section) -> Section:
    """Drop what a store cannot hold: lone surrogates (JSON ``"\\ud800"``, PDF text) fail UTF-8 encoding at
    chunk-id hashing and in Chroma, and NUL characters; they become "?" and nothing."""
    def fix(value: str) -> str:
        return value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")

    section.title, section.heading, section.text, section.url, section.topic_id = (
        fix(section.title), fix(section.heading), fix(section.text), fix(section.url), fix(section.topic_id))
    section.keywords = [fix(k) for k in section.keywords]
    return section


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    if not data.strip():
        raise LoadError("empty file")
    if b"\x00" in data[:_BINARY_SNIFF]:
        raise LoadError("binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoadError(f"not valid UTF-8 text (byte {exc.start})") from None


def _load_markdown(path: Path) -> list[Section]:
    text = _read_text(path)
    try:
        post = frontmatter.loads(text)
    except (yaml.YAMLError, ValueError) as exc:
        raise LoadError(f"malformed YAML front matter: {exc}") from None
    meta = post.metadata if isinstance(post.metadata, dict) else {}
    title = _scalar(meta.get("title")) or _first_heading(post.content) or path.stem
    sources = meta.get("sources")
    first = sources[0] if isinstance(sources, list) and sources else None
    url = _scalar(first.get("url") if isinstance(first, dict) else first)
    synonyms = meta.get("synonyms")
    keywords = [k for k in map(_scalar, synonyms if isinstance(synonyms, list) else []) if k]
    topic_id = _scalar(meta.get("id")) or path.stem
    return [
        Section(title, heading, body, url=url, topic_id=topic_id, keywords=keywords)
        for heading, body in _split_markdown(post.content, title)
    ]


def _scalar(value: object) -> str:
    """Front matter as text, scalars only. Why: ``str()`` of a list built from YAML aliases (a "billion laughs"
    block) expands every alias and hangs, and ``synonyms: 5`` used to raise TypeError; both now read as absent."""
    return str(value).strip() if isinstance(value, str | int | float) else ""


def _first_heading(content: str) -> str | None:
    match = re.search(r"^#\s+(.+)$", content, flags=re.M)
    return match.group(1).strip() if match else None


def _split_markdown(content: str, title: str) -> Iterator[tuple[str, str]]:
    """Heading-aware split with LangChain's splitter: one section per ``##`` (or ``#``) heading."""
    from langchain_text_splitters import MarkdownHeaderTextSplitter

    splitter = MarkdownHeaderTextSplitter([("#", "h1"), ("##", "h2"), ("###", "h3")], strip_headers=True)
    for doc in splitter.split_text(content):
        heading = doc.metadata.get("h3") or doc.metadata.get("h2") or doc.metadata.get("h1") or title
        if heading == title and doc.metadata.get("h2"):
            heading = doc.metadata["h2"]
        yield heading, doc.page_content


def _load_text(path: Path) -> list[Section]:
    return [Section(path.stem.replace("_", " ").replace("-", " "), "", _read_text(path))]


def _load_html(path: Path) -> list[Section]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(_read_text(path), "html.parser")
    for tag in soup(["script", "style", "nav", "footer"]):
        tag.decompose()
    title = soup.title.get_text(strip=True) if soup.title else path.stem
    canonical = soup.find("link", rel="canonical")
    url = canonical.get("href", "") if canonical else ""
    text = re.sub(r"\n{3,}", "\n\n", soup.get_text("\n", strip=True))
    return [Section(title, "", text, url=url)]


def _load_pdf(path: Path) -> list[Section]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        pages = [(i + 1, page.extract_text() or "") for i, page in enumerate(reader.pages)]
        title = (reader.metadata.title if reader.metadata else None) or path.stem
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise LoadError(f"malformed PDF: {exc}") from None
    return [Section(str(title), f"page {n}", text) for n, text in pages]


def _load_xml(path: Path) -> list[Section]:
    text = _read_text(path)
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise LoadError(f"malformed XML: {exc}") from None
    if root.tag == "Document":
        return _medquad_xml(root)
    if root.tag in {"health-topics", "health-topic"}:
        return _medlineplus_xml(root)
    raise LoadError(
        f"unknown XML format (root <{root.tag}>); expected MedQuAD <Document> or MedlinePlus <health-topics>"
    )


def _medquad_xml(root: ET.Element) -> list[Section]:
    focus = (root.findtext("Focus") or "").strip() or root.get("id", "MedQuAD")
    url = root.get("url", "")
    sections = []
    for pair in root.iter("QAPair"):
        question = (pair.findtext("Question") or "").strip()
        answer = (pair.findtext("Answer") or "").strip()
        if answer:
            sections.append(Section(focus, question, answer, url=url))
    return sections


def _medlineplus_xml(root: ET.Element) -> list[Section]:
    from bs4 import BeautifulSoup

    topics = [root] if root.tag == "health-topic" else root.findall("health-topic")
    sections = []
    for topic in topics:
        summary = topic.findtext("full-summary") or ""
        text = BeautifulSoup(summary, "html.parser").get_text("\n", strip=True)
        keywords = [(e.text or "").strip() for e in topic.findall("also-called")]
        title = topic.get("title", "MedlinePlus topic")
        sections.append(Section(title, "Summary", text, url=topic.get("url", ""), keywords=keywords))
    return sections


def _load_jsonl(path: Path) -> list[Section]:
    """MedQuAD-style JSONL: one question/answer pair per line; lines without an answer are skipped."""
    sections = []
    for lineno, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LoadError(f"line {lineno} is not valid JSON: {exc.msg}") from None
        if not isinstance(row, dict):
            raise LoadError(f"line {lineno} is not a JSON object")
        answer = str(row.get("answer") or row.get("text") or "").strip()
        if answer:
            title = str(row.get("focus") or row.get("title") or path.stem)
            sections.append(Section(title, str(row.get("question") or ""), answer, url=str(row.get("url") or "")))
    return sections


_LOADERS: dict[str, Callable[[Path], list[Section]]] = {
    ".md": _load_markdown,
    ".markdown": _load_markdown,
    ".txt": _load_text,
    ".html": _load_html,
    ".htm": _load_html,
    ".pdf": _load_pdf,
    ".xml": _load_xml,
    ".jsonl": _load_jsonl,
}

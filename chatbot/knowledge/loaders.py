"""Turn files into sections of text with citation metadata, one loader per format.

Each loader returns ``Section`` objects (a heading and its text); chunking happens later, in one place. A file
that cannot be read raises ``LoadError`` with a reason the ingest summary shows next to the file name.
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
    """Dispatch on suffix; every failure becomes a LoadError naming the cause."""
    loader = _LOADERS.get(path.suffix.lower())
    if loader is None:
        raise LoadError(f"unsupported file type {path.suffix or '(none)'}")
    sections = [s for s in loader(path) if s.text.strip()]
    if not sections:
        raise LoadError("no text found (empty file?)")
    return sections


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
    meta = post.metadata or {}
    title = str(meta.get("title") or _first_heading(post.content) or path.stem)
    sources = meta.get("sources") or []
    url = ""
    if isinstance(sources, list) and sources:
        first = sources[0]
        url = str(first.get("url", "")) if isinstance(first, dict) else str(first)
    keywords = [str(s) for s in (meta.get("synonyms") or []) if s]
    topic_id = str(meta.get("id") or path.stem)
    return [
        Section(title, heading, body, url=url, topic_id=topic_id, keywords=keywords)
        for heading, body in _split_markdown(post.content, title)
    ]


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

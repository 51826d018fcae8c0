"""Property-based fuzzing (hypothesis, seeded and bounded) of the files ingestion reads: truncated and garbled PDF,
malformed XML/HTML/JSONL, Markdown with binary junk and hostile front matter (YAML alias bombs), wrong encodings,
empty files, zip bombs, odd names, symbolic links out of the corpus or in loops, and files over the size limit.

Why: a knowledge folder is filled from downloads and colleagues' exports, so any byte string can arrive. Each file
must give sections or one one-line reason, never a traceback or a hang; the ingest goes on; and the chunks already
indexed (checked by id and text hash) survive every run, including runs where a good file is spoiled in place.

Two paths: the loader and chunker called directly on each generated file (cheap, most of the cases), and whole
ingests with an on-disk Chroma store on batches of generated files. The default run uses a few hundred cases;
``FUZZ_LARGE=1`` or ``-m slow`` runs 10,000 files through the loaders and 2,000 batches through the store.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from chatbot.embedding import FakeEmbedder
from chatbot.knowledge.ingest import Ingestor, chunk_sections
from chatbot.knowledge.loaders import LoadError, load_file
from chatbot.vectorstore import ChunkStore
from tests.conftest import TOPICS
from tests.safety.fuzzing import within, yaml_bomb

DEFAULT = settings(max_examples=300, deadline=None, derandomize=True,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                          HealthCheck.data_too_large])
LARGE = settings(DEFAULT, max_examples=10_000)
N = LARGE if os.environ.get("FUZZ_LARGE") else DEFAULT
BATCHES = settings(DEFAULT, max_examples=100)
LARGE_BATCHES = settings(DEFAULT, max_examples=2_000)
NB = LARGE_BATCHES if os.environ.get("FUZZ_LARGE") else BATCHES
LIMIT_MB = 0.05  # a small ingest.max_file_mb, so "huge" files are cheap to write
HANG_S = 20  # one file or one batch taking longer than this is a hang, reported as a failure


# ---- what the generated files are made of -------------------------------------------------------------------------

def _pdf(text: bytes) -> bytes:
    """A one-page PDF whose text is ``text``, in a Flate stream (so mutations also reach the decompressor)."""
    content = zlib.compress(b"BT /F1 12 Tf 10 100 Td (" + text + b") Tj ET")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % at for at in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _zip_bomb() -> bytes:
    """10 MB of zeros in a ~10 kB zip: it must be refused by name, never opened."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("notes.md", b"\0" * 10_000_000)
    return buf.getvalue()


LAUGHS = ('<?xml version="1.0"?><!DOCTYPE Document [<!ENTITY lol "lol">'
          + "".join(f'<!ENTITY lol{i} "{("&lol;" if i == 1 else f"&lol{i - 1};") * 10}">' for i in range(1, 10))
          + ']><Document><QAPair><Question>q</Question><Answer>&lol9;</Answer></QAPair></Document>')
XXE = ('<?xml version="1.0"?><!DOCTYPE Document [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
       "<Document><QAPair><Question>q</Question><Answer>&x;</Answer></QAPair></Document>")
MEDQUAD = ('<Document id="1" url="https://example.org/x"><Focus>Sore throat</Focus><QAPairs><QAPair>'
           "<Question>What is it?</Question><Answer>A sore throat is pain in the throat.</Answer>"
           "</QAPair></QAPairs></Document>")
MEDLINE = ('<health-topics><health-topic title="Fever" url="https://example.org/f"><also-called>pyrexia'
           "</also-called><full-summary>&lt;p&gt;A fever is a raised temperature.&lt;/p&gt;</full-summary>"
           "</health-topic></health-topics>")
HTML = ('<html><head><title>Cough</title><link rel="canonical" href="https://example.org/c"></head><body>'
        "<nav>menu</nav><h1>Cough</h1><p>Most coughs clear up in 3 weeks.</p><script>alert(1)</script></body>"
        "</html>")
MARKDOWN = "---\ntitle: Sore throat\nid: sore-throat\nsynonyms: [pharyngitis]\n---\n# Sore throat\n\n## Care\nRest.\n"
JUNK = ["\x00", "\ufeff", "\ud800", "\u202e", "\x1b[31m", "{{", "]]>", "<!--", "&", "&#0;", "&#xd800;", "\\u0000",
        "---", "\n---\n", "*l3", "&a", "!!python/object:os.system", "</", "<<", "%PDF", "\r"]
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-32", "latin-1", "cp1252", "shift_jis", "gb18030", "koi8-r"]

texts = st.lists(st.one_of(st.text(max_size=40), st.sampled_from(JUNK)), max_size=8).map("".join)
utf8 = texts.map(lambda text: text.encode("utf-8", "replace"))


@st.composite
def mutated(draw: st.DrawFn, base: bytes) -> bytes:
    """``base`` truncated, with bytes flipped, junk spliced in or runs deleted: the ways files arrive broken."""
    data = bytearray(base)
    for _ in range(draw(st.integers(0, 4))):
        op, at = draw(st.sampled_from(["truncate", "flip", "insert", "delete"])), draw(st.integers(0, len(data)))
        if op == "truncate":
            del data[at:]
        elif op == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(st.one_of(st.binary(max_size=64), utf8))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 64))]
    return bytes(data)


def _encoded(text: str) -> st.SearchStrategy[bytes]:
    return st.sampled_from(ENCODINGS).map(lambda enc: text.encode(enc, "replace"))


scalars = st.none() | st.booleans() | st.integers() | st.floats() | texts
yaml_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner,
                                                                                                   max_size=3),
                           max_leaves=8)
front_keys = st.sampled_from(["title", "id", "sources", "synonyms", "url", "x"])


@st.composite
def markdown(draw: st.DrawFn) -> bytes:
    """Front matter of any shape (wrong types, alias bombs, junk) over a body of text and binary junk."""
    meta = draw(st.dictionaries(front_keys, yaml_values, max_size=4))
    block = json.dumps(meta, default=str)  # JSON is YAML: any shape, including lone surrogates as escapes
    if draw(st.booleans()):
        depth = draw(st.sampled_from([2, 5, 9]))  # 9 x 9: 387 million strings if anything expanded it
        use = draw(st.sampled_from(["title: *l{d}", "synonyms: *l{d}", "sources: [*l{d}]", "id: *l{d}"]))
        block = yaml_bomb(depth, 9) + "\n" + use.format(d=depth - 1)
    body = draw(texts) + "\n## " + draw(texts) + "\n" + draw(texts)
    head = f"---\n{block}\n---\n" if draw(st.booleans()) else ""
    return (head + body).encode("utf-8", "replace") + draw(st.binary(max_size=32))


@st.composite
def jsonl(draw: st.DrawFn) -> bytes:
    rows = draw(st.lists(st.one_of(
        st.fixed_dictionaries({"question": texts, "answer": texts}, optional={"focus": yaml_values}),
        yaml_values), max_size=5))
    return "\n".join(json.dumps(row, default=str) for row in rows).encode()


ZIP_BOMB = _zip_bomb()
BASES = {  # by name, so a failing example's repr names the base instead of printing 10 kB of zip
    "pdf": _pdf(b"Sore throat care at home: rest and fluids."), "medquad": MEDQUAD.encode(),
    "medline": MEDLINE.encode(), "laughs": LAUGHS.encode(), "xxe": XXE.encode(), "html": HTML.encode(),
    "markdown": MARKDOWN.encode(), "jsonl": b'{"question": "q", "answer": "a"}', "zip": ZIP_BOMB,
    "zip-head": ZIP_BOMB[:2000],
}


def broken(*names: str) -> st.SearchStrategy[bytes]:
    return st.sampled_from(names).map(BASES.__getitem__).flatmap(mutated)


contents = st.one_of(
    st.tuples(st.just(".pdf"), st.one_of(broken("pdf"), st.binary(max_size=300))),
    st.tuples(st.just(".xml"), broken("medquad", "medline", "laughs", "xxe")),
    st.tuples(st.sampled_from([".html", ".htm"]), st.one_of(broken("html"), utf8)),
    st.tuples(st.sampled_from([".md", ".markdown"]), st.one_of(markdown(), broken("markdown"))),
    st.tuples(st.just(".jsonl"), st.one_of(jsonl(), broken("jsonl"))),
    st.tuples(st.sampled_from([".txt", ".md"]), texts.flatmap(_encoded)),
    st.tuples(st.sampled_from([".md", ".txt", ".pdf", ".xml"]), st.sampled_from([b"", b" \n\t ", b"\xef\xbb\xbf"])),
    st.tuples(st.sampled_from([".zip", ".tar.gz", ".7z"]), broken("zip-head", "zip")),
    st.tuples(st.sampled_from(["", ".exe", ".MD", ".Pdf", ".yaml"]), st.binary(max_size=100)),
)


# ---- the direct path: loader and chunker on each generated file ---------------------------------------------------

def _one_line(reason: str) -> None:
    assert reason.strip() and "\n" not in reason and "Traceback" not in reason, reason
    reason.encode("utf-8")  # printable as is


def _read_directly(path: Path) -> None:
    """Sections that chunk and store, or one LoadError of one line; never anything else, never a hang."""
    with within(HANG_S):
        try:
            sections = load_file(path)
        except LoadError as exc:
            _one_line(str(exc))
            return
        chunks = chunk_sections(sections, "fuzz/file", "hash", 300, 40)
    for chunk in chunks:
        assert chunk.text.strip()
        json.dumps(chunk.metadata, ensure_ascii=False).encode("utf-8")  # what Chroma stores must encode
    assert "root:x:0:0" not in "".join(c.text for c in chunks)  # no external entity was read (XXE)


def _check_file(folder: Path, case: tuple[str, bytes]) -> None:
    suffix, data = case
    path = folder / f"file{suffix}"
    path.write_bytes(data)
    _read_directly(path)


@N
@seed(20261209)
@given(contents)
def test_any_file_gives_sections_or_a_one_line_reason(tmp_path, case):
    _check_file(tmp_path, case)


@pytest.mark.slow
@LARGE
@seed(20261210)
@given(contents)
def test_ten_thousand_files_give_sections_or_a_one_line_reason(tmp_path, case):
    _check_file(tmp_path, case)


# ---- the whole path: ingests into an on-disk store, the good corpus checked after each ---------------------------

@dataclass
class Indexed:
    corpus: Path
    outside: Path
    store: ChunkStore
    good: set[tuple[str, str]]  # (chunk id, sha256 of its text) of the good corpus


def _fingerprints(store: ChunkStore) -> set[tuple[str, str]]:
    return {(c.id, hashlib.sha256(c.text.encode()).hexdigest()) for c in store.all_chunks()}


@pytest.fixture(scope="module")
def indexed(tmp_path_factory) -> Indexed:
    root = tmp_path_factory.mktemp("fuzz-files")
    corpus, outside = root / "corpus", root / "outside"
    corpus.mkdir()
    outside.mkdir()
    for name in ("sore-throat.md", "chest-pain.md", "headache.md"):
        shutil.copy(TOPICS / name, corpus / name)
    (outside / "secret.md").write_text("# Secret\n\nPrivate notes that must never be indexed.\n")
    store = ChunkStore(FakeEmbedder(), "knowledge", root / "chroma")
    report = Ingestor(store, max_file_mb=LIMIT_MB).run([corpus], progress=False)
    assert report.files_new == 3 and not report.failed
    return Indexed(corpus, outside, store, _fingerprints(store))


LINKS = {  # name in the batch folder -> (target, the reason ingest must give, or None when it is read)
    "out.md": ("outside/secret.md", "outside the folder"),
    "outdir.md": ("outside", "outside the folder"),
    "loop.md": ("corpus/fuzz/loop.md", "broken symbolic link or link loop"),
    "ping.md": ("corpus/fuzz/pong.md", "broken symbolic link or link loop"),  # a loop when pong.md is drawn too
    "pong.md": ("corpus/fuzz/ping.md", "broken symbolic link or link loop"),
    "gone.md": ("corpus/fuzz/nothing.md", "broken symbolic link or link loop"),
    "alias.md": ("corpus/headache.md", None),
}
names = st.one_of(
    st.text(alphabet=st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)), min_size=1,
            max_size=30),
    st.sampled_from(["..", "...", "..%2f..%2fx", "~", "-rf", " ", "\n", "CON", "x" * 200]),
    st.binary(min_size=1, max_size=8).map(lambda raw: os.fsdecode(raw.replace(b"/", b"_").replace(b"\0", b"_"))),
)
huge = st.tuples(st.sampled_from([".md", ".txt", ".pdf"]), st.integers(1, 20_000).map(
    lambda extra: b"a " * int((LIMIT_MB * 2**20 + extra) / 2)))
spoilers = st.sampled_from([b"", b"\x00\x01binary", b"\xff\xfe not utf-8 \xc3\x28", b"a" * int(LIMIT_MB * 2**20 + 1)])


def _write_batch(folder: Path, root: Path, files: list[tuple[str, tuple[str, bytes]]], links: list[str]) -> None:
    """Links first; then files, created exclusively ("xb"), so a generated name never writes through a link."""
    for name in links:
        (folder / name).symlink_to(root / LINKS[name][0])
    for name, (suffix, data) in files:
        try:
            with (folder / f"{name}{suffix}").open("xb") as handle:
                handle.write(data)
        except OSError:  # taken, or a name the file system refuses ("..", too long): nothing to ingest
            pass


def _spoil(indexed: Indexed, data: bytes | None) -> tuple[Path, bytes]:
    victim = indexed.corpus / "chest-pain.md"
    original = victim.read_bytes()
    if data is not None:
        victim.write_bytes(data)
    return victim, original


def _ingest_batch(indexed: Indexed, files: list, links: list[str], spoiler: bytes | None) -> None:
    """Generated files (and links) in corpus/fuzz, maybe a good file spoiled in place; ingest with prune; check."""
    folder = indexed.corpus / "fuzz"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    _write_batch(folder, indexed.corpus.parent, files, links)
    victim, original = _spoil(indexed, spoiler)
    try:
        with within(HANG_S):
            report = Ingestor(indexed.store, max_file_mb=LIMIT_MB, batch_size=16).run(
                [indexed.corpus], prune=True, progress=False)
    finally:
        victim.write_bytes(original)
    reasons = dict(report.failed)
    for name, reason in report.failed:
        _one_line(reason)
        name.encode("utf-8")
    report.summary().encode("utf-8")
    for name in links:
        expected = LINKS[name][1]
        assert expected is None or expected in reasons.get(str(folder / name), ""), (name, reasons)
    if spoiler is not None:
        assert any(key.endswith("chest-pain.md") for key in reasons), reasons
    assert indexed.good <= _fingerprints(indexed.store), "an indexed chunk of the good corpus was lost or changed"
    assert not any("Private notes" in c.text for c in indexed.store.all_chunks()), "a link out of the corpus was read"


batch_files = st.lists(st.tuples(names, st.one_of(contents, huge)), max_size=6)
batch_links = st.lists(st.sampled_from(sorted(LINKS)), max_size=3, unique=True)


@NB
@seed(20261211)
@given(batch_files, batch_links, st.none() | spoilers)
def test_ingest_survives_any_batch_and_keeps_every_indexed_chunk(indexed, files, links, spoiler):
    _ingest_batch(indexed, files, links, spoiler)


@pytest.mark.slow
@LARGE_BATCHES
@seed(20261212)
@given(batch_files, batch_links, st.none() | spoilers)
def test_two_thousand_ingests_keep_every_indexed_chunk(indexed, files, links, spoiler):
    _ingest_batch(indexed, files, links, spoiler)


# ---- named cases: the bombs, measured --------------------------------------------------------------------------

def test_a_yaml_alias_bomb_in_front_matter_is_not_expanded(tmp_path):
    """``title: *l9`` over 9 x 9 aliases used to hang in ``str()`` (387 million strings); now it reads as absent."""
    path = tmp_path / "bomb.md"
    path.write_text(f"---\n{yaml_bomb(9, 9)}\ntitle: *l8\nsynonyms: *l8\n---\n# Bomb\n\nBody text.\n")
    with within(5):
        sections = load_file(path)
    assert sections[0].title == "Bomb" and sections[0].keywords == []


def test_an_xml_entity_bomb_and_an_external_entity_are_refused(tmp_path):
    for name, text in (("laughs.xml", LAUGHS), ("xxe.xml", XXE)):
        (tmp_path / name).write_text(text)
        with within(5), pytest.raises(LoadError, match="malformed XML"):
            load_file(tmp_path / name)


def test_a_zip_bomb_is_refused_by_name_and_a_huge_file_before_reading(tmp_path):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "bomb.zip").write_bytes(ZIP_BOMB)
    (tmp_path / "corpus" / "big.md").write_bytes(b"# Big\n" + b"a " * 40_000)
    store = ChunkStore(FakeEmbedder(), "knowledge", tmp_path / "chroma")
    report = Ingestor(store, max_file_mb=LIMIT_MB).run([tmp_path / "corpus"], progress=False)
    reasons = {Path(name).name: reason for name, reason in report.failed}
    assert "archives (.zip) are not read; unpack it" in reasons["bomb.zip"]
    assert "too large (0.1 MB; the limit is ingest.max_file_mb = 0.05)" in reasons["big.md"]
    assert store.count() == 0

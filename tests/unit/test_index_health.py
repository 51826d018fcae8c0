"""A broken or incompatible index folder: one operator paragraph naming the folder and the rebuild command, exit 3,
and ``ingest --rebuild`` moves it aside and restores a working index (fake embedder and LLM)."""

import json
import shutil
import sqlite3

import numpy as np
import pytest

from chatbot.embedding import FakeEmbedder
from chatbot.index_health import MARKER, REBUILD_COMMAND, IndexUnusable
from chatbot.interfaces import cli
from chatbot.vectorstore import ChunkStore
from tests.unit.test_cli import fake_env  # noqa: F401  (the environment of the CLI tests)

PADDING = 1100  # past Chroma's HNSW sync threshold (1000), so the vectors live in the segment files


class OtherEmbedder(FakeEmbedder):
    name = "other-embedder-384"
    dim = 384


def _forget_clients():
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


def _garbage_sqlite(folder):
    (folder / "chroma.sqlite3").write_bytes(np.random.default_rng(1).bytes(6000))


def _truncated_sqlite(folder):
    with (folder / "chroma.sqlite3").open("r+b") as handle:
        handle.truncate(8192)


def _missing_segment_files(folder):
    store = ChunkStore(FakeEmbedder(), "knowledge", folder)
    vectors = np.random.default_rng(2).random((PADDING, FakeEmbedder.dim), dtype=np.float32)
    ids = [f"pad-{i}" for i in range(PADDING)]
    for start in range(0, PADDING, 500):
        part = slice(start, start + 500)
        store.upsert(ids[part], ids[part], [{"file": "pad"} for _ in ids[part]], vectors[part])
    del store
    _forget_clients()
    removed = [f for f in folder.glob("*/*.bin")]
    assert removed, "no HNSW segment files were written"
    for path in removed:
        path.unlink()


def _another_embedder(folder):
    shutil.rmtree(folder)
    store = ChunkStore(OtherEmbedder(), "knowledge", folder)
    store.upsert(["a"], ["text"], [{"file": "a"}], OtherEmbedder().embed(["text"]))
    del store
    _forget_clients()


def _newer_chroma(folder):
    (folder / MARKER).write_text(json.dumps({"chroma": "9.0.0"}), encoding="utf-8")


def _chroma_before_0_4(folder):
    shutil.rmtree(folder)
    folder.mkdir()
    (folder / "chroma-embeddings.parquet").write_bytes(b"PAR1")


def _changed_schema_history(folder):
    with sqlite3.connect(folder / "chroma.sqlite3") as db:
        db.execute("update migrations set hash = 'not-this-version' where dir = 'sysdb' and version = 1")


CORRUPTIONS = {
    "garbage sqlite": (_garbage_sqlite, "is not a SQLite database"),
    "truncated sqlite": (_truncated_sqlite, "damaged"),
    "missing segment files": (_missing_segment_files, "segment files are missing or damaged"),
    "another embedder": (_another_embedder, "built with the embedder 'other-embedder-384'"),
    "newer chroma": (_newer_chroma, "last written by Chroma 9.0.0"),
    "chroma before 0.4": (_chroma_before_0_4, "older than 0.4"),
    "another schema history": (_changed_schema_history, "another Chroma version"),
}


@pytest.fixture
def data(tmp_path, request):
    """A data folder whose index `ingest` built from a small corpus (fake backends); (data dir, clean chunk count)."""
    request.getfixturevalue("fake_env")
    assert cli.main(["ingest"]) == 0
    _forget_clients()
    clean = ChunkStore(FakeEmbedder(), "knowledge", tmp_path / "data" / "chroma").count()
    _forget_clients()
    return tmp_path / "data", clean


def _run(capsys, *args):
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def _flat(text):
    return "".join(text.split())  # the console wraps lines; compare without whitespace


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_opening_a_broken_index_names_the_folder_and_the_rebuild_command(data, kind):
    folder = data[0] / "chroma"
    corrupt, reason = CORRUPTIONS[kind]
    corrupt(folder)
    embedder = FakeEmbedder()
    with pytest.raises(IndexUnusable) as caught:
        ChunkStore(embedder, "knowledge", folder)
    text = str(caught.value)
    assert f"The knowledge index in {folder} cannot be used" in text and reason in text
    assert REBUILD_COMMAND in text and "not deleted" in text and "\n" not in text


@pytest.mark.parametrize("kind", ["garbage sqlite", "missing segment files", "another embedder"])
def test_ask_and_ingest_report_a_broken_index_and_rebuild_restores_it(data, kind, capsys):
    data_dir, clean = data
    folder = data_dir / "chroma"
    corrupt, reason = CORRUPTIONS[kind]
    corrupt(folder)
    for command in (["ask", "What helps a sore throat?"], ["ingest"]):
        code, out, err = _run(capsys, *command)
        assert code == 3, (command, out, err)
        assert _flat(str(folder)) in _flat(err) and _flat(REBUILD_COMMAND) in _flat(err) and _flat(reason) in _flat(err)
        assert "Traceback" not in out + err and "Assistant:" not in out
    before = sorted(p.name for p in folder.rglob("*"))
    code, out, err = _run(capsys, "ingest", "--rebuild")
    assert code == 0, err
    aside = [p for p in data_dir.iterdir() if p.name.startswith("chroma.before-rebuild-")]
    assert len(aside) == 1 and sorted(p.name for p in aside[0].rglob("*")) == before  # kept, not deleted
    assert f"index: {clean} chunks in {folder}" in " ".join(out.split())
    code, out, _ = _run(capsys, "ask", "What helps a sore throat?")
    assert code == 0 and "Sources" in out

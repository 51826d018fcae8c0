import pytest

from chatbot.embedding import FakeEmbedder
from chatbot.knowledge.ingest import Ingestor
from chatbot.vectorstore import ChunkStore


@pytest.fixture
def store(tmp_path):
    return ChunkStore(FakeEmbedder(), "knowledge", tmp_path / "chroma")


def _ids(store):
    return sorted(c.id for c in store.all_chunks())


def test_reingest_is_idempotent(store, mini_corpus):
    first = Ingestor(store).run([mini_corpus], progress=False)
    assert first.files_new == 5 and first.chunks_added == store.count() > 0
    before = _ids(store)
    second = Ingestor(store).run([mini_corpus], progress=False)
    assert second.files_unchanged == 5 and second.chunks_added == 0
    assert _ids(store) == before


def test_changed_file_replaces_its_chunks(store, mini_corpus):
    Ingestor(store).run([mini_corpus], progress=False)
    path = mini_corpus / "headache.md"
    path.write_text(
        path.read_text().replace("## What it is\n", "## What it is\nA brand new sentence about zebras.\n", 1)
    )
    report = Ingestor(store).run([mini_corpus], progress=False)
    assert report.files_changed == 1 and report.chunks_removed >= 1
    chunks = [c for c in store.all_chunks() if c.metadata["file"].endswith("headache.md")]
    assert any("zebras" in c.text for c in chunks)
    assert {c.metadata["file_hash"] for c in chunks} == {chunks[0].metadata["file_hash"]}  # no stale chunks left
    assert len(chunks) == chunks[0].metadata["file_chunks"]


def test_prune_removes_deleted_files(store, mini_corpus):
    Ingestor(store).run([mini_corpus], progress=False)
    (mini_corpus / "constipation.md").unlink()
    kept = Ingestor(store).run([mini_corpus], progress=False)
    assert kept.files_pruned == 0 and any("constipation" in f for f in store.files())
    pruned = Ingestor(store).run([mini_corpus], prune=True, progress=False)
    assert pruned.files_pruned == 1 and not any("constipation" in f for f in store.files())


def test_bad_file_is_reported_and_nothing_indexed_is_lost(store, mini_corpus):
    Ingestor(store).run([mini_corpus], progress=False)
    count = store.count()
    (mini_corpus / "sore-throat.md").write_bytes(b"\x00\x01binary now")
    (mini_corpus / "empty.md").write_text("")
    report = Ingestor(store).run([mini_corpus], progress=False)
    assert {name.split("/")[-1] for name, _ in report.failed} == {"sore-throat.md", "empty.md"}
    assert store.count() == count
    assert "skipped" in report.summary()


class _Interrupting(FakeEmbedder):
    def __init__(self, after: int):
        self.after = after
        self.calls = 0

    def embed(self, texts):
        self.calls += 1
        if self.calls > self.after:
            raise KeyboardInterrupt
        return super().embed(texts)


def test_interrupted_ingest_is_completed_without_duplicates(tmp_path, mini_corpus):
    reference = ChunkStore(FakeEmbedder(), "ref", tmp_path / "ref")
    Ingestor(reference, batch_size=4).run([mini_corpus], progress=False)
    store = ChunkStore(_Interrupting(after=2), "knowledge", tmp_path / "chroma")
    with pytest.raises(KeyboardInterrupt):
        Ingestor(store, batch_size=4).run([mini_corpus], progress=False)
    assert 0 < store.count() < reference.count()
    store.embedder = FakeEmbedder()
    report = Ingestor(store, batch_size=4).run([mini_corpus], progress=False)
    assert report.files_unchanged < 5
    assert _ids(store) == _ids(reference)

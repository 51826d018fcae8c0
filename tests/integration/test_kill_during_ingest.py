"""Crash safety of ingestion: SIGKILL at random moments, then one more run, gives exactly the clean build.

Why: a laptop sleeps, a user presses Ctrl-C twice, the OOM killer strikes. Ingestion writes chunks in batches and
counts a file as done only when all its chunks are stored (``chatbot.knowledge.ingest``); chunk ids are derived
from the file and its content, so a rerun overwrites instead of duplicating. This test checks that claim: ≥ 50
kills at random points of a real ingest (Chroma on disk, the fast fake embedder), then the final run must hold the
same chunk ids with the same text hashes as a build that was never interrupted: no duplicate, nothing missing.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import TOPICS

KILLS = 50
SCRIPT = """
import sys
from pathlib import Path
from chatbot.embedding import FakeEmbedder
from chatbot.knowledge.ingest import Ingestor
from chatbot.vectorstore import ChunkStore
store = ChunkStore(FakeEmbedder(), "knowledge", Path(sys.argv[1]))
print("start", flush=True)
Ingestor(store, batch_size=8).run([Path(sys.argv[2])], progress=False)
print("done", flush=True)
"""


def _start(index: Path, corpus: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(index), str(corpus)], stdout=subprocess.PIPE,
                            text=True, env=env)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "start"
    return proc


def _contents(index: Path) -> tuple[int, set[tuple[str, str]]]:
    from chatbot.embedding import FakeEmbedder
    from chatbot.vectorstore import ChunkStore

    chunks = ChunkStore(FakeEmbedder(), "knowledge", index).all_chunks()
    return len(chunks), {(c.id, hashlib.sha256(c.text.encode()).hexdigest()) for c in chunks}


@pytest.mark.slow
def test_random_kills_during_ingest_leave_no_duplicate_and_nothing_missing(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for path in sorted(TOPICS.glob("*.md"))[:60]:
        shutil.copy(path, corpus / path.name)

    clean = tmp_path / "clean"
    proc = _start(clean, corpus)
    started = time.monotonic()  # after the child's imports: the sleeps below must land inside the ingest itself
    assert proc.wait(timeout=600) == 0
    ingest_seconds = time.monotonic() - started
    expected_count, expected = _contents(clean)
    assert expected_count == len(expected) > 100

    index, rng, killed_mid_run, attempts = tmp_path / "killed", random.Random(20261204), 0, 0
    while killed_mid_run < KILLS and attempts < 4 * KILLS:  # bounded
        attempts += 1
        proc = _start(index, corpus)
        # a resumed run has less left to do, so aim at the first 60 % of a full ingest
        time.sleep(rng.uniform(0.0, 0.6 * ingest_seconds))
        if proc.poll() is None:
            killed_mid_run += 1
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        if proc.returncode == 0:  # it finished first: start again from an empty index so the next kill lands mid-run
            shutil.rmtree(index, ignore_errors=True)
    proc = _start(index, corpus)
    assert proc.wait(timeout=600) == 0

    count, got = _contents(index)
    print(f"\n{killed_mid_run} kills mid-run in {attempts} starts; clean build {expected_count} chunks "
          f"in {ingest_seconds:.1f} s")
    assert killed_mid_run == KILLS
    assert count == len(got)  # no id twice
    assert got == expected  # same chunks, same text: nothing missing, nothing stale, nothing duplicated

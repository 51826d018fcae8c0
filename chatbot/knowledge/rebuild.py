"""``python -m chatbot ingest --rebuild``: put the current index aside and let ingestion build a fresh one.

Why aside and not deleted: the index folder may be the only copy of something an operator wants to inspect (or of
documents ingested from paths no longer at hand); a broken index is moved next to itself with a time stamp
(embedded) or its collection renamed (chroma-http), and the operator deletes it once the new one works.
"""

from __future__ import annotations

import time
from pathlib import Path

from chatbot.config import Settings
from chatbot.vectorstore import HTTP, rename_collection

ASIDE = "before-rebuild"


def move_aside(settings: Settings) -> str | None:
    """Move the configured index out of the way without opening it; return where it went (None: there was none)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    cfg = settings.vector_store
    if cfg.backend == HTTP:
        new_name = f"{cfg.collection}-{ASIDE}-{stamp}"
        renamed = rename_collection(cfg.host, cfg.port, cfg.collection, new_name)
        return f"collection {new_name!r} on http://{cfg.host}:{cfg.port}" if renamed else None
    return _move_folder(settings.chroma_dir, stamp)


def _move_folder(folder: Path, stamp: str) -> str | None:
    if not folder.is_dir() or not any(folder.iterdir()):
        return None
    target = folder.with_name(f"{folder.name}.{ASIDE}-{stamp}")
    n = 1
    while target.exists():  # two rebuilds within one second
        n += 1
        target = folder.with_name(f"{folder.name}.{ASIDE}-{stamp}-{n}")
    folder.rename(target)
    _forget_open_clients()
    return str(target)


def _forget_open_clients() -> None:
    """Chroma keeps one client per folder per process; drop them so the fresh folder is opened anew."""
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()

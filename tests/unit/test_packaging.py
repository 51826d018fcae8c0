"""pyproject.toml against the code: console scripts resolve."""

from __future__ import annotations

import importlib
import tomllib

from chatbot.config import PROJECT_ROOT

PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_console_script_resolves_to_a_callable():
    scripts = PYPROJECT["project"]["scripts"]
    assert scripts
    for name, target in scripts.items():
        module_name, _, attr = target.partition(":")
        module = importlib.import_module(module_name)
        obj = module
        for part in attr.split("."):
            obj = getattr(obj, part)
        assert callable(obj), f"[project.scripts] {name} = {target!r} is not callable"

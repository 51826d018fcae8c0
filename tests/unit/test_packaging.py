"""pyproject.toml against the code: console scripts resolve, and every third-party import is a declared dependency."""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import re
import sys
import tomllib

from chatbot.config import PROJECT_ROOT

PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    names = set()
    for requirement in PYPROJECT["project"]["dependencies"]:
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
        assert match, f"unreadable dependency {requirement!r}"
        names.add(_normalise(match.group(1)))
    return names


def _imports() -> dict[str, set[str]]:
    """Top-level names of every absolute import under chatbot/ (stdlib and the package itself left out)."""
    found: dict[str, set[str]] = {}
    for path in sorted((PROJECT_ROOT / "chatbot").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "chatbot":
                    found.setdefault(top, set()).add(str(path.relative_to(PROJECT_ROOT)))
    return found


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


def test_every_imported_distribution_is_declared():
    declared = _declared()
    owners = importlib.metadata.packages_distributions()
    missing = []
    for module, files in sorted(_imports().items()):
        distributions = owners.get(module)
        if not distributions:
            missing.append(f"{module} (not installed; imported in {', '.join(sorted(files))})")
        elif not declared & {_normalise(d) for d in distributions}:
            missing.append(f"{'/'.join(distributions)} (import {module} in {', '.join(sorted(files))})")
    assert not missing, "imported but not in [project] dependencies: " + "; ".join(missing)

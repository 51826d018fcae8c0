"""Layering: the HTTP API does not depend on the browser page. Shared wording (the place in line) lives in
chatbot/interfaces/waiting.py; every module under chatbot/interfaces/http/ is read, not imported, so a new
``from chatbot.interfaces.web...`` (absolute or relative) anywhere there fails here at once."""

from __future__ import annotations

import ast
from pathlib import Path

import chatbot.interfaces.http as http_package

HTTP_DIR = Path(http_package.__file__).parent
PACKAGE = "chatbot.interfaces.http"
FORBIDDEN = "chatbot.interfaces.web"


def _module_name(path: Path) -> str:
    parts = path.relative_to(HTTP_DIR).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGE, *parts))


def imported_modules(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module an import statement of ``source`` names (relative ones resolved against ``module``), with each
    ``from X import name`` also counted as ``X.name`` (it may be a submodule)."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            origin = ".".join([*base, *([node.module] if node.module else [])])
            found.add(origin)
            found.update(f"{origin}.{alias.name}" for alias in node.names)
    return found


def _is_forbidden(name: str) -> bool:
    return name == FORBIDDEN or name.startswith(FORBIDDEN + ".")


def test_no_http_module_imports_the_web_page():
    modules = sorted(HTTP_DIR.rglob("*.py"))
    assert len(modules) > 5  # the whole package was read, routes/ included
    offending = {
        f"{path.relative_to(HTTP_DIR)}: {name}"
        for path in modules
        for name in imported_modules(path.read_text(encoding="utf-8"), _module_name(path), path.name == "__init__.py")
        if _is_forbidden(name)
    }
    assert not offending, f"the HTTP API imports the browser page's modules: {sorted(offending)}"


def test_the_http_layering_check_sees_every_form_of_import():
    """The check itself can fail: each way of naming the page's modules from http/ is caught, neighbours are not."""
    streaming, routes = "chatbot.interfaces.http.streaming", "chatbot.interfaces.http.routes"
    caught = [
        ("from chatbot.interfaces.web.texts import queue_text", streaming, False),
        ("import chatbot.interfaces.web.turn as turn", streaming, False),
        ("from chatbot.interfaces import web", streaming, False),
        ("from ..web.texts import TEXTS", streaming, False),
        ("from .. import web", streaming, False),
        ("from ...web import render", routes, True),
        ("def f():\n    from chatbot.interfaces.web import texts\n", streaming, False),  # inside a function
    ]
    for source, module, is_package in caught:
        assert any(_is_forbidden(n) for n in imported_modules(source, module, is_package)), source
    fine = ["from chatbot.interfaces.waiting import queue_text", "from ..records import LocalRecords",
            "import chatbot.interfaces.webhooks"]
    for source in fine:
        assert not any(_is_forbidden(n) for n in imported_modules(source, streaming)), source

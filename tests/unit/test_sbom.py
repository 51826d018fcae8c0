"""The CycloneDX SBOM setup writes: the same command, run on the test's own venv, names what actually runs.

Slow (about half a minute on 2 cores: it reads every installed distribution's metadata and validates the document).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from chatbot.config import PROJECT_ROOT


def _setup_sbom_command(output: Path) -> list[str]:
    """setup.sh's SBOM line with this interpreter and a temp output, so the test runs what setup runs."""
    line = next(
        line.strip()
        for line in (PROJECT_ROOT / "setup.sh").read_text(encoding="utf-8").splitlines()
        if line.strip().startswith(".venv/bin/cyclonedx-py ")
    )
    args = line.split()
    args[0] = str(Path(sys.executable).with_name("cyclonedx-py"))
    args[args.index("-o") + 1] = str(output)
    assert args[-1] == ".venv/bin/python"
    args[-1] = sys.executable
    return args


@pytest.mark.slow
def test_sbom_of_the_venv_lists_the_engine_the_store_and_every_model_part(tmp_path):
    output = tmp_path / "sbom.cdx.json"
    subprocess.run(_setup_sbom_command(output), cwd=PROJECT_ROOT, check=True, timeout=600)
    document = json.loads(output.read_text(encoding="utf-8"))
    assert document["bomFormat"] == "CycloneDX"
    assert document["metadata"]["component"]["name"] == "private-health-chatbot"
    found = {canonicalize_name(c["name"]): c["version"] for c in document["components"]}
    wanted = [r for r in _pins("requirements.txt") if r.name in ("llama-cpp-python", "chromadb")]
    wanted += _pins("requirements-models.txt")
    assert len(wanted) == 31  # the engine, the store, 22 + 6 model parts and the test fixture
    missing = [str(r) for r in wanted if found.get(canonicalize_name(r.name), "0") not in r.specifier]
    assert not missing, f"the SBOM lacks {missing}"


def _pins(name: str) -> list[Requirement]:
    lines = (PROJECT_ROOT / name).read_text(encoding="utf-8").splitlines()
    return [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]

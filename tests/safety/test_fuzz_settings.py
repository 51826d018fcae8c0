"""Property-based fuzzing (hypothesis, seeded and bounded) of the settings a deployment controls: a YAML file of
any shape (random nesting, wrong types, unknown keys, huge numbers, non-UTF-8 bytes, deep nesting, alias bombs)
and ``CHATBOT__...`` environment overrides.

Why: settings are read before anything else, so a crash here is a traceback as the first thing a user sees. Each
input must give valid settings or one ``SettingsError`` whose message names the problem and prints; never another
exception, never a hang, never memory blown up by YAML aliases.

The default run uses a few hundred cases per surface; ``FUZZ_LARGE=1`` or ``-m slow`` runs 10,000 of each.
``CHATBOT_CONFIG`` is not fuzzed with random paths (it could name any file on the machine, /dev/stdin included);
the file surface covers what such a file holds.
"""

from __future__ import annotations

import os
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from chatbot.config import Settings, SettingsError, load_settings
from tests.safety.fuzzing import within, yaml_bomb

DEFAULT = settings(max_examples=300, deadline=None, derandomize=True,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
LARGE = settings(DEFAULT, max_examples=10_000)
N = LARGE if os.environ.get("FUZZ_LARGE") else DEFAULT
HANG_S = 20


def _names(model: type, prefix: str = "") -> list[str]:
    """Every dotted settings name, so generated files hit real keys as often as unknown ones."""
    out = []
    for name, field in model.model_fields.items():
        kind = field.annotation
        out.append(prefix + name)
        if isinstance(kind, type) and issubclass(kind, BaseModel):  # a nested section
            out += _names(kind, f"{prefix}{name}.")
    return out


NAMES = _names(Settings)
SECTIONS = sorted({n.split(".")[0] for n in NAMES if "." in n})
JUNK = ["\x00", "\ufeff", "\ud800", "\u202e", "&a", "*a", "!!python/object:os.system", "{", "[", "'", '"', ":", "- ",
        "\t", "\r", "%YAML 1.1", "---", "...", "? ", "<<: *a"]
texts = st.lists(st.one_of(st.text(max_size=20), st.sampled_from(JUNK)), max_size=5).map("".join)
numbers = st.one_of(st.integers(), st.floats(),
                    st.sampled_from([10**400, -(10**30), float("inf"), float("nan"), 1e308, 0, -1, 512, 65536]))
digits = st.integers(1, 6000).map(lambda n: "9" * n)  # as text: Python refuses int() past 4,300 digits
scalars = st.none() | st.booleans() | numbers | texts | st.sampled_from(["auto", "fake", "cpu", "60/minute", "~"])
keys = st.one_of(st.sampled_from(NAMES).map(lambda n: n.split(".")[-1]), st.sampled_from(SECTIONS), texts,
                 st.sampled_from(["default", "profiles", "cpu", "gpu"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=4),
                      max_leaves=12)


def _nest(name: str, value: object) -> dict:
    """``llm.n_ctx`` and a value -> ``{"llm": {"n_ctx": value}}``: a real key with a fuzzed value."""
    for part in reversed(name.split(".")):
        value = {part: value}
    return value  # type: ignore[return-value]


def _dump(data: object) -> str:
    """YAML text of ``data``; Python's repr (often YAML too) where the emitter refuses, e.g. a lone surrogate."""
    try:
        return yaml.safe_dump(data, allow_unicode=True)
    except (yaml.YAMLError, ValueError):
        return repr(data)


def _bomb(depth: int, width: int, under: str) -> str:
    """The alias bomb, its last anchor used as the value of the settings key ``under``."""
    return yaml_bomb(depth, width) + "\n" + yaml.safe_dump(_nest(under, "BOMB")).replace("BOMB", f"*l{depth - 1}")


@st.composite
def mutated(draw: st.DrawFn, text: str) -> bytes:
    """Valid YAML text broken as files break: truncated, junk spliced in, bytes that are not UTF-8."""
    data = bytearray(text.encode("utf-8", "replace"))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(data)))
        if draw(st.booleans()):
            data[at:at] = draw(st.one_of(st.binary(max_size=8), texts.map(lambda t: t.encode("utf-8", "replace"))))
        else:
            del data[at:]
    return bytes(data)


documents = st.one_of(
    st.tuples(st.sampled_from(NAMES), values).map(lambda kv: _dump(_nest(*kv))),  # a real key, a wrong value
    st.tuples(st.sampled_from(NAMES), digits).map(lambda kv: _dump(_nest(kv[0], "N")).replace("N", kv[1])),
    st.dictionaries(keys, values, max_size=5).map(_dump),  # random nesting, unknown keys
    values.map(_dump),  # not a mapping at all
    st.builds(_bomb, st.sampled_from([2, 5, 9]), st.just(9), st.sampled_from(NAMES + ["default", "profiles.cpu"])),
    st.integers(1, 1000).map(lambda n: "llm: " + "[" * n + "]" * n),  # deep nesting
    st.integers(1, 1000).map(lambda n: "llm: " + "{a: " * n + "1" + "}" * n),
).flatmap(lambda text: st.one_of(st.just(text.encode("utf-8", "replace")), mutated(text)))


def _one_clear_answer(load: Callable[[], Settings]) -> None:
    """Settings, or a SettingsError with a message that names something and prints; nothing else, no hang."""
    with within(HANG_S):
        try:
            result = load()
        except SettingsError as exc:
            message = str(exc)
            assert message.strip() and "Traceback" not in message
            message.encode("utf-8")  # printable as is: no lone surrogate from an environment variable name
            return
    assert isinstance(result, Settings)


def _load_file(tmp: Path, data: bytes) -> None:
    path = tmp / "settings.yaml"
    path.write_bytes(data)
    _one_clear_answer(lambda: load_settings(config_file=path, environ={}))


@N
@seed(20261213)
@given(documents)
def test_any_settings_file_gives_settings_or_one_clear_error(tmp_path, data):
    _load_file(tmp_path, data)


@pytest.mark.slow
@LARGE
@seed(20261214)
@given(documents)
def test_ten_thousand_settings_files_give_settings_or_one_clear_error(tmp_path, data):
    _load_file(tmp_path, data)


env_names = st.lists(st.one_of(st.sampled_from(NAMES).map(lambda n: n.replace(".", "__")), texts), min_size=0,
                     max_size=3).map(lambda parts: "CHATBOT__" + "__".join(parts))
env_names = env_names.map(lambda n: n.upper()) | env_names
env_values = st.one_of(texts, numbers.map(str), digits, values.map(_dump), st.integers(1, 1000).map(lambda n: "[" * n))
undecodable = st.binary(max_size=6).map(lambda raw: "CHATBOT__" + os.fsdecode(raw))
environs = st.dictionaries(env_names | st.just("CHATBOT_PROFILE") | undecodable, env_values, max_size=4)


@N
@seed(20261215)
@given(environs)
def test_any_environment_gives_settings_or_one_clear_error(env):
    _one_clear_answer(lambda: load_settings(environ=env))


@pytest.mark.slow
@LARGE
@seed(20261216)
@given(environs)
def test_ten_thousand_environments_give_settings_or_one_clear_error(env):
    _one_clear_answer(lambda: load_settings(environ=env))


# ---- named cases -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("under", ["llm.model", "ingest.paths", "llm", "x", "default", "profiles", "profiles.cpu"])
def test_a_billion_laughs_settings_file_fails_fast_in_little_memory(tmp_path, under):
    """safe_load shares one object per alias and no settings field holds nested data, so 9 ** 9 never expands."""
    path = tmp_path / "bomb.yaml"
    path.write_text(_bomb(9, 9, under))
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with within(10), pytest.raises(SettingsError):
            load_settings(config_file=path, environ={})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 5 and peak < 50 * 2**20


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("default: [1]", "'default' must be a mapping of settings, not list"),
        ("profiles: {cpu: 5}", "'profiles.cpu' must be a mapping of settings, not int"),
        ("llm: {n_ctx: " + "9" * 5000 + "}", "not valid YAML: Exceeds the limit"),
        ("llm: " + "[" * 5000 + "]" * 5000, "nested too deeply"),
    ],
)
def test_files_that_used_to_raise_other_exceptions_now_say_what_is_wrong(tmp_path, text, needle):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(SettingsError, match=needle):
        load_settings(config_file=path, environ={})


def test_an_over_large_or_unreadable_settings_file_is_refused_without_reading_it(tmp_path):
    with pytest.raises(SettingsError, match="is over 1 MiB"):
        load_settings(config_file="/dev/zero", environ={})
    with pytest.raises(SettingsError, match="cannot be read"):
        load_settings(config_file=tmp_path, environ={})


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"CHATBOT__LLM": "x", "CHATBOT__LLM__MODEL": "y"}, "CHATBOT__LLM__MODEL sets a key inside 'llm'"),
        ({"CHATBOT__LLM__MODEL": "y", "CHATBOT__LLM": "x"}, "CHATBOT__LLM sets 'llm' to a single value"),
        ({"CHATBOT__\udcff": "1"}, r"CHATBOT__\\udcff: the name is not valid UTF-8"),
    ],
)
def test_conflicting_or_undecodable_environment_variables_are_named(env, needle):
    with pytest.raises(SettingsError, match=needle):
        load_settings(environ=env)


def test_an_environment_value_that_is_not_a_yaml_scalar_stays_text():
    """An integer of 5,000 digits or 5,000 open brackets used to raise ValueError / RecursionError."""
    for value in ("9" * 5000, "[" * 5000):
        assert load_settings(environ={"CHATBOT__LLM__MODEL": value}).llm.model == value

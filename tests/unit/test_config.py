from pathlib import Path

import pytest

from chatbot.config import PROJECT_ROOT, SettingsError, load_settings


def test_default_profile_is_cpu_with_auto_gpu_layers():
    s = load_settings(environ={})
    assert s.profile == "cpu"
    assert s.llm.n_gpu_layers == "auto"
    assert s.llm.model == "default"
    assert s.server.host == "127.0.0.1"


def test_gpu_profile_offloads_every_layer():
    s = load_settings("gpu", environ={})
    assert s.llm.n_gpu_layers == -1
    assert s.llm.n_ctx == 8192


def test_environment_overrides_nested_values_with_types():
    env = {
        "CHATBOT__LLM__MAX_TOKENS": "99",
        "CHATBOT__RETRIEVAL__TRANSLATE_QUERIES": "true",
        "CHATBOT__SAFETY__LOCALE": "GB",
    }
    s = load_settings(environ=env)
    assert s.llm.max_tokens == 99
    assert s.retrieval.translate_queries is True
    assert s.safety.locale == "GB"


def test_profile_from_environment():
    assert load_settings(environ={"CHATBOT_PROFILE": "fast"}).llm.model == "fast"


def test_user_file_with_profiles(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("default:\n  llm: {max_tokens: 111}\nprofiles:\n  gpu:\n    llm: {max_tokens: 222}\n")
    assert load_settings("cpu", f, environ={}).llm.max_tokens == 111
    assert load_settings("gpu", f, environ={}).llm.max_tokens == 222


def test_relative_paths_anchor_at_project_root():
    s = load_settings(environ={})
    assert s.prompts_dir == PROJECT_ROOT / "prompts"
    assert s.path(Path("knowledge/red_flags.yaml")) == PROJECT_ROOT / "knowledge" / "red_flags.yaml"


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"profile": "turbo"}, "unknown profile"),
        ({"overrides": {"llm": {"n_ctx": 10}}}, "llm.n_ctx"),
        ({"overrides": {"llm": {"no_such_key": 1}}}, "no_such_key"),
        ({"config_file": "/nonexistent/settings.yaml"}, "not found"),
        ({"overrides": {"vector_store": {"backend": "faiss"}}}, "vector_store.backend"),
    ],
)
def test_bad_settings_give_clear_errors(kwargs, needle):
    with pytest.raises(SettingsError, match=needle):
        load_settings(environ={}, **kwargs)


def test_malformed_yaml_file_is_reported(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("llm: [unclosed\n")
    with pytest.raises(SettingsError, match="not valid YAML"):
        load_settings(config_file=f, environ={})


def test_an_old_relevance_floor_key_says_what_replaced_it():
    with pytest.raises(SettingsError, match=r"retrieval\.min_similarity.*replaced by retrieval\.min_evidence"):
        load_settings("cpu", overrides={"retrieval": {"min_similarity": 0.3}}, environ={})


def test_the_store_factory_reads_the_vector_store_backend(tmp_path):
    from chatbot.embedding import FakeEmbedder
    from chatbot.vectorstore import ChunkStore, make_store

    settings = load_settings(overrides={"data_dir": str(tmp_path), "vector_store": {"collection": "mine"}}, environ={})
    store = make_store(settings, FakeEmbedder())
    assert isinstance(store, ChunkStore) and store.count() == 0 and (tmp_path / "chroma").is_dir()
    # a backend that slipped past validation (code building settings by hand) is refused by name, not ignored
    odd = settings.model_copy(update={"vector_store": settings.vector_store.model_copy(update={"backend": "faiss"})})
    with pytest.raises(SettingsError, match="vector_store.backend 'faiss' is not supported; choose one of: chroma"):
        make_store(odd, FakeEmbedder())

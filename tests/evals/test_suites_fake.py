"""Every suite through the CLI with the fake LLM and fake embedder: the suites' own logic in seconds.

A user settings file switches the backends to fakes and the knowledge base to a five-topic copy, exactly the
way a deployment would choose its backends, so no code path is patched.
"""

from __future__ import annotations

import json

import yaml

from evals.cli import main
from evals.suites.grounding import RecordingRetriever
from evals.suites.latency import PeakRSS
from evals.suites.safety import expected_level, messages_of


def _config(tmp_path, corpus, **extra):
    path = tmp_path / "fake.yaml"
    path.write_text(yaml.safe_dump({
        "data_dir": str(tmp_path / "data"),
        "llm": {"backend": "fake"},
        "embedding": {"backend": "fake"},
        "ingest": {"paths": [str(corpus)]},
        **extra,
    }))
    return path


def test_all_model_suites_run_with_fakes(tmp_path, mini_corpus):
    out = tmp_path / "out"
    args = ["run", "--suite", "all", "--config", str(_config(tmp_path, mini_corpus)), "--limit", "3",
            "--dataset", "own", "--dataset", "kb", "--dataset", "refusals", "--dataset", "grounding",
            "--dataset", "latency", "--out", str(out), "--no-progress"]
    assert main(args) == 0
    report = json.loads((out / "report.json").read_text())
    metrics = report["metrics"]
    assert metrics["triage.own.model.n"] == 3  # the fake model answered every case
    assert metrics["triage.own.model.failed_rate"] == 0
    assert "retrieval.kb-en.hybrid.recall@3" in metrics
    assert 0 <= metrics["retrieval.kb.hybrid.oos_rejected_rate"] <= 1 and metrics["retrieval.kb.hybrid.oos_n"] == 3
    assert 0 <= metrics["retrieval.kb.hybrid.in_kb_no_hits_rate"] <= 1
    assert "safety.refusals.accuracy" in metrics
    assert metrics["grounding.in_kb.n"] + metrics["grounding.out_of_kb.n"] == 3
    assert metrics["latency.default.answer_tokens.mean"] > 0
    assert set(report["suites"]) == {"safety", "retrieval", "triage", "grounding", "latency"}
    assert (out / "cases" / "triage-own.jsonl").read_text().count("\n") == 3
    for chart in ("triage-confusion-own.png", "retrieval-recall-kb-en.png", "grounding.png", "latency.png"):
        assert (out / chart).is_file()


def test_resume_reuses_finished_cases(tmp_path, mini_corpus):
    out = tmp_path / "out"
    args = ["run", "--suite", "triage", "--dataset", "own", "--limit", "2", "--rules-only", "--config",
            str(_config(tmp_path, mini_corpus)), "--out", str(out), "--no-progress"]
    assert main(args) == 0
    saved = out / "cases" / "triage-own.jsonl"
    rows = [json.loads(line) for line in saved.read_text().splitlines()]
    rows[0]["seconds"] = 999.0  # a marker: a resumed run must take the saved row, not run the case again
    rows[1]["combined"] = "self_care"  # a stale decision (rules alone never give self_care): re-decided
    saved.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main([*args, "--resume"]) == 0
    report = json.loads((out / "report.json").read_text())
    first, second = report["suites"]["triage"]["details"]["own"][:2]
    assert first["seconds"] == 999.0
    assert second["combined"] == second["rules"] != "self_care"
    assert any("re-decided" in note for note in report["suites"]["triage"]["notes"])


def test_resume_redecides_the_model_level_from_recorded_probabilities(tmp_path, mini_corpus):
    out = tmp_path / "out"
    args = ["run", "--suite", "triage", "--dataset", "own", "--limit", "2", "--config",
            str(_config(tmp_path, mini_corpus)), "--out", str(out), "--no-progress"]
    assert main(args) == 0
    saved = out / "cases" / "triage-own.jsonl"
    rows = [json.loads(line) for line in saved.read_text().splitlines()]
    assert all(r["model"] == "routine" and r["model_probabilities"] == {} for r in rows)  # the fake's greedy level
    rows[0]["model_probabilities"] = {"emergency": 0.9, "urgent": 0.05, "routine": 0.03, "self_care": 0.02}
    saved.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main([*args, "--resume"]) == 0
    report = json.loads((out / "report.json").read_text())
    first, second = report["suites"]["triage"]["details"]["own"][:2]
    assert first["model"] == "emergency" and first["combined"] == "emergency"
    assert second["model"] == "routine"  # no probabilities recorded: left as it was
    assert any("re-decided" in note for note in report["suites"]["triage"]["notes"])
    assert saved.read_text().count("\n") == 2  # rewritten in place, one line per case


def test_resume_redecides_recorded_sign_readings_only_when_the_readings_are_on(tmp_path, mini_corpus):
    out = tmp_path / "out"
    args = ["run", "--suite", "triage", "--dataset", "own", "--limit", "2", "--out", str(out), "--no-progress"]
    assert main([*args, "--config", str(_config(tmp_path, mini_corpus))]) == 0
    saved = out / "cases" / "triage-own.jsonl"
    rows = [json.loads(line) for line in saved.read_text().splitlines()]
    low = min(rows, key=lambda r: ["self_care", "routine", "urgent", "emergency"].index(r["combined"]))
    assert low["combined"] != "emergency"
    low["probe_probabilities"] = {"conscious": 0.95, "breathing": 0.1}
    saved.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main([*args, "--config", str(_config(tmp_path, mini_corpus)), "--resume"]) == 0  # readings off
    cases = {c["id"]: c for c in json.loads((out / "report.json").read_text())["suites"]["triage"]["details"]["own"]}
    assert cases[low["id"]]["combined"] == low["combined"]
    on = _config(tmp_path, mini_corpus, triage={"probes": {"enabled": True}})
    assert main([*args, "--config", str(on), "--resume"]) == 0
    cases = {c["id"]: c for c in json.loads((out / "report.json").read_text())["suites"]["triage"]["details"]["own"]}
    assert cases[low["id"]]["combined"] == "emergency" and cases[low["id"]]["probe_level"] == "emergency"
    assert "probe.conscious" in cases[low["id"]]["care_floors"]


def test_unknown_dataset_is_a_usage_error(capsys):
    assert main(["run", "--suite", "triage", "--dataset", "nonsense"]) == 2
    assert "belongs to none" in capsys.readouterr().err


def test_safety_case_shapes():
    assert messages_of({"messages": ["a", " ", "b"]}) == ["a", "b"]
    assert messages_of({"text": "hello"}) == ["hello"]
    assert expected_level({"expected_level": "urgent"}, None) == "urgent"
    assert expected_level({"expected_level": "soon"}, "emergency") == "emergency"


def test_recording_retriever_and_peak_rss():
    class Inner:
        top_k = 3

        def search(self, query, k=None):
            return f"result for {query}"

    recorder = RecordingRetriever(Inner())
    assert recorder.search("q") == "result for q" and recorder.last == "result for q"
    assert recorder.top_k == 3
    with PeakRSS() as rss:
        _ = bytearray(8 * 2**20)
    assert rss.peak_mb > 8

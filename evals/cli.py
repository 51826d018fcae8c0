"""``python -m evals run|list|compare``: the one entry point for every evaluation suite.

Exit status: 0 when the run finished and every threshold check passed, 1 when a check failed, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import logging
import os
import re
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import chatbot  # noqa: E402,F401  (sets the offline/privacy environment before anything heavy is imported)
from chatbot.config import PROJECT_ROOT  # noqa: E402
from evals import compare  # noqa: E402
from evals.common import RunContext, RunOptions, SuiteResult, model_record  # noqa: E402
from evals.datasets import available_datasets  # noqa: E402
from evals.report import build_report, knowledge_versions, prompt_versions, write_report  # noqa: E402

log = logging.getLogger("evals")
REPORTS = PROJECT_ROOT / "evals" / "reports"
DEFAULT_THRESHOLDS = PROJECT_ROOT / "evals" / "thresholds.yaml"


def build_parser() -> argparse.ArgumentParser:
    from evals.suites import SUITES

    parser = argparse.ArgumentParser(prog="python -m evals", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one suite or all of them and write a report")
    run.add_argument("--suite", default="all", choices=[*SUITES, "all"])
    run.add_argument("--dataset", action="append", default=[], help="dataset name or a vignette .jsonl (repeatable)")
    run.add_argument("--limit", type=int, help="seeded sample of at most N cases per dataset")
    run.add_argument("--seed", type=int, default=0, help="seed for sampling (default 0)")
    run.add_argument("--model", help="catalogue model (default, fast, smollm2); latency takes a comma list")
    run.add_argument("--profile", help="settings profile (cpu, gpu, fast, test...)")
    run.add_argument("--config", type=Path, help="user settings YAML")
    run.add_argument("--data-dir", type=Path, help="data folder for models and eval caches (default: settings)")
    run.add_argument("--out", type=Path, help="report folder (default evals/reports/<timestamp>)")
    run.add_argument("--compare", type=Path, help="older report.json: print deltas, enforce max_drop/max_rise")
    run.add_argument("--thresholds", type=Path, help=f"thresholds YAML (default with --compare: {DEFAULT_THRESHOLDS})")
    run.add_argument("--rules-only", action="store_true", help="triage: red-flag rules only, no model (fast)")
    run.add_argument("--with-model", action="store_true", help="safety: also run full turns on refusal prompts")
    run.add_argument("--medquad-sample", type=int, default=2000, help="MedQuAD passages to index (default 2000)")
    run.add_argument("--resume", action="store_true", help="reuse finished cases saved in --out (slow suites)")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.add_argument("-v", "--verbose", action="store_true", help="engine log lines")
    sub.add_parser("list", help="list suites and datasets")
    cmp = sub.add_parser("compare", help="compare two existing reports")
    cmp.add_argument("new", type=Path)
    cmp.add_argument("old", type=Path)
    cmp.add_argument("--thresholds", type=Path, default=DEFAULT_THRESHOLDS)
    cal = sub.add_parser("calibrate", help="fit triage level thresholds to a triage run's level probabilities")
    cal.add_argument("cases", type=Path, help="cases file of a triage run, e.g. REPORT/cases/triage-own.jsonl")
    cal.add_argument("--dataset", default="own", help="the dataset that run used (gold levels; default own)")
    cal.add_argument(
        "--under-weight", type=float, default=0.0, help="extra cost of an under-triaged case (default 0: accuracy)"
    )
    cal.add_argument("--target", choices=["model", "combined"], default="model", help="level to fit (default model)")
    cal.add_argument("--apply", metavar="E,U,S", help="do not fit: report these emergency,urgent,self_care cut-offs")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "list":
        return _list()
    if args.command == "compare":
        return _compare_files(args.new, args.old, args.thresholds)
    if args.command == "calibrate":
        return _calibrate(args)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    if not args.verbose:
        _quiet()
    try:
        options = _options(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return run(options)


def _calibrate(args: argparse.Namespace) -> int:
    from chatbot.config.settings import LevelThresholds
    from evals import calibrate

    thresholds = None
    if args.apply:
        try:
            e, u, s = (float(v) for v in args.apply.split(","))
            thresholds = LevelThresholds(emergency=e, urgent=u, self_care=s)
        except ValueError as exc:
            print(f"error: --apply wants three numbers between 0 and 1, like 0.1,0.5,0.6 ({exc})", file=sys.stderr)
            return 2
    return calibrate.main(args.cases, args.dataset, args.under_weight, thresholds, args.target)


def _quiet() -> None:
    """bm25s sets its own logger to DEBUG on import; import it first, then turn the chatter down."""
    import bm25s  # noqa: F401

    for name in ("bm25s", "chromadb", "httpx", "sentence_transformers", "transformers"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _options(args: argparse.Namespace) -> RunOptions:
    from evals.suites import SUITES

    suites = list(SUITES) if args.suite == "all" else [args.suite]
    if args.limit is not None and args.limit < 1:
        raise ValueError("--limit must be at least 1")
    for name in args.dataset:
        if not any(_accepts(SUITES[s], name) for s in suites):
            raise ValueError(f"dataset {name!r} belongs to none of: {', '.join(suites)} (see `python -m evals list`)")
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return RunOptions(
        suites=suites,
        out=(args.out or REPORTS / stamp).resolve(),
        datasets=args.dataset,
        limit=args.limit,
        seed=args.seed,
        models=[m.strip() for m in (args.model or "").split(",") if m.strip()],
        profile=args.profile,
        config=args.config,
        data_dir=args.data_dir,
        rules_only=args.rules_only,
        with_model=args.with_model,
        medquad_sample=args.medquad_sample,
        progress=not args.no_progress,
        compare=args.compare,
        thresholds=args.thresholds or (DEFAULT_THRESHOLDS if args.compare else None),
        resume=args.resume,
    )


def _accepts(module, name: str) -> bool:
    return name in module.DATASETS or (module.NAME == "triage" and name.endswith(".jsonl"))


def run(options: RunOptions) -> int:
    """Run the chosen suites, write the report, apply thresholds; returns the exit status.

    Settings are loaded first so a bad configuration fails before an hour of model work; a suite that raises is
    recorded in the report (and fails the run) without losing the suites that finished.
    """
    from evals.suites import SUITES

    started = time.perf_counter()
    ctx = RunContext(options)
    settings = ctx.settings()
    prompts = prompt_versions(settings)  # read now: a template bumped mid-run must not relabel what ran
    knowledge = knowledge_versions(settings)
    results: list[SuiteResult] = []
    errors = 0
    for name in options.suites:
        module = SUITES[name]
        chosen = [d for d in options.datasets if _accepts(module, d)]
        if options.datasets and not chosen:  # `--suite all --dataset own`: only the suites that have it
            continue
        ctx.options = dataclasses.replace(options, datasets=chosen)
        began = time.perf_counter()
        try:
            result = module.run(ctx)
        except Exception as exc:  # one broken suite must not cost the others their results
            log.exception("suite %s failed", name)
            result = SuiteResult(name, notes=[f"ERROR: the suite stopped: {type(exc).__name__}: {exc}"])
            errors += 1
        result.seconds = time.perf_counter() - began
        results.append(result)
        print(f"[evals] {name}: done in {result.seconds:.0f} s", file=sys.stderr)
    ctx.options = options
    loaded = next(iter(ctx._llms.values()), None)
    model = {**model_record(settings, loaded), "loaded": loaded is not None}
    report = build_report(options, settings, model, results, time.perf_counter() - started, prompts, knowledge)
    checks_md, status = _checks(options, report["metrics"], [r.name for r in results])
    path = write_report(options.out, report, results, checks_md)
    _print_summary(report["metrics"], path)
    if checks_md:
        print(checks_md)
    return 1 if errors else status


def _checks(options: RunOptions, metrics: dict[str, float], suites: list[str]) -> tuple[str, int]:
    if not options.thresholds:
        return "", 0
    rules = compare.load_thresholds(options.thresholds)
    old = compare.load_metrics(options.compare) if options.compare else None
    checks = compare.check(metrics, rules, old, _scope(suites, options.datasets))
    rows = compare.deltas(metrics, old) if old is not None else None
    text = f"Thresholds: {_rel(options.thresholds)}" + (f"; compared with {options.compare}" if old else "")
    return text + "\n\n" + compare.render(checks, rows), 0 if all(c.passed for c in checks) else 1


def _scope(suites: list[str], datasets: list[str]) -> compare.Scope:
    """The suites that ran and the datasets they left out (not chosen with --dataset, or not among the defaults)."""
    from evals.suites import SUITES

    left_out = set()
    for name in suites:
        module = SUITES.get(name)
        if module is None:
            continue
        defaults = getattr(module, "DEFAULT_DATASETS", module.DATASETS)
        chosen = [d for d in datasets if _accepts(module, d)] or list(defaults)
        left_out |= {f"{name}.{d}" for d in module.DATASETS if d not in chosen}
    return compare.Scope(set(suites), left_out)


def _report_scope(path: Path) -> compare.Scope:
    """A saved report's scope: its suites, and the --dataset choice it recorded (older reports: from its command)."""
    report = json.loads(Path(path).read_text(encoding="utf-8"))
    suites = list(report.get("suites") or {}) or sorted({m.split(".", 1)[0] for m in report.get("metrics", {})})
    datasets = report.get("datasets")
    if datasets is None:
        datasets = re.findall(r"--dataset[= ](\S+)", report.get("command", ""))
    return _scope(suites, list(datasets))


def _compare_files(new: Path, old: Path, thresholds: Path) -> int:
    new_metrics, old_metrics = compare.load_metrics(new), compare.load_metrics(old)
    checks = compare.check(new_metrics, compare.load_thresholds(thresholds), old_metrics, _report_scope(new))
    print(compare.render(checks, compare.deltas(new_metrics, old_metrics)))
    return 0 if all(c.passed for c in checks) else 1


def _print_summary(metrics: dict[str, float], path: Path) -> None:
    headline = ("accuracy", "emergency_recall", "under_triage_rate", "recall@3", "mrr", "pass_rate", "p50")
    shown = [(k, v) for k, v in metrics.items() if k.rsplit(".", 1)[-1] in headline and ".raw." not in k]
    for key, value in shown[:60]:
        print(f"  {key:<60} {value:8.3f}")
    print(f"report: {path} (and report.md)")


def _list() -> int:
    from evals.suites import SUITES

    for name, module in SUITES.items():
        print(f"{name}: {(module.__doc__ or '').strip().splitlines()[0]}")
    print()
    for suite, names in available_datasets().items():
        print(f"{suite} datasets: {', '.join(names)}")
    return 0


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)

"""Terminal interface: ``python -m chatbot`` chat, and one-shot ``ask``/``triage``/``screen``/``ingest`` commands."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from chatbot.answer import Answer, Triage, TriageLevel
from chatbot.config import Settings, SettingsError, load_settings
from chatbot.index_health import StoreError
from chatbot.privacy import redact_logs

console = Console(highlight=False)
err = Console(stderr=True, highlight=False)

LEVEL_STYLE = {
    TriageLevel.emergency: ("bold white on red", "EMERGENCY: call your emergency number now"),
    TriageLevel.urgent: ("bold black on yellow", "URGENT: get seen today"),
    TriageLevel.routine: ("bold white on blue", "ROUTINE: book a doctor's appointment"),
    TriageLevel.self_care: ("bold black on green", "SELF-CARE: look after yourself at home"),
}
HELP = "Commands: /help  /reset (new conversation)  /sources (show sources again)  /quit (or Ctrl-D)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m chatbot", description=__doc__)
    parser.add_argument("--profile", help="settings profile: cpu (default), gpu, server, fast")
    parser.add_argument("--config", help="a YAML settings file merged over the defaults")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("chat", help="interactive chat (the default)")
    ask = sub.add_parser("ask", help="answer one question and exit")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print the answer object as JSON")
    for name, text in (("triage", "triage one message"), ("screen", "red-flag screen only (no model)")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("message")
        cmd.add_argument("--json", action="store_true")
    ingest = sub.add_parser("ingest", help="index files or folders into the knowledge store")
    ingest.add_argument("paths", nargs="*", type=Path, help="files or folders (default: settings.ingest.paths)")
    ingest.add_argument("--prune", action="store_true", help="remove chunks of files deleted from these folders")
    ingest.add_argument("--rebuild", action="store_true",
                        help="move the current index aside (kept, not deleted) and build a fresh one")
    knowledge = sub.add_parser("knowledge", help="knowledge-base tools")
    knowledge.add_argument("action", choices=["check", "coverage"],
                           help="check: validate topics, rules and warning-sign coverage; coverage: list the misses")
    serve = sub.add_parser("serve", help="browser chat and HTTP API")
    serve.add_argument("--host", help="bind address (default 127.0.0.1; others need server.api_key)")
    serve.add_argument("--port", type=int)
    sub.add_parser("models", help="list bundled models and verify the configured one")
    llm_server = sub.add_parser("llm-server", help="serve the model over llama.cpp's OpenAI-compatible server")
    llm_server.add_argument("--port", type=int, help="default: the port of llm.base_url, else 8080")
    llm_server.add_argument("--parallel", type=int, default=4, help="requests served at once (slots; default 4)")
    llm_server.add_argument("--host", help="bind address (default 127.0.0.1; others need llm.api_key)")
    privacy = sub.add_parser("privacy", help="show or delete what an opt-in installation stored about patients")
    privacy.add_argument("action", choices=["show", "delete"])
    privacy.add_argument("--all", action="store_true", help="delete every transcript and all feedback")
    privacy.add_argument("--session", help="delete one session's transcript and feedback (its session id)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:  # some libraries (bm25s) force DEBUG on their own loggers
        handler.setLevel(level)
    redact_logs()  # names, dates, phone and ID numbers, e-mail and addresses never reach a log line
    _quiet_libraries()
    if hasattr(sys.stdin, "reconfigure"):
        sys.stdin.reconfigure(errors="replace")
    try:
        settings = load_settings(args.profile, args.config)
        return _dispatch(args, settings)
    except SettingsError as exc:
        err.print(f"[red]Settings problem:[/red] {escape(str(exc))}")
        return 2
    except StoreError as exc:  # a broken, incompatible or unreachable index: what to do, in one paragraph
        err.print(f"[red]Problem:[/red] {escape(str(exc))}")
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("\nStopped.")
        return 130
    except Exception as exc:  # the last guard: a patient never sees a stack trace
        from chatbot.generation import GenerationError
        from chatbot.models import ModelError

        if isinstance(exc, ModelError | GenerationError | FileNotFoundError):
            err.print(f"[red]Problem:[/red] {escape(str(exc))}")
            return 2
        logging.getLogger(__name__).exception("unexpected error")
        err.print(
            f"[red]Unexpected error:[/red] {escape(type(exc).__name__)}: {escape(str(exc))}. Run with -v for details."
        )
        return 1


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    command = args.command or "chat"
    if command == "knowledge":
        from chatbot.knowledge.check import run_check

        return run_check(settings, list_missed=args.action == "coverage")
    if command == "models":
        return _models(settings)
    if command == "llm-server":
        from chatbot.generation.llm_server import serve_llm

        return serve_llm(settings, host=args.host, port=args.port, parallel=args.parallel, verbose=args.verbose)
    if command == "serve":
        from chatbot.interfaces.server import serve

        return serve(settings, host=args.host, port=args.port)
    if command == "ingest":
        return _ingest(settings, args.paths, args.prune, args.rebuild)
    if command == "privacy":
        return _privacy(settings, args.action, args.all, args.session)
    engine = _engine(settings)
    if command == "screen":
        return _screen(engine, args.message, args.json)
    if command == "ask":
        return _ask(engine, args.question, args.json)
    if command == "triage":
        return _triage(engine, args.message, args.json)
    return chat(engine)


def _privacy(settings: Settings, action: str, everything: bool, session: str | None) -> int:
    from chatbot import privacy

    if action == "show":
        console.print(f"{settings.data_dir}: {privacy.stored(settings).summary()}")
        return 0
    if everything == bool(session):
        err.print("[red]Say what to delete:[/red] --all, or --session ID (one of them).")
        return 2
    removed = privacy.delete_all(settings) if everything else privacy.delete_session(settings, session or "")
    console.print(f"Deleted {removed.summary()}.")
    return 0


def _quiet_libraries() -> None:
    for name in ("httpx", "chromadb", "sentence_transformers", "transformers", "jieba", "bm25s"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:
        pass


def _engine(settings: Settings):
    from chatbot.conversation import Engine

    return Engine(settings)


def _startup(engine, quiet: bool) -> None:
    """Load the index (building it on first run) and the model; say which model, device and index are in use."""
    out = err if quiet else console
    with out.status("Opening the knowledge index…"):
        chunks = engine.ensure_index(progress=not quiet)
    with out.status("Loading the language model…"):
        engine.warm_up()
    info = engine.model_info()
    device = f"GPU ({info.gpu_layers} layers offloaded)" if info.gpu_layers else "CPU"
    if engine.settings.llm.backend == "openai":
        device = f"LLM server {engine.settings.llm.base_url}"
    out.print(
        f"[dim]Model: {info.name} · Device: {device} · Index: {chunks} chunks in "
        f"{engine.store.location} · Locale: {engine.locale}[/dim]"
    )
    if getattr(engine.llm, "model", None) is not None and engine.llm.model.test_only:
        out.print("[red]Warning: this is a test-fixture model; its text is not medical advice.[/red]")


def chat(engine) -> int:
    from chatbot.conversation import InputError, Session

    _startup(engine, quiet=False)
    console.print(
        Panel(
            "Health information assistant. This is general information, not a diagnosis. "
            "In an emergency call your emergency number.\n" + HELP,
            border_style="cyan",
        )
    )
    session = Session()
    while True:
        try:
            message = console.input("[bold cyan]You:[/bold cyan] ")
        except (EOFError, KeyboardInterrupt):
            console.print("\nGoodbye. Take care.")
            return 0
        command = message.strip().lower()
        if command in {"/quit", "/exit", "quit", "exit"}:
            console.print("Goodbye. Take care.")
            return 0
        if command == "/help":
            console.print(HELP)
            continue
        if command == "/reset":
            session.reset()
            console.print("[dim]Started a new conversation.[/dim]")
            continue
        if command == "/sources":
            _print_sources(session.last_answer)
            continue
        if not message.strip():
            console.print(f"[dim]Type a question or describe your symptoms. {HELP}[/dim]")
            continue
        try:
            _stream_turn(engine, session, message)
        except InputError as exc:
            console.print(f"[yellow]{escape(str(exc))}[/yellow]")
        except KeyboardInterrupt:
            console.print("\n[dim]Stopped. Goodbye.[/dim]")
            return 0


def _stream_turn(engine, session, message: str, one_shot: bool = False) -> None:
    console.print("[bold green]Assistant:[/bold green] ", end="")
    shown = False  # the decided level is printed once, before the answer when it is decided first
    for event in engine.stream(session, message, one_shot=one_shot):
        if event.type == "escalation":
            console.print()
            _print_escalation(event.text, event.data.get("level"), event.data.get("language", "en"))
        elif event.type == "triage":
            console.print()
            _print_level(event.data["triage"])
            shown = True
        elif event.type == "token":
            console.print(escape(event.text), end="")
        elif event.type == "replace":  # the consistency check replaced advice that contradicted the level
            console.print()
            console.print(Panel(escape(event.text), title="Corrected to match the urgency", border_style="yellow"))
        elif event.type == "answer":
            if event.answer.kind in {"intake", "refusal"}:
                console.print(escape(event.answer.answer), end="")
            console.print()
            if not shown:
                _print_triage(event.answer)
            elif event.answer.follow_up_questions and event.answer.kind != "intake":
                _print_follow_ups(event.answer.follow_up_questions)
            _print_sources(event.answer)


def _print_escalation(text: str, level: TriageLevel | str | None, lang: str) -> None:
    """The escalation panel: red EMERGENCY only at emergency level, an urgent-styled one below it (a level that is
    not known is treated as an emergency)."""
    from chatbot.safety.messages import banner_title, is_emergency

    emergency = level is None or is_emergency(level)
    title = banner_title(TriageLevel.emergency if emergency else level, lang)
    console.print(Panel(escape(text), title=escape(title), border_style="bold red" if emergency else "bold yellow"))


def _print_triage(answer: Answer | None) -> None:
    if answer is None or answer.triage is None:
        return
    _print_level(answer.triage)
    if answer.follow_up_questions and answer.kind != "intake":
        _print_follow_ups(answer.follow_up_questions)


def _print_level(triage: Triage) -> None:
    """The badge, who decided it and the reasons; conditions to discuss when there are any."""
    style, label = LEVEL_STYLE[triage.level]
    console.print(f"[{style}] {label} [/{style}] [dim](decided by {triage.decided_by})[/dim]")
    for reason in triage.reasons:
        console.print(f"  • {escape(reason)}")
    if triage.possible_conditions:
        console.print("  [dim]Things to discuss with a doctor:[/dim] " + escape(", ".join(triage.possible_conditions)))


def _print_follow_ups(questions: list[str]) -> None:
    console.print("  [dim]Useful to tell a doctor:[/dim] " + escape(" / ".join(questions)))


def _print_sources(answer: Answer | None) -> None:
    if answer is None or not answer.sources:
        return
    console.print("[bold]Sources[/bold]")
    for s in answer.sources:
        section = f" — {escape(s.section)}" if s.section else ""
        console.print(f"  [{s.n}] {escape(s.title)}{section} [dim]{escape(s.url)} (score {s.score:.2f})[/dim]")


def _ask(engine, question: str, as_json: bool) -> int:
    from chatbot.conversation import InputError, Session

    _startup(engine, quiet=as_json)
    session = Session()
    try:
        if as_json:
            print(engine.ask(session, question, one_shot=True).model_dump_json(indent=2))
        else:
            _stream_turn(engine, session, question, one_shot=True)
    except InputError as exc:
        return _input_error(exc, as_json)
    return 0


def _triage(engine, message: str, as_json: bool) -> int:
    from chatbot.conversation import InputError, Session

    _startup(engine, quiet=True)
    try:
        answer = engine.triage_only(Session(), message)
    except InputError as exc:
        return _input_error(exc, as_json)
    if as_json:
        print(answer.model_dump_json(indent=2))
    else:
        if answer.escalation:
            _print_escalation(answer.escalation, answer.triage.level if answer.triage else None, answer.language)
        _print_triage(answer)
        _print_sources(answer)
    return 0


def _screen(engine, message: str, as_json: bool) -> int:
    from chatbot.conversation import InputError
    from chatbot.safety import detect_language, escalation_message

    try:
        result = engine.screen_only(message)
    except InputError as exc:
        return _input_error(exc, as_json)
    if as_json:
        payload = {
            "level": result.level.value if result.level else None,
            "red_flags": [h.model_dump(mode="json") for h in result.hits],
            "escalation": escalation_message(result, detect_language(message), engine.locale, engine.locales),
            "elapsed_ms": round(result.elapsed_ms, 3),
        }
        print(json.dumps(payload, ensure_ascii=False, indent=2))
        return 0
    if not result.hits:
        console.print(f"No red flags found ({result.elapsed_ms:.2f} ms). This does not rule out a problem.")
    for hit in result.hits:
        style = "bold red" if hit.level == TriageLevel.emergency else "bold yellow"
        console.print(f"[{style}]{hit.level.value}[/{style}] {hit.id}: {escape(hit.message)}")
    return 0


def _input_error(exc: Exception, as_json: bool) -> int:
    if as_json:
        print(json.dumps({"error": str(exc)}, ensure_ascii=False))
    else:
        err.print(f"[yellow]{escape(str(exc))}[/yellow]")
    return 2


def _ingest(settings: Settings, paths: list[Path], prune: bool, rebuild: bool = False) -> int:
    from chatbot.conversation import Engine
    from chatbot.knowledge.ingest import Ingestor

    if rebuild:
        from chatbot.knowledge.rebuild import move_aside

        moved = move_aside(settings)
        if moved:
            console.print(f"Moved the old index aside to {moved} (delete it once the new one works).")
    engine = Engine(settings)
    targets = [settings.path(p) if not p.is_absolute() and not p.exists() else p for p in paths] or [
        settings.path(p) for p in settings.ingest.paths
    ]
    cfg = settings.ingest
    report = Ingestor(engine.store, cfg.chunk_size, cfg.chunk_overlap, max_file_mb=cfg.max_file_mb).run(
        targets, prune=prune
    )
    console.print(report.summary())
    console.print(f"index: {engine.store.count()} chunks in {engine.store.location}")
    return 1 if report.failed and not (report.files_new or report.files_changed or report.files_unchanged) else 0


def _models(settings: Settings) -> int:
    from chatbot.models import load_catalogue, resolve_model

    for name, entry in load_catalogue().items():
        marker = "*" if name == settings.llm.model else " "
        console.print(f"{marker} {name:8} {entry.description}")
    resolved = resolve_model(settings.llm.model, settings.llm.model_path, settings.model_cache_dir)
    console.print(f"configured model verified: {resolved.path} (sha256 {resolved.sha256[:12]}…)")
    return 0

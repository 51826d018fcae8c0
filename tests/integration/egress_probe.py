"""Run ingest, retrieval and a chat turn with the real components while recording every socket connection.

Executed as a subprocess by test_no_egress.py: an audit hook sees connections made by any Python code (telemetry
clients, hub lookups, HTTP libraries) before they happen, and this script prints what it saw as JSON.
"""

import json
import sys
import tempfile
from pathlib import Path

SEEN: list[dict] = []


def _hook(event: str, args: tuple) -> None:
    if event in {"socket.connect", "socket.sendto", "socket.getaddrinfo"}:
        target = args[1] if event != "socket.getaddrinfo" else (args[0], args[1])
        SEEN.append({"event": event, "target": repr(target)})


sys.addaudithook(_hook)

import chatbot  # noqa: E402,F401
from chatbot.config import load_settings  # noqa: E402
from chatbot.conversation import Engine, Session  # noqa: E402

topics = Path(sys.argv[1])
with tempfile.TemporaryDirectory() as tmp:
    settings = load_settings("test", overrides={"data_dir": tmp, "ingest": {"paths": [str(topics)]},
                                                "conversation": {"intake_enabled": False}}, environ={})
    engine = Engine(settings)
    engine.ensure_index(progress=False)
    engine.retriever.search("sore throat")
    answer = engine.ask(Session(), "What can I do for a sore throat?")
print(json.dumps({"connections": SEEN, "kind": answer.kind, "sources": len(answer.sources)}))

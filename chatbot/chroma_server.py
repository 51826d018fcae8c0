"""A Chroma server on a free loopback port, for the ``chroma-http`` tests and benchmark (and local trials).

Why run it through this interpreter (``chromadb.cli.cli``) rather than the ``chroma`` script on PATH: the script's
``#!`` line may name another environment, and client and server must be the same Chroma version. The server gets
the privacy environment of ``chatbot/__init__.py`` and none of the OpenTelemetry exporter variables; ``chroma run``
(a Rust server) has no product telemetry and exports traces only to an endpoint it is configured with.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

HOST = "127.0.0.1"
_LAUNCH = "import sys; from chromadb.cli.cli import app; sys.argv[0] = 'chroma'; app()"


def free_port(host: str = HOST) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class LocalChromaServer:
    """``with LocalChromaServer(folder) as server:`` -- ``server.port`` answers until the block ends."""

    def __init__(self, path: Path, port: int | None = None, start_timeout_s: float = 60.0) -> None:
        self.path = Path(path)
        self.port = port or free_port()
        self.start_timeout_s = start_timeout_s
        self.process: subprocess.Popen | None = None
        self.log = self.path.parent / f"{self.path.name}.server.log"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> LocalChromaServer:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env.update(ANONYMIZED_TELEMETRY="False", DO_NOT_TRACK="1", NO_COLOR="1")
        command = [sys.executable, "-c", _LAUNCH, "run", "--path", str(self.path), "--host", HOST,
                   "--port", str(self.port)]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"chroma run exited with {self.process.returncode}; see {self.log}")
            try:
                if httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"chroma run did not answer on {self.url} within {self.start_timeout_s:.0f} s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)

    def __enter__(self) -> LocalChromaServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

"""Helpers shared by the fuzz tests of files and settings (tests/safety/test_fuzz_*.py)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


class Hang(BaseException):  # noqa: N818 - BaseException: a loader's catch-all `except Exception` must not swallow it
    """Raised by the alarm when one case takes too long: a hang becomes a failure, not a stuck suite."""


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """Raise Hang after ``seconds`` (SIGALRM: pytest runs tests in the main thread)."""
    def alarm(*_: object) -> None:
        raise Hang(f"took over {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def yaml_bomb(depth: int, width: int) -> str:
    """A "billion laughs" block, anchors l0..l{depth-1}: ``width ** depth`` strings if anything expanded it."""
    lines = ["l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]" for i in range(1, depth)]
    return "\n".join(lines)

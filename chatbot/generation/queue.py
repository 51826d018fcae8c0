"""First come, first served access to the one in-process model, with an honest answer to "how long?".

Why: llama.cpp serves one generation at a time, so a patient whose message arrives while another patient's answer
is being written has to wait. A plain lock makes that wait silent and unfair (any waiter may win). Here each caller
takes a numbered ticket; tickets are served in the order taken; a waiting caller can read its place in line
(1 = next) and an estimate of the wait (the mean of the last few service times × the people ahead; None while no
service time has been measured), so the interface can say so instead of showing nothing.

A turn of the conversation holds one ticket for all its model work (triage, then the answer), which also keeps
llama.cpp's KV cache for that turn's prompt. While it holds it, the model's own calls run under that ticket
(:meth:`Ticket.lent`), so they neither queue again behind it nor let anyone in between.

Only patients' turns feed the estimate: the server's own model work (the warm-up that evaluates the prompt prefix
at start, slowed by loading) runs under an untimed ticket (``hold(timed=False)``), whose service time is not kept.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from statistics import fmean
from typing import Any, TypeVar

T = TypeVar("T")
_RECENT = 5  # service times in the moving average: recent enough to follow load, enough to smooth one odd turn
_REPORT_EVERY_S = 2.0  # a waiter's place is reported again this often even unchanged: fresh estimate, Stop lands


class GenerationQueue:
    """Numbered tickets served one at a time, in the order they were taken."""

    def __init__(self, recent: int = _RECENT, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock  # times each service, for the estimate
        self._cond = threading.Condition()
        self._numbers = iter(range(1, 1 << 62))
        self._waiting: deque[int] = deque()  # ticket numbers in line, first = next
        self._serving: int | None = None
        self._durations: deque[float] = deque(maxlen=recent)
        self._lent: dict[int, Ticket] = {}  # thread id -> the served ticket that thread's model calls run under

    def ticket(self, timed: bool = True) -> Ticket:
        """Take a place at the end of the line (use as a context manager: leaving gives the place up).

        An untimed ticket (``timed=False``) waits and is served like any other, but its service time does not join
        the moving average: for work that is not a patient's turn, such as the warm-up."""
        with self._cond:
            number = next(self._numbers)
            self._waiting.append(number)
            return Ticket(self, number, timed=timed)

    @contextmanager
    def hold(self, timed: bool = True) -> Iterator[None]:
        """One model call: under the ticket this thread lent (a turn's), else under a new ticket waited for.

        ``timed=False`` takes an untimed ticket (see :meth:`ticket`) and lends it to this thread for the block, so
        the model calls made inside it run under it instead of queuing behind it. Use it around work that runs on
        this thread from start to end (a warm-up), not across a generator's yields: the loan belongs to the thread.
        """
        lent = self._lent.get(threading.get_ident())
        if lent is not None and lent.served:
            yield
            return
        with self.ticket(timed=timed) as ticket:
            while not ticket.wait():
                pass
            if timed:
                yield
            else:
                with ticket.lent():
                    yield

    def mean_duration_s(self) -> float | None:
        """The moving average of recent service times; None until one has been measured."""
        with self._cond:
            return fmean(self._durations) if self._durations else None

    def busy(self) -> bool:
        with self._cond:
            return self._serving is not None or bool(self._waiting)

    # ---- called by Ticket, under the condition -----------------------------------------------------------------
    def _position(self, number: int) -> int:
        if number == self._serving:
            return 0
        if number not in self._waiting:
            return -1  # left the line
        return self._waiting.index(number) + (1 if self._serving is not None else 0)

    def _try_serve(self, number: int) -> bool:
        if self._serving == number:
            return True
        if self._serving is None and self._waiting and self._waiting[0] == number:
            self._serving = self._waiting.popleft()
            self._cond.notify_all()  # everyone behind moved up one place
            return True
        return False

    def _leave(self, number: int, served_s: float | None) -> None:
        with self._cond:
            if self._serving == number:
                self._serving = None
                if served_s is not None:
                    self._durations.append(served_s)
            elif number in self._waiting:
                self._waiting.remove(number)
            self._cond.notify_all()


class Ticket:
    """One caller's place in a :class:`GenerationQueue`."""

    def __init__(self, queue: GenerationQueue, number: int, timed: bool = True) -> None:
        self.queue = queue
        self.number = number
        self.timed = timed  # False: its service time is not kept for the estimate
        self._started: float | None = None

    @property
    def served(self) -> bool:
        return self._started is not None

    @property
    def position(self) -> int:
        """People ahead: 0 = being served, 1 = next, 2 = one more before this one…"""
        with self.queue._cond:
            return self.queue._position(self.number)

    def estimate_s(self) -> float | None:
        """Seconds until this ticket is served, roughly: mean service time × people ahead (None: not known yet)."""
        mean, ahead = self.queue.mean_duration_s(), self.position
        return None if mean is None else mean * max(ahead, 0)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until served (True), or until this ticket's place in line changes or ``timeout`` passes (False).

        Waking on a change of place lets a caller report each move at once, without polling."""
        cond = self.queue._cond
        with cond:
            place = self.queue._position(self.number)
            cond.wait_for(lambda: self.queue._try_serve(self.number) or self.queue._position(self.number) != place,
                          timeout)
            served = self.queue._try_serve(self.number)
        if served and self._started is None:
            self._started = self.queue._clock()
        return served

    def leave(self) -> None:
        """Give the place up, or finish being served (its service time then joins the moving average, if timed)."""
        served_s = self.queue._clock() - self._started if self._started is not None and self.timed else None
        self._started = None
        self.queue._leave(self.number, served_s)

    @contextmanager
    def lent(self) -> Iterator[None]:
        """While the block runs, model calls made by this thread run under this (served) ticket."""
        ident = threading.get_ident()
        before = self.queue._lent.get(ident)
        self.queue._lent[ident] = self
        try:
            yield
        finally:
            if before is None:
                self.queue._lent.pop(ident, None)
            else:
                self.queue._lent[ident] = before

    def __enter__(self) -> Ticket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.leave()


def places(ticket: Ticket, every_s: float = _REPORT_EVERY_S) -> Iterator[dict[str, Any]]:
    """A waiting ticket's place in line (``position``, ``estimate_s``) at once, at each change and every
    ``every_s``; then ``position`` 0 once served. Nothing at all when it is served at once: nobody waited."""
    if ticket.wait(0):
        return
    while True:
        yield {"position": ticket.position, "estimate_s": ticket.estimate_s()}
        if ticket.wait(every_s):
            yield {"position": 0, "estimate_s": 0.0}
            return


def run_under(ticket: Ticket, steps: Iterator[T]) -> Iterator[T]:
    """``steps`` with each step's model calls under ``ticket``, whichever thread runs the step (a streamed turn is
    resumed by the web server's or Starlette's worker threads, one step at a time)."""
    try:
        while True:
            with ticket.lent():
                try:
                    item = next(steps)
                except StopIteration:
                    return
            yield item
    finally:
        close = getattr(steps, "close", None)
        if close is not None:
            close()

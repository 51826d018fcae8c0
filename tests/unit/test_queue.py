"""The model's FIFO queue (chatbot.generation.queue): order under contention, places, estimates, lent tickets."""

from __future__ import annotations

import threading

import pytest

from chatbot.generation.queue import GenerationQueue, places, run_under

WAIT = 5.0  # a ceiling for events that happen at once; nothing here sleeps


def _served(queue: GenerationQueue) -> threading.Event:
    """A caller that holds the model until the returned event is set (its ticket taken before this returns)."""
    release, ready = threading.Event(), threading.Event()

    def hold() -> None:
        with queue.ticket() as ticket:
            assert ticket.wait(WAIT)
            ready.set()
            release.wait(WAIT)

    threading.Thread(target=hold, daemon=True).start()
    assert ready.wait(WAIT)
    return release


def test_callers_are_served_in_the_order_they_took_their_tickets():
    queue = GenerationQueue()
    release = _served(queue)
    order: list[int] = []
    tickets = [queue.ticket() for _ in range(5)]  # taken in this order while the model is busy

    def caller(i: int) -> None:
        with tickets[i] as ticket:
            while not ticket.wait(WAIT):
                pass
            order.append(i)

    threads = [threading.Thread(target=caller, args=(i,)) for i in reversed(range(5))]  # waiting in reverse order
    for thread in threads:
        thread.start()
    release.set()
    for thread in threads:
        thread.join(WAIT)
    assert order == [0, 1, 2, 3, 4]


def test_hold_serialises_concurrent_calls_first_come_first_served():
    queue = GenerationQueue()
    release = _served(queue)
    inside, most, order = [0], [0], []
    lock = threading.Lock()
    queued = threading.Semaphore(0)

    def call(i: int) -> None:
        with queue.hold():
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
                order.append(i)
            with lock:
                inside[0] -= 1

    threads = []
    for i in range(4):  # each caller is in line before the next one starts
        threads.append(threading.Thread(target=lambda i=i: (queued.release(), call(i))))
        threads[-1].start()
        assert queued.acquire(timeout=WAIT)
        _until(lambda n=i + 1: _in_line(queue) == n)
    release.set()
    for thread in threads:
        thread.join(WAIT)
    assert order == [0, 1, 2, 3] and most[0] == 1


def test_places_count_the_people_ahead_and_move_up():
    queue = GenerationQueue()
    release = _served(queue)
    first, second = queue.ticket(), queue.ticket()
    assert (first.position, second.position) == (1, 2)
    first.leave()  # gave up its place: the next one moves up
    assert second.position == 1
    release.set()
    assert second.wait(WAIT) and second.position == 0
    second.leave()


def test_the_estimate_is_unknown_until_a_turn_was_timed_then_mean_times_people_ahead():
    clock = iter([100.0, 104.0, 200.0, 202.0, 300.0]).__next__  # two services: 4 s and 2 s
    queue = GenerationQueue(clock=clock)
    waiting = [queue.ticket() for _ in range(3)]
    assert waiting[2].estimate_s() is None  # nothing measured yet: the page says "not known yet"
    for _ in range(2):
        ticket = waiting.pop(0)
        assert ticket.wait(0)
        ticket.leave()
    assert queue.mean_duration_s() == pytest.approx(3.0)
    behind = queue.ticket()
    assert behind.position == 1 and behind.estimate_s() == pytest.approx(3.0)  # one ahead (not yet being served)
    assert waiting[0].wait(0)  # the one ahead is served now: still one ahead
    assert behind.estimate_s() == pytest.approx(3.0)
    later = queue.ticket()
    assert later.position == 2 and later.estimate_s() == pytest.approx(6.0)


def test_a_waiter_sees_each_place_then_its_turn():
    queue = GenerationQueue()
    first_release = _served(queue)
    ahead = queue.ticket()
    mine = queue.ticket()
    seen = places(mine, every_s=WAIT)
    assert next(seen) == {"position": 2, "estimate_s": None}
    first_release.set()  # the served turn ends: this one moves up
    assert next(seen)["position"] == 1
    assert ahead.wait(WAIT)
    ahead.leave()
    assert next(seen) == {"position": 0, "estimate_s": 0.0}  # its turn: the page drops the queue text
    assert mine.served
    mine.leave()


def test_a_caller_served_at_once_reports_nothing():
    queue = GenerationQueue()
    with queue.ticket() as ticket:
        assert list(places(ticket)) == []


def test_lent_ticket_runs_the_model_calls_of_a_held_turn_without_queuing_again():
    queue = GenerationQueue()
    calls: list[str] = []

    def turn():
        for step in ("triage", "answer"):
            with queue.hold():  # what the backend does on each call
                calls.append(step)
            yield step

    with queue.ticket() as ticket:
        assert ticket.wait(0)
        assert list(run_under(ticket, turn())) == ["triage", "answer"]
        other = queue.ticket()
        assert other.position == 1  # nobody slipped in between the turn's calls
        other.leave()
    assert calls == ["triage", "answer"] and not queue.busy()


def test_leaving_while_in_line_frees_the_place_and_serving_ends_it():
    queue = GenerationQueue()
    with queue.ticket() as served:
        assert served.wait(0)
        with queue.ticket() as waiting:
            assert waiting.position == 1 and not waiting.wait(0)
    assert not queue.busy()


def test_an_untimed_hold_is_served_in_turn_but_left_out_of_the_estimate():
    now = [0.0]
    queue = GenerationQueue(clock=lambda: now[0])
    nested: list[str] = []

    def warm_up() -> None:
        with queue.hold(timed=False), queue.hold():  # the inner call runs under the same (lent) ticket, not a 2nd
            nested.append("prefix")
            now[0] += 30.0  # a slow warm-up (loading the model)

    _in_thread(warm_up)  # a second ticket would wait behind the first forever
    assert nested == ["prefix"] and not queue.busy()
    assert queue.mean_duration_s() is None  # the warm-up taught the estimate nothing
    with queue.hold():
        now[0] += 4.0  # a patient's turn
    assert queue.mean_duration_s() == pytest.approx(4.0)  # only the patient's turn counts


def test_an_untimed_ticket_waits_its_place_like_any_other():
    queue = GenerationQueue()
    release = _served(queue)
    untimed = queue.ticket(timed=False)
    assert untimed.position == 1 and not untimed.wait(0)
    release.set()
    assert untimed.wait(WAIT)
    untimed.leave()
    assert not queue.busy() and queue.mean_duration_s() is not None  # the turn before it was timed, as always


def test_the_models_warm_up_is_not_timed_as_a_patients_turn(tmp_path):
    from chatbot.generation.llm import LlamaCppLLM
    from chatbot.models.catalogue import ResolvedModel

    class Llama:
        def create_chat_completion(self, **kwargs):
            return iter([{"choices": [{"delta": {"content": "ok"}}]}])

    now = [0.0]

    def clock() -> float:
        now[0] += 10.0  # each reading 10 s later: any timed service would be measured
        return now[0]

    llm = LlamaCppLLM(ResolvedModel("m", tmp_path / "m.gguf", ""), 2048, 1, 0, 0.2, 1)
    llm._llama = Llama()
    llm.queue = GenerationQueue(clock=clock)
    _in_thread(lambda: llm.warm_up([{"role": "system", "content": "prefix"}]))
    assert llm.queue.mean_duration_s() is None and not llm.queue.busy()
    assert "".join(llm.stream([{"role": "user", "content": "hi"}], 8)) == "ok"
    assert llm.queue.mean_duration_s() == pytest.approx(10.0)  # a patient's call is timed


def _in_thread(work) -> None:
    """Run ``work`` in a thread and fail, instead of hanging, if it does not finish (e.g. queued behind itself)."""
    done = threading.Event()

    def run() -> None:
        work()
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(WAIT), "never finished: queued behind its own ticket?"


def _in_line(queue: GenerationQueue) -> int:
    with queue._cond:
        return len(queue._waiting)


def _until(condition, timeout: float = WAIT) -> None:
    event = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        event.wait(0.01)
    raise AssertionError("condition never held")

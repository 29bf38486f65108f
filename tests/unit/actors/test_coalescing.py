"""Calls of many threads to one actor go together; each still gets its own answer (coalescing.py)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pytest

from scimsaga.actors.coalescing import Call, CallTimedOut, Coalescer, Outcome, run_calls
from scimsaga.scim.errors import NotFound, ScimError
from tests.polling import wait_until


class Echo:
    """Stands in for the actor: answers each call with its arguments, or fails on ``missing``."""

    def __init__(self) -> None:
        self.batches: list[list[Call]] = []
        self.hold = threading.Event()
        self.hold.set()
        self.fail_with: BaseException | None = None
        self.fail_from = 0
        """Batches before this one (counted from 0) succeed even when ``fail_with`` is set."""

    def send(self, calls: list[Call]) -> list[Outcome]:
        self.batches.append(list(calls))
        self.hold.wait(10)
        if self.fail_with is not None and len(self.batches) > self.fail_from:
            raise self.fail_with
        return run_calls(self, calls, frozenset({"echo", "missing", "broken"}), (ScimError,), _hidden)

    def echo(self, *args: Any) -> tuple[Any, ...]:
        return args

    def missing(self, name: str) -> None:
        raise NotFound(f"{name} not found")

    def broken(self) -> None:
        raise KeyError("a bug")


def _hidden(exc: Exception) -> Exception:
    return RuntimeError(f"hidden {type(exc).__name__}")


def _in_threads(coalescer: Coalescer,
                calls: Sequence[Call]) -> tuple[list[threading.Thread], list[Any]]:
    """Start one thread per call; the results fill in as they finish (an exception in place of one)."""
    results: list[Any] = [None] * len(calls)

    def run(index: int, method: str, args: tuple[Any, ...]) -> None:
        try:
            results[index] = coalescer.call(method, *args)
        except BaseException as exc:  # an interruption too: the test looks at what each caller got
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, m, a)) for i, (m, a) in enumerate(calls)]
    for thread in threads:
        thread.start()
    return threads, results


def test_one_call_at_a_time_goes_alone_and_at_once():
    actor = Echo()
    coalescer = Coalescer(actor.send)

    assert coalescer.call("echo", 1) == (1,)
    assert coalescer.call("echo", 2, "b") == (2, "b")
    assert actor.batches == [[("echo", (1,))], [("echo", (2, "b"))]]


def test_calls_made_while_one_is_in_flight_go_together_in_the_next():
    actor, first_done = Echo(), []
    coalescer = Coalescer(actor.send)
    actor.hold.clear()
    first = threading.Thread(target=lambda: first_done.append(coalescer.call("echo", "first")))
    first.start()
    wait_until(lambda: len(actor.batches) == 1, message="the first call in flight")

    threads, results = _in_threads(coalescer, [("echo", (n,)) for n in range(5)])
    wait_until(lambda: len(coalescer._line) == 5, message="five calls in line")
    actor.hold.set()
    for thread in [first, *threads]:
        thread.join(10)

    assert first_done == [("first",)]
    assert results == [(n,) for n in range(5)]
    assert len(actor.batches) == 2
    assert sorted(actor.batches[1]) == [("echo", (n,)) for n in range(5)]
    assert (coalescer.batches, coalescer.calls) == (2, 6)


def test_each_call_of_a_batch_fails_or_succeeds_on_its_own():
    actor = Echo()
    outcomes = actor.send([("echo", ("a",)), ("missing", ("u1",)), ("broken", ()), ("nope", ())])

    assert outcomes[0] == (True, ("a",))
    assert outcomes[1][0] is False
    assert isinstance(outcomes[1][1], NotFound)
    assert [str(e) for _, e in outcomes[2:]] == ["hidden KeyError", "hidden AttributeError"]


def test_a_failed_send_fails_every_call_of_its_batch_and_the_next_call_goes_through():
    actor = Echo()
    coalescer = Coalescer(actor.send)
    actor.fail_with = ConnectionError("actor gone")

    with pytest.raises(ConnectionError):
        coalescer.call("echo", 1)

    actor.fail_with = None
    assert coalescer.call("echo", 2) == (2,)


def test_a_line_longer_than_the_batch_limit_is_sent_in_turns():
    actor = Echo()
    coalescer = Coalescer(actor.send, max_batch=3)
    actor.hold.clear()
    first = threading.Thread(target=coalescer.call, args=("echo", "first"))
    first.start()
    wait_until(lambda: len(actor.batches) == 1, message="the first call in flight")

    threads, results = _in_threads(coalescer, [("echo", (n,)) for n in range(7)])
    wait_until(lambda: len(coalescer._line) == 7, message="seven calls in line")
    actor.hold.set()
    for thread in [first, *threads]:
        thread.join(10)

    assert [len(batch) for batch in actor.batches] == [1, 3, 3, 1]
    assert results == [(n,) for n in range(7)]


def _first_call_in_flight(actor: Echo, coalescer: Coalescer) -> threading.Thread:
    actor.hold.clear()
    first = threading.Thread(target=coalescer.call, args=("echo", "first"))
    first.start()
    wait_until(lambda: len(actor.batches) == 1, message="the first call in flight")
    return first


def test_the_callers_of_a_failed_batch_each_raise_their_own_copy_of_the_failure():
    actor = Echo()
    coalescer = Coalescer(actor.send)
    first = _first_call_in_flight(actor, coalescer)
    actor.fail_with, actor.fail_from = ConnectionError("actor gone"), 1
    threads, results = _in_threads(coalescer, [("echo", (n,)) for n in range(3)])
    wait_until(lambda: len(coalescer._line) == 3, message="three calls in line")

    actor.hold.set()
    for thread in [first, *threads]:
        thread.join(10)

    assert [type(r) for r in results] == [ConnectionError] * 3
    assert len({id(r) for r in results}) == 3
    actor.fail_with = None
    assert coalescer.call("echo", "after") == ("after",)


def test_an_interruption_of_the_sender_is_its_own_the_others_fail_and_the_line_flows_on():
    actor = Echo()
    coalescer = Coalescer(actor.send)
    first = _first_call_in_flight(actor, coalescer)
    actor.fail_with, actor.fail_from = KeyboardInterrupt(), 1
    threads, results = _in_threads(coalescer, [("echo", (n,)) for n in range(3)])
    wait_until(lambda: len(coalescer._line) == 3, message="three calls in line")

    actor.hold.set()
    for thread in [first, *threads]:
        thread.join(10)

    assert sorted(type(r).__name__ for r in results) == ["KeyboardInterrupt", "RuntimeError", "RuntimeError"]
    actor.fail_with = None
    assert coalescer.call("echo", "after") == ("after",)


def test_a_caller_that_gives_up_while_in_line_is_never_sent_and_the_line_flows_on():
    actor = Echo()
    coalescer = Coalescer(actor.send, wait_limit=0.2)
    first = _first_call_in_flight(actor, coalescer)

    with pytest.raises(CallTimedOut):
        coalescer.call("echo", "impatient")

    assert coalescer._line == []
    actor.hold.set()
    first.join(10)
    assert coalescer.call("echo", "after") == ("after",)
    assert actor.batches == [[("echo", ("first",))], [("echo", ("after",))]]

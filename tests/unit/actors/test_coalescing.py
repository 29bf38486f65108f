"""Calls of many threads to one actor go together; each still gets its own answer (coalescing.py)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pytest

from scimsaga.actors.coalescing import Call, CallTimedOut, Coalescer, Outcome, pack, run_calls, unpack
from scimsaga.scim.errors import NotFound, ScimError
from scimsaga.scim.listing import ListQuery, Page
from scimsaga.scim.patch_request import parse_patch
from scimsaga.scim.resource import StoredResource
from scimsaga.scim.schema import USER
from tests.polling import wait_until

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


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


def _first_call_in_flight(actor: Echo, coalescer: Coalescer) -> tuple[threading.Thread, list[Any]]:
    """A call held in ``send`` until ``actor.hold`` is set; its thread and (soon) its result."""
    actor.hold.clear()
    (first,), result = _in_threads(coalescer, [("echo", ("first",))])
    wait_until(lambda: len(actor.batches) == 1, message="the first call in flight")
    return first, result


def _behind_a_call_in_flight(actor: Echo, coalescer: Coalescer,
                             calls: Sequence[Call]) -> tuple[Any, list[Any]]:
    """Line ``calls`` up behind a first call in flight, then let it go: the first call's result and
    each of the others', in order (an exception in place of one)."""
    first, first_result = _first_call_in_flight(actor, coalescer)
    threads, results = _in_threads(coalescer, calls)
    wait_until(lambda: len(coalescer._line) == len(calls), message=f"{len(calls)} calls in line")
    actor.hold.set()
    for thread in [first, *threads]:
        thread.join(10)
    return first_result[0], results


def test_one_call_at_a_time_goes_alone_and_at_once():
    actor = Echo()
    coalescer = Coalescer(actor.send)

    assert coalescer.call("echo", 1) == (1,)
    assert coalescer.call("echo", 2, "b") == (2, "b")
    assert actor.batches == [[("echo", (1,))], [("echo", (2, "b"))]]


def test_calls_made_while_one_is_in_flight_go_together_in_the_next():
    actor = Echo()
    coalescer = Coalescer(actor.send)

    first, results = _behind_a_call_in_flight(actor, coalescer, [("echo", (n,)) for n in range(5)])

    assert first == ("first",)
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

    _, results = _behind_a_call_in_flight(actor, coalescer, [("echo", (n,)) for n in range(7)])

    assert [len(batch) for batch in actor.batches] == [1, 3, 3, 1]
    assert results == [(n,) for n in range(7)]


def test_the_callers_of_a_failed_batch_each_raise_their_own_copy_of_the_failure():
    actor = Echo()
    coalescer = Coalescer(actor.send)
    actor.fail_with, actor.fail_from = ConnectionError("actor gone"), 1

    _, results = _behind_a_call_in_flight(actor, coalescer, [("echo", (n,)) for n in range(3)])

    assert [type(r) for r in results] == [ConnectionError] * 3
    assert len({id(r) for r in results}) == 3
    actor.fail_with = None
    assert coalescer.call("echo", "after") == ("after",)


def test_an_interruption_of_the_sender_is_its_own_the_others_fail_and_the_line_flows_on():
    actor = Echo()
    coalescer = Coalescer(actor.send)
    actor.fail_with, actor.fail_from = KeyboardInterrupt(), 1

    _, results = _behind_a_call_in_flight(actor, coalescer, [("echo", (n,)) for n in range(3)])

    assert sorted(type(r).__name__ for r in results) == ["KeyboardInterrupt", "RuntimeError", "RuntimeError"]
    actor.fail_with = None
    assert coalescer.call("echo", "after") == ("after",)


def test_a_caller_that_gives_up_while_in_line_is_never_sent_and_the_line_flows_on():
    actor = Echo()
    coalescer = Coalescer(actor.send, wait_limit=0.2)
    first, _ = _first_call_in_flight(actor, coalescer)

    with pytest.raises(CallTimedOut):
        coalescer.call("echo", "impatient")

    assert coalescer._line == []
    actor.hold.set()
    first.join(10)
    assert coalescer.call("echo", "after") == ("after",)
    assert actor.batches == [[("echo", ("first",))], [("echo", ("after",))]]


def test_a_batch_crosses_to_identity_and_back_packed_with_every_kind_of_argument_and_outcome():
    patch = parse_patch(USER, {"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "path": "displayName", "value": "Babs"}]})
    calls: list[Call] = [
        ("create", ("User", {"userName": "bjensen", "emails": [{"value": "b@example.com"}]}, "corr-1")),
        ("patch", ("User", "id-1", patch, "corr-2", 'W/"1"')),
        ("query", ("User", ListQuery(filter='userName eq "bjensen"', count=5))),
    ]
    resource = StoredResource("id-1", {"userName": "bjensen"}, "2026-01-31T09:30:00.000Z",
                              "2026-01-31T09:30:00.000Z", 2, 1)
    outcomes: list[Outcome] = [(True, resource), (False, NotFound("no User id-2")),
                               (True, Page(1, 1, [resource])), (True, None),
                               (False, RuntimeError("identity failed"))]

    sent = unpack(pack(calls))
    got = unpack(pack(outcomes))

    assert [sent[0], sent[2]] == [calls[0], calls[2]]
    assert sent[1][1][2].steps == patch.steps  # read again on arrival, against the same schema objects
    assert [got[0], got[2], got[3]] == [(True, resource), (True, Page(1, 1, [resource])), (True, None)]
    error = got[1][1]
    assert (got[1][0], type(error), error.status, error.scim_type, error.detail) == (
        False, NotFound, 404, None, "no User id-2")
    assert (type(got[4][1]), str(got[4][1])) == (RuntimeError, "identity failed")


def _subclasses(cls: type[ScimError]) -> list[type[ScimError]]:
    return [c for sub in cls.__subclasses__() for c in (sub, *_subclasses(sub))]


@pytest.mark.parametrize("error_class", _subclasses(ScimError), ids=lambda c: c.__name__)
def test_every_scim_error_crosses_packed_as_itself(error_class):
    (ok, error), = unpack(pack([(False, error_class("what went wrong"))]))

    assert ok is False
    assert (type(error), error.status, error.scim_type, error.detail) == (
        error_class, error_class.status, error_class.scim_type, "what went wrong")

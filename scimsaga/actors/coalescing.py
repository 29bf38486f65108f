"""Calls made at the same time from many threads to one actor, sent together in one Ray call.

The identity actor takes one call at a time, so the front door's threads wait in its queue anyway, and
every Ray call costs its price on both sides whatever it carries (about 1.4 ms round trip for a create
on the 2-core machine of issue 8, most of it Ray's). A thread that calls while no call is in flight
sends at once, alone: one request at a time goes no slower. Threads that call while one is in flight
line up, and when it returns the first of them sends the whole line in one call, for itself and the
others (group commit, as databases do for their log). Each call in a batch still succeeds or fails on
its own: the actor runs them one after another and returns an outcome for each.
"""

from __future__ import annotations

import copy
import pickle
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Call = tuple[str, tuple[Any, ...]]
"""A method name and its positional arguments."""

Outcome = tuple[bool, Any]
"""``(True, value)`` or ``(False, the exception to raise)``."""

MAX_BATCH = 64


def pack(value: list[Call] | list[Outcome]) -> bytes:
    """Calls or outcomes as one ``bytes`` for a Ray call.

    Ray serializes a list of tuples element by element and every object of our own (a resource, a
    SCIM error) through cloudpickle; one ``bytes`` argument or reply takes its cheapest path. On the
    machine of issue 8 a create sent packed went round in 0.2 ms less (1.40 against 1.60 ms, with a
    bare call 1.2), and POSTs one at a time were acknowledged at p50 in 2.92 against 3.03 ms (nine
    alternating runs each). Only the two ends of one deployment read it, as with Ray's own pickles.
    """
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def unpack(packed: bytes) -> Any:
    """What :func:`pack` packed."""
    return pickle.loads(packed)


def run_calls(target: object, calls: Sequence[Call], allowed: frozenset[str],
              expected: tuple[type[Exception], ...],
              on_unexpected: Callable[[Exception], Exception]) -> list[Outcome]:
    """The actor's side: run each call on ``target`` in order, each on its own.

    An ``expected`` exception (a SCIM error) comes back as it is; any other is passed to
    ``on_unexpected``, which logs it where it happened and says what the caller should see instead.
    """
    outcomes: list[Outcome] = []
    for method, args in calls:
        try:
            if method not in allowed:
                raise AttributeError(f"no call named {method!r}")
            outcomes.append((True, getattr(target, method)(*args)))
        except expected as exc:
            outcomes.append((False, exc))
        except Exception as exc:  # one call's failure is its own; the batch goes on
            outcomes.append((False, on_unexpected(exc)))
    return outcomes


@dataclass(eq=False)
class _Waiting:
    call: Call
    done: threading.Event = field(default_factory=threading.Event)
    outcome: Outcome | None = None
    sends_next: bool = False

    def result(self) -> Any:
        assert self.outcome is not None
        ok, value = self.outcome
        if ok:
            return value
        raise value


class CallTimedOut(TimeoutError):
    """A call got no outcome within the coalescer's ``wait_limit`` (it may still run, as a Ray call
    that times out may)."""


class Coalescer:
    """Sends the calls of many threads through ``send``, one batch at a time, never more than ``max_batch``.

    ``send`` takes a list of calls and returns one outcome per call, in order; if it raises, every call
    of that batch raises it (each caller its own copy). A caller waits at most ``wait_limit`` seconds
    for its outcome, in line and in flight together (None: as long as it takes).
    """

    def __init__(self, send: Callable[[list[Call]], Sequence[Outcome]], max_batch: int = MAX_BATCH,
                 wait_limit: float | None = None) -> None:
        self._send = send
        self._max_batch = max_batch
        self._wait_limit = wait_limit
        self._lock = threading.Lock()
        self._line: list[_Waiting] = []
        self._sending = False
        self.batches = 0
        self.calls = 0

    def call(self, method: str, *args: Any) -> Any:
        me = _Waiting((method, args))
        with self._lock:
            self._line.append(me)
            sends = not self._sending
            self._sending = True
        if not sends:
            try:
                answered = me.done.wait(self._wait_limit)
            except BaseException:  # interrupted while in line: leave it, or pass it on if handed it
                if self._step_out(me):
                    self._send_line()
                raise
            if not answered and not self._step_out(me):
                if me.outcome is None:
                    raise CallTimedOut(f"no outcome within {self._wait_limit}s")
                return me.result()
            if not me.sends_next:
                return me.result()
        self._send_line()
        return me.result()

    def _step_out(self, me: _Waiting) -> bool:
        """Leave the line; True when ``me`` was handed it meanwhile and must send it (others wait)."""
        with self._lock:
            if me.sends_next:
                return True
            if me in self._line:
                self._line.remove(me)
            return False

    def _send_line(self) -> None:
        """Send the head of the line (the caller is its first), then hand on to the next in line."""
        with self._lock:
            batch, self._line = self._line[:self._max_batch], self._line[self._max_batch:]
        try:
            outcomes = list(self._send([waiting.call for waiting in batch]))
            if len(outcomes) != len(batch):
                raise RuntimeError(f"{len(batch)} calls sent, {len(outcomes)} outcomes returned")
        except BaseException as exc:  # whatever it is, every caller of the batch hears of it
            outcomes = [(False, exc)] + [(False, _copy_for_another_caller(exc)) for _ in batch[1:]]
        for waiting, outcome in zip(batch, outcomes, strict=True):
            waiting.outcome = outcome
        with self._lock:
            self.batches += 1
            self.calls += len(batch)
            following = self._line[0] if self._line else None
            if following is None:
                self._sending = False
            else:
                following.sends_next = True
        for waiting in batch[1:]:
            waiting.done.set()
        if following is not None:
            following.done.set()


def _copy_for_another_caller(exc: BaseException) -> BaseException:
    """The failure of a batch as another caller raises it: its own object, so that tracebacks do not
    pile up on one; an interruption (Ctrl-C) belongs to the thread that sent, the others just failed."""
    if not isinstance(exc, Exception):
        return RuntimeError(f"the call was not sent to its end ({type(exc).__name__})")
    try:
        return copy.copy(exc)
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")

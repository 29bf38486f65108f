"""CPU priority of an actor's process: the request path first, the fan-out in the background.

On a machine with few cores, the identity actor that answers the IdP's request competes for the CPU
with the broker, the coordinator and the services busy with the previous users' sagas. Running those
at a higher niceness lets the scheduler hand the core to identity as soon as a request reaches it;
nothing is lost by it, since their work is asynchronous by design (measured in bench/fanout_suite.py).
Raising niceness needs no privilege, lowering it does: so the request path stays at the niceness Ray
gives its workers and the background goes up from there.

Niceness sets shares of the CPU, not who runs first when a thread wakes: a niced fan-out thread that
holds the core when identity's request arrives may keep it for a while. So off the request path the
Linux scheduling policy can change too (sched(7)): the coordinator runs as ``batch`` (it never
preempts a thread when it wakes); the broker and services can run as ``idle`` (any other thread that
wakes takes the core from them at once, which can starve them behind any busy process, so it is
opt-in: ``Settings.background_policy``). Moving to either needs no privilege either.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TypeVar

from .settings import POLICIES, Policy

log = logging.getLogger(__name__)
T = TypeVar("T")

_POLICIES: dict[Policy, str] = {"normal": "SCHED_OTHER", "batch": "SCHED_BATCH", "idle": "SCHED_IDLE"}

LOWEST = 19
"""The highest niceness, the lowest priority, Linux and macOS give a process."""

_THREADS = "/proc/self/task"


def run_at_niceness(target: int | None, policy: Policy | None = None) -> int:
    """Raise the niceness of every thread of this process to ``target`` (None, or one not above the
    current: leave it) and move them to ``policy`` if it is less favoured than theirs (where the
    system has scheduling policies); returns the niceness it runs at now.

    On Linux niceness and policy belong to each thread, and Ray's own threads (its gRPC and event
    loops) are running before an actor's constructor is, so each one is changed; threads started
    later inherit both from the thread that starts them. A system that refuses a change (a sandbox,
    a thread marked to reset its policy) leaves that thread as it was: priority is a refinement, never
    a reason for an actor not to start.
    """
    if target is not None:
        target = min(target, LOWEST)
    wanted = _policy_number(policy) if policy is not None else None
    refused: list[str] = []

    def lower(thread: int) -> None:
        try:
            if target is not None and os.getpriority(os.PRIO_PROCESS, thread) < target:
                os.setpriority(os.PRIO_PROCESS, thread, target)
            if wanted is not None and _rank(_policy_of(thread)) < _rank(wanted):
                os.sched_setscheduler(thread, wanted, os.sched_param(0))
        except ProcessLookupError:
            raise
        except OSError as exc:
            refused.append(f"thread {thread}: {exc}")

    _each_thread(lower)
    if refused:
        log.warning("could not lower the priority of %d threads (%s); they keep their own",
                    len(refused), "; ".join(refused[:3]))
    return niceness()


def niceness() -> int:
    """The lowest niceness among this process's threads: the priority its most favoured thread has."""
    values = _each_thread(lambda thread: os.getpriority(os.PRIO_PROCESS, thread))
    return min(values) if values else os.getpriority(os.PRIO_PROCESS, 0)


def policy() -> Policy:
    """The most favoured scheduling policy among this process's threads ("normal" where the system
    has no policies to tell)."""
    if not hasattr(os, "sched_getscheduler"):
        return "normal"
    best = min(_each_thread(_policy_of), key=_rank, default=_policy_of(0))
    return next((name for name, constant in _POLICIES.items() if getattr(os, constant, None) == best),
                "normal")


def describe_process() -> dict[str, int | str]:
    """Which process an actor runs in, at what niceness and policy (for operators and tests)."""
    return {"pid": os.getpid(), "niceness": niceness(), "policy": policy()}


def _each_thread(read: Callable[[int], T]) -> list[T]:
    """``read`` of each thread of this process, leaving out the threads that ended meanwhile."""
    values = []
    for thread in _threads():
        try:
            values.append(read(thread))
        except ProcessLookupError:
            continue
    return values


def _policy_of(thread: int) -> int:
    """A thread's policy, without the flag that makes its children start at the normal one."""
    return os.sched_getscheduler(thread) & ~getattr(os, "SCHED_RESET_ON_FORK", 0)


def _policy_number(name: Policy) -> int | None:
    """The system's number for a policy, None where it has none (macOS has no SCHED_IDLE)."""
    if not hasattr(os, "sched_setscheduler"):
        return None
    number: int | None = getattr(os, _POLICIES[name], None)
    return number


def _rank(number: int) -> int:
    """How little a policy is favoured: normal 0, batch 1, idle 2 (real-time ones, which we never
    set, count as normal)."""
    order = [getattr(os, _POLICIES[name], None) for name in POLICIES]
    return order.index(number) if number in order else 0


def _threads() -> list[int]:
    """The ids of this process's threads where the system lists them (Linux), else the process (0)."""
    try:
        return [int(name) for name in os.listdir(_THREADS)]
    except OSError:
        return [0]

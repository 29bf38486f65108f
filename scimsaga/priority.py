"""CPU priority of an actor's process: the request path first, the fan-out in the background.

On a machine with few cores, the identity actor that answers the IdP's request competes for the CPU
with the broker, the coordinator and the services busy with the previous users' sagas. Running those
at a higher niceness lets the scheduler hand the core to identity as soon as a request reaches it;
nothing is lost by it, since their work is asynchronous by design (measured in bench/fanout_suite.py).
Raising niceness needs no privilege, lowering it does: so the request path stays at the niceness Ray
gives its workers and the background goes up from there.

Niceness sets shares of the CPU, not who runs first when a thread wakes: a niced fan-out thread that
holds the core when identity's request arrives may keep it for a while. So off the request path the
Linux scheduling policy changes too (sched(7)): the coordinator runs as ``batch`` (it never preempts
a thread when it wakes) and the broker and services as ``idle`` (any other thread that wakes takes the
core from them at once). Moving to either needs no privilege either.
"""

from __future__ import annotations

import os

from .settings import Policy

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
    later inherit both from the thread that starts them.
    """
    if target is not None:
        target = min(target, LOWEST)
    wanted = _policy_number(policy) if policy is not None else None
    for thread in _threads():
        try:
            if target is not None and os.getpriority(os.PRIO_PROCESS, thread) < target:
                os.setpriority(os.PRIO_PROCESS, thread, target)
            if wanted is not None and _rank(os.sched_getscheduler(thread)) < _rank(wanted):
                os.sched_setscheduler(thread, wanted, os.sched_param(0))
        except ProcessLookupError:  # the thread ended meanwhile
            continue
    return niceness()


def niceness() -> int:
    """The lowest niceness among this process's threads: the priority its most favoured thread has."""
    values = []
    for thread in _threads():
        try:
            values.append(os.getpriority(os.PRIO_PROCESS, thread))
        except ProcessLookupError:
            continue
    return min(values) if values else os.getpriority(os.PRIO_PROCESS, 0)


def policy() -> Policy:
    """The most favoured scheduling policy among this process's threads ("normal" where the system
    has no policies to tell)."""
    if not hasattr(os, "sched_getscheduler"):
        return "normal"
    numbers = []
    for thread in _threads():
        try:
            numbers.append(os.sched_getscheduler(thread))
        except ProcessLookupError:
            continue
    best = min(numbers, key=_rank, default=os.sched_getscheduler(0))
    return next((name for name, constant in _POLICIES.items() if getattr(os, constant, None) == best),
                "normal")


def describe_process() -> dict[str, int | str]:
    """Which process an actor runs in, at what niceness and policy (for operators and tests)."""
    return {"pid": os.getpid(), "niceness": niceness(), "policy": policy()}


def _policy_number(name: Policy) -> int | None:
    """The system's number for a policy, None where it has none (macOS has no SCHED_IDLE)."""
    if not hasattr(os, "sched_setscheduler"):
        return None
    number: int | None = getattr(os, _POLICIES[name], None)
    return number


def _rank(number: int) -> int:
    """How little a policy is favoured: normal 0, batch 1, idle 2 (real-time ones, which we never
    set, count as normal)."""
    order = [getattr(os, _POLICIES[name], None) for name in ("normal", "batch", "idle")]
    return order.index(number) if number in order else 0


def _threads() -> list[int]:
    """The ids of this process's threads where the system lists them (Linux), else the process (0)."""
    try:
        return [int(name) for name in os.listdir(_THREADS)]
    except OSError:
        return [0]

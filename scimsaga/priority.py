"""CPU priority of an actor's process: the request path first, the fan-out in the background.

On a machine with few cores, the identity actor that answers the IdP's request competes for the CPU
with the broker, the coordinator and the services busy with the previous users' sagas. Running those
at a higher niceness lets the scheduler hand the core to identity as soon as a request reaches it;
nothing is lost by it, since their work is asynchronous by design (measured in bench/fanout_suite.py).
Raising niceness needs no privilege, lowering it does: so the request path stays at the niceness Ray
gives its workers and the background goes up from there.
"""

from __future__ import annotations

import os

LOWEST = 19
"""The highest niceness, the lowest priority, Linux and macOS give a process."""

_THREADS = "/proc/self/task"


def run_at_niceness(target: int | None) -> int:
    """Raise the niceness of every thread of this process to ``target`` (None, or one not above the
    current: leave it); returns the niceness it runs at now.

    On Linux niceness belongs to each thread, and Ray's own threads (its gRPC and event loops) are
    running before an actor's constructor is, so each one is changed; threads started later inherit
    it from the thread that starts them.
    """
    if target is not None:
        target = min(target, LOWEST)
        for thread in _threads():
            try:
                if os.getpriority(os.PRIO_PROCESS, thread) < target:
                    os.setpriority(os.PRIO_PROCESS, thread, target)
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


def describe_process() -> dict[str, int]:
    """Which process an actor runs in, and at what niceness (for operators and tests)."""
    return {"pid": os.getpid(), "niceness": niceness()}


def _threads() -> list[int]:
    """The ids of this process's threads where the system lists them (Linux), else the process (0)."""
    try:
        return [int(name) for name in os.listdir(_THREADS)]
    except OSError:
        return [0]

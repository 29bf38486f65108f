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


def run_at_niceness(target: int | None) -> int:
    """Raise this process's niceness to ``target`` (None, or one not above the current: leave it);
    returns the niceness it runs at now."""
    current = niceness()
    if target is not None and target > current:
        os.setpriority(os.PRIO_PROCESS, 0, min(target, LOWEST))
    return niceness()


def niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, 0)


def describe_process() -> dict[str, int]:
    """Which process an actor runs in, and at what niceness (for operators and tests)."""
    return {"pid": os.getpid(), "niceness": niceness()}

"""CPU priority of an actor's process: the request path first, the fan-out in the background.

On a machine with few cores, the identity actor that answers the IdP's request competes for the CPU
with the broker, the coordinator and the services busy with the previous users' sagas. Running those
at a higher niceness lets the scheduler hand the core to identity as soon as a request reaches it;
nothing is lost by it, since their work is asynchronous by design (measured in bench/fanout_suite.py).
Only raising niceness needs no privilege, so the request path keeps Ray's worker niceness and the
background goes below it.
"""

from __future__ import annotations

import os


def lower_priority(by: int) -> int:
    """Raise this process's niceness by ``by`` (0: leave it); returns the niceness it runs at now."""
    if by > 0:
        return os.nice(by)
    return niceness()


def niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, 0)


def describe_process() -> dict[str, int]:
    """Which process an actor runs in, and at what niceness (for operators and tests)."""
    return {"pid": os.getpid(), "niceness": niceness()}

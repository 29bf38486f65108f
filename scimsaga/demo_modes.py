"""Scenario ``modes``: orchestration against choreography on the same workload.

Two deployments side by side, started with ``--mode orchestration`` and ``--mode choreography`` (the
second joins the first's Ray cluster), each given the same users and one cost center billing rejects.
Both must end in the same state; the comparison is how fast and with how many messages. Where this
build has no choreography, the scenario says so and runs nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from rich.table import Table

from .demo_client import Answer, new_user, provisioning
from .demo_deployment import Deployment, up_supports
from .demo_narration import Narrator, Unavailable, Verdict, fmt_ms, percentile

NAME = "modes"
LESSON = ("The same provisioning two ways: a coordinator that tells each service what to do "
          "(orchestration), or services that react to each other's events (choreography).")
MODES = ("orchestration", "choreography")
DEFAULT_USERS = 10
TIMEOUT = 90.0
REJECTED_COST_CENTER = "XX-1"


def available() -> bool:
    return up_supports("--mode", "choreography")


def unavailable_reason() -> str:
    return ("choreography is not available in this build: `scimsaga up --mode choreography` does not "
            "exist yet, so there is nothing to compare orchestration with")


@dataclass
class Outcome:
    """What one mode did with the workload."""

    mode: str
    created_ms: list[float] = field(default_factory=list)
    active_ms: list[float] = field(default_factory=list)
    active: int = 0
    rejected_gone: bool = False
    messages: int = 0
    users: int = 0
    finished: bool = False


def run(narrator: Narrator, tag: str, users: int | None,
        start: Callable[[str, str | None], Deployment], address: str | None) -> Verdict:
    """``start(mode, ray_address)`` starts a deployment in that mode (the caller stops them)."""
    narrator.title(NAME, LESSON)
    if not available():
        raise Unavailable(unavailable_reason())
    count = max(1, users or DEFAULT_USERS)
    outcomes: list[Outcome] = []
    for mode in MODES:
        deployment = start(mode, address)
        address = address or deployment.ray_address
        outcomes.append(_workload(narrator, deployment, mode, count, f"{tag}-{mode[:4]}"))
    _table(narrator, outcomes)
    same = all(o.finished and o.active == count and o.rejected_gone for o in outcomes)
    checks = [(f"{o.mode}: all {count} users active and the rejected one undone within {TIMEOUT:.0f}s",
               o.finished and o.active == count and o.rejected_gone) for o in outcomes]
    if same:
        parts = [f"{o.mode} p50 {fmt_ms(percentile(o.active_ms, 0.5))} with {o.messages} messages"
                 for o in outcomes]
        line = f"same end state both ways ({count} active, 1 undone); " + "; ".join(parts) + "."
    else:
        line = "; ".join(claim for claim, ok in checks if not ok) + " — did not happen"
    return Verdict(NAME, same, line, checks)


def _delivered(deployment: Deployment) -> tuple[int, int]:
    status = deployment.operations.status()
    subs = status.get("subscriptions") or []
    return (sum(int(s.get("delivered") or 0) for s in subs), sum(int(s.get("lag") or 0) for s in subs))


def _workload(n: Narrator, d: Deployment, mode: str, count: int, tag: str) -> Outcome:
    """One user at a time, each watched until active: the latency of a saga on a quiet system."""
    outcome = Outcome(mode, users=count)
    n.step(f"[bold]{mode}[/]: {count} users one after the other, then one with costCenter "
           f"{REJECTED_COST_CENTER}")
    delivered_before, _ = _delivered(d)
    deadline = time.monotonic() + TIMEOUT
    with n.counted(f"{mode}: users active", count) as progress:
        for i in range(count):
            answer = d.scim.create_user(new_user(f"m-{tag}-{i:03d}@example.com"), f"demo-modes-{tag}-{i}")
            if answer.status != 201:
                continue
            outcome.created_ms.append(answer.ms)
            user_id: str = answer.body["id"]
            active_at = _until(_active, partial(d.scim.get_user, user_id), deadline)
            if active_at is not None:
                outcome.active += 1
                outcome.active_ms.append((active_at - answer.sent) * 1000)
            progress(i + 1)
        rejected = d.scim.create_user(new_user(f"m-{tag}-rejected@example.com", REJECTED_COST_CENTER),
                                      f"demo-modes-{tag}-rejected")
        if rejected.status == 201:
            undone = _until(_undone, partial(d.scim.get_user, str(rejected.body["id"])), deadline)
            outcome.rejected_gone = undone is not None
    outcome.finished = time.monotonic() < deadline
    settle = time.monotonic() + 10
    while time.monotonic() < settle and _delivered(d)[1] > 0:  # let the last replies land before counting
        time.sleep(0.1)
    outcome.messages = _delivered(d)[0] - delivered_before
    report = n.good if outcome.active == count and outcome.rejected_gone else n.bad
    report(f"{mode}: {outcome.active} of {count} active (p50 {_ms(outcome.active_ms, 0.5)} from POST to "
           f"active), rejected user {'undone' if outcome.rejected_gone else 'NOT undone'}; "
           f"{outcome.messages} messages on the bus")
    return outcome


def _active(answer: Answer) -> bool:
    return answer.status == 200 and answer.body.get("active") is True


def _undone(answer: Answer) -> bool:
    """Gone, or kept deactivated and marked failed (``--on-failure deactivate``)."""
    return answer.status == 404 or (answer.status == 200 and answer.body.get("active") is False
                                    and provisioning(answer.body).get("state") == "failed")


def _until(good: Callable[[Answer], bool], ask: Callable[[], Answer], deadline: float) -> float | None:
    """Ask until the answer is good; the wall-clock time it arrived, or None past the deadline."""
    while time.monotonic() < deadline:
        answer = ask()
        if good(answer):
            return answer.received
        time.sleep(0.01)
    return None


def _ms(values: list[float], share: float) -> str:
    return fmt_ms(percentile(values, share)) if values else "—"


def _table(n: Narrator, outcomes: list[Outcome]) -> None:
    table = Table(title="same workload, two modes", show_lines=False)
    table.add_column("")
    for o in outcomes:
        table.add_column(o.mode, justify="right")
    rows: list[tuple[str, Callable[[Outcome], Any]]] = [
        ("201 Created, p50", lambda o: _ms(o.created_ms, 0.5)),
        ("POST → active, p50", lambda o: _ms(o.active_ms, 0.5)),
        ("POST → active, p95", lambda o: _ms(o.active_ms, 0.95)),
        ("users active", lambda o: f"{o.active} / {o.users}"),
        ("rejected user undone", lambda o: "yes" if o.rejected_gone else "no"),
        ("messages on the bus", lambda o: str(o.messages)),
    ]
    for label, cell in rows:
        table.add_row(label, *(str(cell(o)) for o in outcomes))
    n.console.print(table)

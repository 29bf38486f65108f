"""Scenario ``billing-down``: billing stopped, users still created, the lag growing, billing back, the
lag draining. Billing's faults are put back as they were, whatever happens.
"""

from __future__ import annotations

import time
from typing import Any

from .demo_client import new_user, service_states
from .demo_narration import Verdict, fmt_ms, percentile
from .demo_stage import Stage, begin

NAME = "billing-down"
LESSON = ("Billing stops. Users are still created (201 at once) and wait, pending; the bus keeps their "
          "commands. Billing comes back and catches up.")
SERVICE = "billing"
DEFAULT_USERS = 10
GROW_TIMEOUT = 60.0
DRAIN_TIMEOUT = 120.0


def run(stage: Stage) -> Verdict:
    ops = stage.deployment.operations
    if (not_run := begin(stage, NAME, LESSON)) is not None:
        return not_run
    count = stage.count(DEFAULT_USERS)
    before = ops.chaos(SERVICE)  # no change: the faults in force, to put back at the end
    baseline = ops.lag_of(SERVICE)
    try:
        return _run(stage, count, baseline)
    finally:
        ops.chaos(SERVICE, down=bool(before.get("down")), latency_ms=int(before.get("latency_ms") or 0),
                  fail_rate=float(before.get("fail_rate") or 0.0))


def _run(stage: Stage, count: int, baseline: int) -> Verdict:
    n, d = stage.narrator, stage.deployment
    ops = d.operations
    n.step(f"Switch [bold]{SERVICE}[/] down (the chaos switch: it stops taking deliveries)")
    ops.chaos(SERVICE, down=True)
    n.good(f"{SERVICE} is {ops.service(SERVICE).get('state')}")

    n.step(f"The IdP creates {count} users")
    ids: list[str] = []
    latencies: list[float] = []
    statuses: list[int] = []
    with n.counted(f"POST /Users x {count}", count) as progress:
        for i in range(count):
            answer = d.scim.create_user(new_user(stage.user_name("down", i)), f"demo-down-{stage.tag}-{i}")
            statuses.append(answer.status)
            latencies.append(answer.ms)
            if answer.status == 201:
                ids.append(answer.body["id"])
            progress(i + 1)
    created = statuses.count(201)
    summary = f"p50 {fmt_ms(percentile(latencies, 0.5))}, max {fmt_ms(max(latencies))}"
    if created == count:
        n.good(f"all {count} answered 201 Created ({summary}): identity does not need {SERVICE} to answer")
    else:
        n.bad(f"{created} of {count} answered 201 (statuses: {sorted(set(statuses))})")

    n.step(f"Watch {SERVICE}'s lag: its commands wait in the bus")
    target = baseline + created
    grew = n.watch(lambda lag: f"{SERVICE} lag {lag} of {target}", lambda: ops.lag_of(SERVICE),
                   lambda lag: lag >= target, timeout=GROW_TIMEOUT, interval=0.2,
                   progress=lambda lag: (min(lag - baseline, created), created))
    peak = grew.value
    if grew.met:
        n.good(f"{SERVICE}'s lag is {peak} after {fmt_ms(grew.seconds * 1000)}")
    else:
        n.bad(f"{SERVICE}'s lag reached only {peak} of {target} within {GROW_TIMEOUT:.0f}s")
    waiting = _pending_on_billing(stage, ids)
    if ids:
        sample = d.scim.get_user(ids[0]).body
        states = ", ".join(f"{k} {v}" for k, v in service_states(sample).items())
        n.info(f"{waiting} of {len(ids)} users read active: false; one of them: {states}")

    n.step(f"Switch [bold]{SERVICE}[/] back up")
    up_at = _now_ms()
    ops.chaos(SERVICE, down=False)
    drained = n.watch(lambda lag: f"{SERVICE} lag {lag}, draining", lambda: ops.lag_of(SERVICE),
                      lambda lag: lag <= baseline, timeout=DRAIN_TIMEOUT, interval=0.1,
                      progress=lambda lag: (max(0, peak - lag), max(peak - baseline, 1)))
    if drained.met:
        n.good(f"the lag drained to {drained.value} in {fmt_ms(drained.seconds * 1000)}")
    else:
        n.bad(f"the lag is still {drained.value} after {DRAIN_TIMEOUT:.0f}s")
    active = n.watch(lambda k: f"{k} of {len(ids)} users active", lambda: _active(stage, ids),
                     lambda k: k == len(ids), timeout=DRAIN_TIMEOUT, interval=0.2,
                     progress=lambda k: (k, max(len(ids), 1)))
    all_active_ms = _now_ms() - up_at
    if active.met:
        n.good(f"all {len(ids)} users active {fmt_ms(all_active_ms)} after {SERVICE} came back")
    else:
        n.bad(f"only {active.value} of {len(ids)} users active")

    checks = [
        (f"every POST is answered 201 while {SERVICE} is down", created == count),
        (f"{SERVICE}'s lag grows by the {created} waiting users", grew.met),
        (f"the users wait (active: false) while {SERVICE} is down", waiting == len(ids)),
        (f"the lag drains once {SERVICE} is back", drained.met),
        ("every user turns active", active.met),
    ]
    held = all(ok for _, ok in checks)
    line = (f"{count} users created while {SERVICE} was down (all 201, {summary}); its lag rose to {peak} "
            f"and drained in {fmt_ms(drained.seconds * 1000)} once it was back; all {len(ids)} active."
            if held else "; ".join(claim for claim, ok in checks if not ok) + " — did not happen")
    return Verdict(NAME, held, line, checks)


def _pending_on_billing(stage: Stage, ids: list[str]) -> int:
    """How many of the users read inactive with billing not done."""
    waiting = 0
    for user_id in ids:
        body: Any = stage.deployment.scim.get_user(user_id).body
        if isinstance(body, dict) and body.get("active") is False \
                and service_states(body).get(SERVICE) != "done":
            waiting += 1
    return waiting


def _active(stage: Stage, ids: list[str]) -> int:
    bodies = (stage.deployment.scim.get_user(user_id).body for user_id in ids)
    return sum(1 for body in bodies if isinstance(body, dict) and body.get("active") is True)


def _now_ms() -> float:
    return time.monotonic() * 1000

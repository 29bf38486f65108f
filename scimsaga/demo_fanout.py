"""Scenario ``fanout``: one POST, the 201 before any service knew, then each service catching up.

Live, the demo polls the user as the IdP would (its provisioning extension shows each service's
state); afterwards it reads the coordinator's history for the exact moments.
"""

from __future__ import annotations

from typing import Any

from .demo_client import new_user, provisioning, service_states
from .demo_narration import Verdict, fmt_ms
from .demo_stage import Stage, begin, history, saga_of, service_in, step_names

NAME = "fanout"
LESSON = "One POST. Identity answers 201 at once, before any service knew; then each service catches up."
TIMEOUT = 30.0


def run(stage: Stage) -> Verdict:
    n, d = stage.narrator, stage.deployment
    if (not_run := begin(stage, NAME, LESSON)) is not None:
        return not_run
    name = stage.user_name("ada")
    n.step(f"The IdP sends [bold]POST /Users[/] for {name}")
    answer = d.scim.create_user(new_user(name), f"demo-fanout-{stage.tag}")
    if answer.status != 201:
        return Verdict(NAME, False, f"POST /Users answered {answer.status}: {answer.body}")
    user: dict[str, Any] = answer.body
    states = service_states(user)
    pending = bool(states) and all(s == "pending" for s in states.values()) and user.get("active") is False
    shown = ", ".join(f"{k} {v}" for k, v in states.items()) or "no services listed"
    n.at(answer.ms, f"[bold green]201 Created[/]  active: {str(user.get('active')).lower()} · "
                    f"provisioning {provisioning(user).get('state')} ({shown})")
    if pending:
        n.good("identity answered from its own store: no service knew of the user yet")
    else:
        n.bad("the 201 did not show every service pending")

    n.step("The IdP polls GET /Users/{id}; each service's state changes as the saga reaches it")
    origin = answer.sent
    seen = dict(states)
    seen_at: dict[str, float] = {}
    active_at: list[float] = []

    def observe(reply: Any) -> bool:
        if reply.status != 200:
            return False
        now = dict(service_states(reply.body))
        for service, state in now.items():
            if seen.get(service) != state:
                ms = (reply.received - origin) * 1000
                n.at(ms, f"{service}: {seen.get(service, '?')} → [bold]{state}[/]  (seen by the IdP)")
                seen[service] = state
                if state == "done":
                    seen_at[service] = ms
        if reply.body.get("active") is True and not active_at:
            active_at.append((reply.received - origin) * 1000)
            n.at(active_at[0], "[bold green]active: true[/]  the saga completed")
        return bool(active_at)

    watched = n.watch(lambda _: "waiting for every service", lambda: d.scim.get_user(user["id"]), observe,
                      timeout=TIMEOUT, interval=0.01)
    all_done = bool(seen) and all(state == "done" for state in seen.values())

    saga = saga_of(stage, user["id"])
    step_ms: dict[str, float] = {}
    if saga is not None:
        n.step("What the coordinator recorded (its clock, from the moment the IdP sent the POST)")
        names = step_names(saga)
        for at, event in history(saga):
            ms = at - origin * 1000
            n.at(ms, event, "dim" if service_in(event, names) is None else "")
            service = service_in(event, names)
            if service and service not in step_ms:
                step_ms[service] = ms
        first = min(step_ms.values(), default=None)
        if first is not None:
            n.info(f"the first service finished {fmt_ms(first - answer.ms)} after the 201 reached the IdP")
    else:
        n.info("no coordinator history (choreography has no coordinator): timings are the IdP's view")

    caught = step_ms or seen_at
    order = ", ".join(f"{s} {fmt_ms(ms)}" for s, ms in sorted(caught.items(), key=lambda kv: kv[1]))
    checks = [
        ("the POST is answered 201 with every service pending and active: false", pending),
        (f"every service catches up and the user turns active within {TIMEOUT:.0f}s",
         watched.met and all_done),
    ]
    held = all(ok for _, ok in checks)
    if held:
        line = (f"the 201 came back in {fmt_ms(answer.ms)} with every service pending; then {order}; "
                f"active after {fmt_ms(active_at[0])}.")
    else:
        line = "; ".join(claim for claim, ok in checks if not ok) + " — did not happen"
    return Verdict(NAME, held, line, checks)

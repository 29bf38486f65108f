"""Scenario ``compensation``: a cost center billing rejects, the completed steps undone in reverse
order, the user gone (or kept deactivated where the deployment says ``--on-failure deactivate``).
"""

from __future__ import annotations

from typing import Any

from .demo_client import new_user, provisioning, service_states
from .demo_narration import Verdict, fmt_ms
from .demo_stage import Stage, begin, history, saga_of, service_in, step_names

NAME = "compensation"
LESSON = ("Billing rejects the user's cost center: a business 'no', never retried. What the other "
          "services did is undone in reverse order, and the user is gone.")
REJECTED_COST_CENTER = "XX-1"
TIMEOUT = 30.0


def run(stage: Stage) -> Verdict:
    n, d = stage.narrator, stage.deployment
    if (not_run := begin(stage, NAME, LESSON)) is not None:
        return not_run
    name = stage.user_name("mallory")
    n.step(f"The IdP sends POST /Users for {name} with costCenter [bold]{REJECTED_COST_CENTER}[/] "
           "(billing's rule wants CC- and four digits)")
    answer = d.scim.create_user(new_user(name, cost_center=REJECTED_COST_CENTER), f"demo-comp-{stage.tag}")
    if answer.status != 201:
        return Verdict(NAME, False, f"POST /Users answered {answer.status}: {answer.body}")
    user_id = answer.body["id"]
    n.at(answer.ms, "[bold green]201 Created[/]  pending: nobody has said no yet")

    n.step("The IdP polls GET /Users/{id} while the saga runs")
    origin = answer.sent
    seen = service_states(answer.body)
    outcome: dict[str, Any] = {}

    def observe(reply: Any) -> bool:
        ms = (reply.received - origin) * 1000
        if reply.status == 404:
            outcome.update(gone=True, ms=ms)
            n.at(ms, "[bold]404 Not Found[/]  the user is gone")
            return True
        if reply.status != 200:
            return False
        for service, state in service_states(reply.body).items():
            if seen.get(service) != state:
                style = "red" if state in ("failed", "compensated") else ""
                n.at(ms, f"{service}: {seen.get(service, '?')} → [bold]{state}[/]", style)
                seen[service] = state
        if reply.body.get("active") is True:
            outcome.update(gone=False, ms=ms, activated=True)
            n.at(ms, "[bold red]active: true[/]  nobody said no: the cost center passed billing's rule")
            return True
        if provisioning(reply.body).get("state") == "failed":
            outcome.update(gone=False, ms=ms, kept=True)
            n.at(ms, "[bold]kept, deactivated[/] (this deployment runs with --on-failure deactivate)")
            return True
        return False

    watched = n.watch(lambda _: "waiting for the saga to end", lambda: d.scim.get_user(user_id), observe,
                      timeout=TIMEOUT, interval=0.005)

    rejected = done_order = undone_order = None
    saga = saga_of(stage, user_id)
    if saga is not None:
        n.step("What the coordinator recorded")
        names = step_names(saga)
        done_order, undone_order = [], []
        for at, event in history(saga):
            n.at(at - origin * 1000, event, "red" if "compensat" in event or "Rejected" in event else "")
            service = service_in(event, names)
            if service is None:
                continue
            if "(compensated)" in event:
                undone_order.append(service)
            elif any(word in event for word in ("Rejected", "failed", "refused")):
                rejected = rejected or service
            elif "no reply" not in event:
                done_order.append(service)
        n.info(f"done: {' → '.join(done_order) or 'nothing'};  "
               f"undone: {' → '.join(undone_order) or 'nothing'}")
    else:
        n.info("no coordinator history (choreography has no coordinator): the IdP's view only")

    gone = bool(outcome.get("gone")) or bool(outcome.get("kept"))
    checks = [("billing rejects the cost center", (rejected == "billing") if saga is not None
               else seen.get("billing") == "failed")]
    if undone_order is not None:  # only a coordinator's record shows the order of the undo
        checks.append(("the completed steps are undone in reverse order",
                       bool(undone_order) and undone_order == list(reversed(done_order or []))))
    checks.append((f"the user is gone (404) within {TIMEOUT:.0f}s", watched.met and gone))
    held = all(ok for _, ok in checks)
    undo = (f"{' then '.join(undone_order)} undone in reverse order" if undone_order
            else "each service undid its own step (no coordinator, so no order to check)")
    end = "kept deactivated" if outcome.get("kept") else "gone (404)"
    line = (f"billing rejected costCenter {REJECTED_COST_CENTER}; {undo}; "
            f"the user was {end} {fmt_ms(outcome.get('ms', 0.0))} after the POST."
            if held else "; ".join(claim for claim, ok in checks if not ok) + " — did not happen")
    return Verdict(NAME, held, line, checks)

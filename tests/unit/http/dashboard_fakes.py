"""Fakes for the dashboard and metrics tests: an OperationsPort kept in memory, shaped like the real one."""

from __future__ import annotations

import copy
from typing import Any

SERVICES = ("identity", "billing", "profile", "access", "saga")
TOPICS = {  # subscriber -> topics it reads, as actors/topology.py declares them
    "identity": ("identity.commands",),
    "billing": ("billing.commands",),
    "profile": ("profile.commands",),
    "access": ("access.commands",),
    "saga": ("identity", "billing", "profile", "access"),
}


def subscription(subscriber: str, topic: str, delivered: int = 0, lag: int = 0, dead: int = 0,
                 state: str = "idle") -> dict[str, Any]:
    return {"name": f"{subscriber}<-{topic}", "topic": topic, "subscriber": subscriber, "position": delivered,
            "lag": lag, "retrying": 0, "in_flight": 0, "dead_letters": dead, "delivered": delivered,
            "redelivered": 0, "oldest_unacked_age_s": 1.5 if lag else 0.0, "state": state, "last_error": None}


def status(users: int = 3) -> dict[str, Any]:
    """A deployment that provisioned ``users`` users, each a 3-step saga."""
    services = [
        {"name": "identity", "state": "up", "processed": 4 * users, "outbox": 0,
         "users": {"active": users}},
        {"name": "billing", "state": "up", "processed": users, "outbox": 0, "customers": {"open": users}},
        {"name": "profile", "state": "up", "processed": users, "outbox": 0, "profiles": users},
        {"name": "access", "state": "up", "processed": users, "outbox": 0, "grants": 2 * users},
        {"name": "saga", "state": "up", "processed": 5 * users, "outbox": 0, "sagas": {"completed": users}},
    ]
    subs = [subscription(subscriber, topic, delivered=users)
            for subscriber, topics in TOPICS.items() for topic in topics]
    for sub in subs:
        if sub["name"] == "identity<-identity.commands":
            sub["delivered"] = 4 * users  # three progress reports and the activation per user
        if sub["name"] == "saga<-identity":
            sub["delivered"] = 2 * users  # created and activated
    return {"services": services, "subscriptions": subs, "sagas": {"completed": users}}


class FakeOperations:
    """The OperationsPort in memory: status, recent sagas, and the chaos switches it records."""

    def __init__(self, state: dict[str, Any] | None = None,
                 sagas: list[dict[str, Any]] | None = None) -> None:
        self.state = state if state is not None else status()
        self.sagas = sagas or []
        self.faults: dict[str, dict[str, Any]] = {}
        self.killed: list[str] = []
        self.status_calls = 0
        self.fail_with: Exception | None = None

    def status(self) -> dict[str, Any]:
        self.status_calls += 1
        if self.fail_with is not None:
            raise self.fail_with
        return copy.deepcopy(self.state)

    def recent_sagas(self, limit: int) -> list[dict[str, Any]]:
        if self.fail_with is not None:
            raise self.fail_with
        return copy.deepcopy(self.sagas[:limit])

    def chaos(self, name: str, **changes: Any) -> dict[str, Any]:
        faults = self.faults.setdefault(name, {"down": False, "latency_ms": 0, "fail_rate": 0.0})
        faults.update(changes)
        for service in self.state["services"]:
            if service["name"] == name:
                service["state"] = "down" if faults["down"] else "up"
        return dict(faults)

    def kill(self, name: str) -> None:
        self.killed.append(name)


def saga(user_id: str = "u1", correlation_id: str = "req-1", user_name: str = "ada@example.com",
         start: str = "2026-11-29T23:00:01.368", rejected: bool = False) -> dict[str, Any]:
    """A provisioning saga as the coordinator reports it (history entries as it writes them)."""
    t = [f"{start[:-3]}{int(start[-3:]) + d:03d}Z" for d in (0, 0, 42, 125, 160, 175, 190, 205)]
    if rejected:
        history = [(t[0], "provision saga for a new user"), (t[1], "started"),
                   (t[2], "profile: profile.ProfileCreated (u1)"),
                   (t[3], "access: access.DefaultsGranted (wiki:read,chat:member)"),
                   (t[4], "billing: billing.CustomerRejected: costCenter 'XX-1' does not match the rule"),
                   (t[5], "access: access.AccessRevoked (compensated)"),
                   (t[6], "profile: profile.ProfileRemoved (compensated)"),
                   (t[7], "identity.UserCompensated; compensated")]
        status, steps = "compensated", [("profile", "compensated"), ("access", "compensated"),
                                        ("billing", "failed")]
    else:
        history = [(t[0], "provision saga for a new user"), (t[1], "started"),
                   (t[2], "profile: profile.ProfileCreated (u1)"),
                   (t[3], "access: access.DefaultsGranted (wiki:read,chat:member)"),
                   (t[4], "billing: billing.CustomerCreated (cus_1)"),
                   (t[5], "identity.UserActivated; completed")]
        status, steps = "completed", [("profile", "done"), ("access", "done"), ("billing", "done")]
    return {
        "id": f"provision-{user_id}", "definition": "provision", "user_id": user_id,
        "user": {"id": user_id, "userName": user_name}, "correlation_id": correlation_id,
        "status": status,
        "reason": "billing: costCenter 'XX-1' does not match the rule" if rejected else None,
        "steps": [{"name": name, "state": state} for name, state in steps],
        "history": [{"at": at, "event": event} for at, event in history],
        "started_at": t[0], "updated_at": history[-1][0],
    }

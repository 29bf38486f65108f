"""What every scenario gets (:class:`Stage`) and the small readings they share."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .demo_client import DeploymentError
from .demo_deployment import Deployment
from .demo_narration import Narrator, Verdict


@dataclass
class Stage:
    """A scenario's world: the narrator, the deployment it drives, and this run's tag for user names."""

    narrator: Narrator
    deployment: Deployment
    tag: str
    users: int | None = None

    def user_name(self, who: str, index: int | None = None) -> str:
        suffix = "" if index is None else f"-{index:03d}"
        return f"{who}-{self.tag}{suffix}@example.com"

    def count(self, default: int) -> int:
        return max(1, self.users or default)


PROVISIONING = ("identity", "saga", "profile", "access", "billing")
"""The services a provisioning goes through; another service (an exercise's marketing) may be down."""


def preflight(stage: Stage, services: Iterable[str] = PROVISIONING) -> list[str]:
    """Problems that would spoil the lesson: services switched down, slow or failing by an earlier run."""
    status = stage.deployment.operations.status()
    wanted = set(services)
    problems = []
    for service in status.get("services") or []:
        name, state = str(service.get("name")), str(service.get("state", "up"))
        if state != "up" and name in wanted:
            problems.append(f"{name} is {state}: switch it back with `scimsaga chaos {name} --up` "
                            "or the dashboard's Up button")
    return problems


def begin(stage: Stage, name: str, lesson: str) -> Verdict | None:
    """Title the scenario; a verdict of "not run" when :func:`preflight` finds a problem, else None."""
    stage.narrator.title(name, lesson)
    for problem in preflight(stage):
        stage.narrator.bad(problem)
        return Verdict(name, False, f"not run: {problem}")
    return None


def epoch_ms(text: Any) -> float | None:
    """An RFC 3339 timestamp as milliseconds since the epoch (None if it is not one)."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp() * 1000


def saga_of(stage: Stage, user_id: str, definition: str | None = "provision") -> dict[str, Any] | None:
    """The coordinator's record of the user's saga (the newest), or None (e.g. no coordinator)."""
    try:
        sagas = stage.deployment.operations.recent_sagas(100)
    except DeploymentError:
        return None
    for saga in sagas:
        if saga.get("user_id") == user_id and (definition is None or saga.get("definition") == definition):
            return saga
    return None


def has_coordinator(stage: Stage) -> bool:
    """Whether the deployment keeps a record of its sagas (orchestration does; choreography does not)."""
    try:
        stage.deployment.operations.recent_sagas(1)
    except DeploymentError:
        return False
    return True


def sagas_by_user(stage: Stage, definition: str = "provision", limit: int = 200) -> dict[str, dict[str, Any]]:
    """The newest saga of each user among the coordinator's recent ones ({} without a coordinator)."""
    try:
        sagas = stage.deployment.operations.recent_sagas(limit)
    except DeploymentError:
        return {}
    found: dict[str, dict[str, Any]] = {}
    for saga in sagas:  # newest first
        if saga.get("definition") == definition:
            found.setdefault(str(saga.get("user_id")), saga)
    return found


def history(saga: dict[str, Any]) -> list[tuple[float, str]]:
    """The saga's history as (epoch ms, what happened)."""
    out = []
    for entry in saga.get("history") or []:
        at = epoch_ms(entry.get("at")) if isinstance(entry, dict) else None
        if at is not None:
            out.append((at, str(entry.get("event", ""))))
    return out


def service_in(event: str, services: Iterable[str]) -> str | None:
    """The service a history entry speaks of (``"billing: billing.CustomerCreated"`` → billing)."""
    head, sep, _ = event.partition(": ")
    return head if sep and head in set(services) else None


def step_names(saga: dict[str, Any]) -> list[str]:
    steps = saga.get("steps") or saga.get("services") or []
    return [str(s.get("name")) for s in steps if isinstance(s, dict) and s.get("name")]

"""The sagas as data: provisioning, reactivation, deactivation, updates and deprovisioning.

Both modes read these: the coordinator (orchestration) sends their commands in order; in choreography
each service finds its own step here and runs it when identity's event arrives. Adding a service to
provisioning is adding a step here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from .saga_machine import Parallel, Retry, SagaDefinition, Step

PROVISIONING = SagaDefinition(
    name="provision",
    stages=(
        Step("profile", "profile.CreateProfile", "profile.RemoveProfile"),
        Step("access", "access.GrantDefaults", "access.RevokeAll"),
        Step("billing", "billing.CreateCustomer", "billing.CloseCustomer"),
    ),
    on_success="identity.ActivateUser",
    on_failure="identity.CompensateUser",
    report_progress=True,
)

REACTIVATION = SagaDefinition(
    name="reactivate",
    stages=PROVISIONING.stages,
    on_success="identity.ActivateUser",
    on_failure="identity.FailUser",
    report_progress=True,
)

DEACTIVATION = SagaDefinition(
    name="deactivate",
    stages=(Parallel(Step("access", "access.RevokeAll"),
                     Step("billing", "billing.CloseCustomer")),),
    on_success="identity.DeactivateUser",
)

UPDATE = SagaDefinition(
    name="update",
    stages=(Step("profile", "profile.UpdateProfile"),),
)

DEPROVISIONING = SagaDefinition(
    name="deprovision",
    stages=(Parallel(Step("billing", "billing.CloseCustomer"),
                     Step("access", "access.RevokeAll"),
                     Step("profile", "profile.RemoveProfile")),),
)

DEFINITIONS = (PROVISIONING, REACTIVATION, DEACTIVATION, UPDATE, DEPROVISIONING)
STARTS_SERVICES = ("provision", "reactivate")
"""Sagas a deletion cancels: what they created must be undone rather than deprovisioned."""

IDENTITY_ANSWERS = ("identity.UserActivated", "identity.UserCompensated", "identity.UserFailed",
                    "identity.UserDeactivated")


def with_retry(definition: SagaDefinition, retry: Retry) -> SagaDefinition:
    """The definition with ``retry`` for every step and for the final command to identity."""

    def step(s: Step) -> Step:
        return replace(s, retry=retry)

    stages = tuple(Parallel(*map(step, st.steps)) if isinstance(st, Parallel) else step(st)
                   for st in definition.stages)
    return replace(definition, stages=stages, finish_retry=retry)


def requested_active(payload: Mapping[str, Any]) -> bool:
    """The ``active`` value the IdP asked for (identity serves ``false`` while provisioning runs)."""
    requested = payload.get("requested_active")
    if isinstance(requested, bool):
        return requested
    user = payload.get("user") or {}
    return user.get("active", True) is not False

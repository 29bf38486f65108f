"""The one place where hosts become Ray actors.

Every actor is named in the deployment's namespace (so ``scimsaga status`` and ``chaos`` can find
it), restarts without limit when it dies (its state is in SQLite, so a restart loses nothing), needs
no CPU reservation (the work is I/O-bound and small), and takes one call at a time: calls from one
caller run in order, which keeps per-user order.
"""

from __future__ import annotations

from typing import Any

import ray

from ..bus.broker import SubscriptionSpec
from ..bus.ray_transport import BROKER_NAME, BrokerActor, RayPublisher
from ..settings import Settings
from .topology import ServiceSpec, Tier

ACTOR_OPTIONS: dict[str, Any] = {
    "max_restarts": -1,
    "max_task_retries": 0,
    "num_cpus": 0,
    "max_concurrency": 1,
}


def start_service(spec: ServiceSpec, settings: Settings) -> Any:
    """Create the service's actor; returns its handle at once (the actor starts in the background).

    Ray keeps the constructor's arguments, so an actor it restarts runs at the same priority.
    """
    actor_class = ray.remote(spec.host)
    return actor_class.options(name=spec.name, namespace=settings.namespace, **ACTOR_OPTIONS).remote(
        spec.build(settings), settings, RayPublisher(settings.namespace), **priority_of(spec.tier, settings))


def start_broker(settings: Settings, subscriptions: list[SubscriptionSpec]) -> Any:
    actor_class = ray.remote(BrokerActor)
    return actor_class.options(name=BROKER_NAME, namespace=settings.namespace, **ACTOR_OPTIONS).remote(
        settings, subscriptions, **priority_of("background", settings))


def priority_of(tier: Tier, settings: Settings) -> dict[str, Any]:
    """The ``niceness`` and ``policy`` an actor of ``tier`` is given (None: keep the worker's own)."""
    if tier == "coordinator":
        return {"niceness": settings.coordinator_niceness, "policy": settings.coordinator_policy}
    if tier == "background":
        return {"niceness": settings.background_niceness, "policy": settings.background_policy}
    return {"niceness": None, "policy": None}

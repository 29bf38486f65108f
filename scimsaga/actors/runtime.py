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
from .topology import ServiceSpec

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
    niceness, policy = {"request": (None, None),
                        "coordinator": (settings.coordinator_niceness, settings.coordinator_policy),
                        "background": (settings.background_niceness, settings.background_policy)}[spec.tier]
    return actor_class.options(name=spec.name, namespace=settings.namespace, **ACTOR_OPTIONS).remote(
        spec.build(settings), settings, RayPublisher(settings.namespace), niceness=niceness, policy=policy)


def start_broker(settings: Settings, subscriptions: list[SubscriptionSpec]) -> Any:
    actor_class = ray.remote(BrokerActor)
    return actor_class.options(name=BROKER_NAME, namespace=settings.namespace, **ACTOR_OPTIONS).remote(
        settings, subscriptions, niceness=settings.background_niceness, policy=settings.background_policy)

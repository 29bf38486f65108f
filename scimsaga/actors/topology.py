"""The system's topology as data: which services run, what each subscribes to.

Adding a service is one module and one line here (and a saga step, if the saga should drive it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from ..bus.broker import SubscriptionSpec
from ..settings import Settings
from .access import AccessService
from .billing import BillingService
from .host import ServiceHost
from .identity import IdentityHost, IdentityService
from .profile import ProfileService
from .saga import PROVISIONING, SagaCoordinator, SagaHost
from .service import Service


@dataclass(frozen=True)
class ServiceSpec:
    """One service of the deployment: how to build it, how to host it, which topics it reads."""

    name: str
    build: Callable[[Settings], Service]
    subscribes_to: tuple[str, ...]
    host: type[ServiceHost] = ServiceHost


TOPOLOGY: tuple[ServiceSpec, ...] = (
    ServiceSpec("identity", partial(IdentityService, provisioned_by=[s.service for s in PROVISIONING.steps]),
                ("identity.commands",), IdentityHost),
    ServiceSpec("billing", BillingService, ("billing.commands",)),
    ServiceSpec("profile", ProfileService, ("profile.commands",)),
    ServiceSpec("access", AccessService, ("access.commands",)),
    ServiceSpec("saga", SagaCoordinator, ("identity", "billing", "profile", "access"), SagaHost),
)


def subscriptions(topology: Sequence[ServiceSpec]) -> list[SubscriptionSpec]:
    """Every (topic, subscriber) pair the broker must deliver."""
    return [SubscriptionSpec(topic, spec.name) for spec in topology for topic in spec.subscribes_to]

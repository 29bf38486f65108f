"""The system's topology as data: which services run, what each subscribes to.

Adding a service is one module and one line here (and a saga step, if the saga should drive it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Literal

from ..bus.broker import SubscriptionSpec
from ..settings import Settings
from .access import AccessService
from .billing import BillingService
from .definitions import PROVISIONING
from .host import ServiceHost
from .identity import IdentityHost, IdentityService
from .profile import ProfileService
from .saga import SagaCoordinator, SagaHost
from .service import Service

Tier = Literal["request", "coordinator", "background"]


@dataclass(frozen=True)
class ServiceSpec:
    """One service of the deployment: how to build it, how to host it, which topics it reads."""

    name: str
    build: Callable[[Settings], Service]
    subscribes_to: tuple[str, ...]
    host: type[ServiceHost] = ServiceHost
    tier: Tier = "background"
    """Its CPU priority: ``request`` (on the path of an HTTP request: identity) runs at the niceness
    of Ray's workers, ``coordinator`` at ``Settings.coordinator_niceness``, ``background`` at
    ``Settings.background_niceness`` (``priority.py``)."""


TOPOLOGY: tuple[ServiceSpec, ...] = (
    ServiceSpec("identity", partial(IdentityService, provisioned_by=[s.service for s in PROVISIONING.steps]),
                ("identity.commands",), IdentityHost, tier="request"),
    ServiceSpec("billing", BillingService, ("billing.commands",)),
    ServiceSpec("profile", ProfileService, ("profile.commands",)),
    ServiceSpec("access", AccessService, ("access.commands", "identity")),
    ServiceSpec("saga", SagaCoordinator, ("identity", "billing", "profile", "access"), SagaHost,
                tier="coordinator"),
)


CHOREOGRAPHY: tuple[ServiceSpec, ...] = (
    ServiceSpec("identity", partial(IdentityService, provisioned_by=[s.service for s in PROVISIONING.steps]),
                ("billing", "profile", "access"), IdentityHost, tier="request"),
    ServiceSpec("billing", BillingService, ("identity", "profile", "access")),
    ServiceSpec("profile", ProfileService, ("identity", "billing", "access")),
    ServiceSpec("access", AccessService, ("identity", "billing", "profile")),
)
"""No coordinator: services react to identity's events and to each other's failures; identity
watches the outcomes."""


def topology_for(mode: str) -> tuple[ServiceSpec, ...]:
    """The deployment's services and subscriptions in ``orchestration`` or ``choreography`` mode."""
    return CHOREOGRAPHY if mode == "choreography" else TOPOLOGY


def subscriptions(topology: Sequence[ServiceSpec]) -> list[SubscriptionSpec]:
    """Every (topic, subscriber) pair the broker must deliver."""
    return [SubscriptionSpec(topic, spec.name) for spec in topology for topic in spec.subscribes_to]


def sink_topology(sinks: int, topic: str = "sink.events", *, source: bool = True) -> tuple[ServiceSpec, ...]:
    """``sinks`` sink services (``sink-1`` ...) subscribed to ``topic``, and a ``source`` that emits
    to it through its outbox: the bus alone, for its tests and benchmarks (see actors/sink.py)."""
    from .sink import SinkHost, SinkService

    specs = [ServiceSpec(f"sink-{i}", partial(SinkService, name=f"sink-{i}"), (topic,), SinkHost)
             for i in range(1, sinks + 1)]
    if source:
        specs.append(ServiceSpec("source", partial(SinkService, name="source"), (), SinkHost))
    return tuple(specs)


MAX_SINKS = 32


def with_sinks(topology: Sequence[ServiceSpec], sinks: int,
               topic: str = "identity") -> tuple[ServiceSpec, ...]:
    """The topology and ``sinks`` more subscribers of ``topic`` (``sink-1`` ...), each recording what it
    gets in its own SQLite file: the fan-out width of ``scimsaga up --sinks`` and ``scimsaga bench``."""
    if not 0 <= sinks <= MAX_SINKS:
        raise ValueError(f"between 0 and {MAX_SINKS} sinks, not {sinks}")
    return (*topology, *sink_topology(sinks, topic, source=False))

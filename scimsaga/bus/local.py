"""The bus without Ray: deliveries and publications as direct calls in one process.

The same broker, outbox relay and consumers as in a cluster, with a transport that calls subscriber
objects directly. Used by the fast tests and anywhere the whole system should run in one process.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from .broker import Broker
from .consumer import Delivered, DeliveryReport, SubscriberUnavailable
from .outbox import Record


class Subscriber(Protocol):
    def deliver(self, batch: Sequence[Delivered]) -> DeliveryReport: ...


class Serialized:
    """Calls into the wrapped object one at a time, from any thread: what a sync Ray actor guarantees."""

    def __init__(self, target: Any) -> None:
        self._target = target
        self._lock = threading.RLock()

    @property
    def target(self) -> Any:
        return self._target

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attribute(*args, **kwargs)

        return call


class InProcessTransport:
    """Delivers to subscriber objects by name, in this process."""

    def __init__(self, subscribers: Mapping[str, Subscriber] | None = None) -> None:
        self.subscribers: dict[str, Subscriber] = dict(subscribers or {})

    def deliver(self, subscriber: str, batch: Sequence[Delivered], timeout: float) -> DeliveryReport:
        target = self.subscribers.get(subscriber)
        if target is None:
            raise SubscriberUnavailable(f"{subscriber} is not running")
        return target.deliver(batch)


class InProcessPublisher:
    """A relay's publish function that hands records to a broker in the same process."""

    def __init__(self) -> None:
        self.broker: Broker | None = None

    def __call__(self, records: Sequence[Record]) -> None:
        if self.broker is None:
            raise SubscriberUnavailable("the broker is not running")
        self.broker.publish(records)

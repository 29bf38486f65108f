"""The bus over Ray: deliveries and publications as calls to named actors.

Both sides find their peers by name in the deployment's Ray namespace, so a restarted actor (Ray
restarts it under the same name) is reached again without rewiring. Every Ray failure that means
"not now" (the actor is dead, restarting, not created yet, or too slow) becomes
:class:`SubscriberUnavailable`, and the caller retries; the subscriber's inbox and the broker's
dedup by event id make the retries harmless.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

from ..priority import describe_process, run_at_niceness
from ..settings import Policy, Settings
from .broker import Broker, SubscriptionSpec
from .consumer import Delivered, DeliveryReport, SubscriberUnavailable, WireReport
from .outbox import Record
from .packing import pack_deliveries, pack_records, unpack_records

BROKER_NAME = "broker"


class _Handles:
    def __init__(self, namespace: str) -> None:
        self._namespace = namespace
        self._handles: dict[str, Any] = {}

    def get(self, name: str) -> Any:
        handle = self._handles.get(name)
        if handle is None:
            try:
                handle = ray.get_actor(name, namespace=self._namespace)
            except ValueError:
                raise SubscriberUnavailable(f"{name} is not running") from None
            self._handles[name] = handle
        return handle

    def forget(self, name: str) -> None:
        self._handles.pop(name, None)


def call(handles: _Handles, name: str, method: str, args: tuple[Any, ...], timeout: float) -> Any:
    """Call ``name.method(*args)`` and wait; Ray's "not now" failures become SubscriberUnavailable."""
    handle = handles.get(name)
    ref = getattr(handle, method).remote(*args)
    try:
        return ray.get(ref, timeout=timeout)
    except GetTimeoutError:
        # Withdraw the call if it still waits in the actor's queue, so retries of a slow subscriber do
        # not pile up there; one already running finishes, and the inbox absorbs the redelivery.
        with contextlib.suppress(Exception):  # the actor may be gone already; then so is the call
            ray.cancel(ref)
        raise SubscriberUnavailable(f"{name} did not answer within {timeout:.0f}s") from None
    except RayActorError as exc:
        handles.forget(name)
        raise SubscriberUnavailable(f"{name} is unavailable ({type(exc).__name__})") from None
    except RayTaskError as exc:
        if isinstance(exc.cause, SubscriberUnavailable):
            raise SubscriberUnavailable(str(exc.cause)) from None
        raise


class RayTransport:
    """The broker's side: deliver a batch to a subscriber actor and wait for its report."""

    def __init__(self, namespace: str) -> None:
        self._handles = _Handles(namespace)

    def deliver(self, subscriber: str, batch: Sequence[Delivered], timeout: float) -> DeliveryReport:
        packed = pack_deliveries(batch)
        wire: WireReport = call(self._handles, subscriber, "deliver_packed", (packed,), timeout)
        return DeliveryReport.from_wire(wire)


class RayPublisher:
    """A relay's side: hand records to the broker actor and wait until they are in its log."""

    def __init__(self, namespace: str, timeout: float = 10.0) -> None:
        self._namespace = namespace
        self._timeout = timeout
        self._handles: _Handles | None = None

    def __call__(self, records: Sequence[Record]) -> None:
        if self._handles is None:
            self._handles = _Handles(self._namespace)
        call(self._handles, BROKER_NAME, "publish", (pack_records(records),), self._timeout)

    def __getstate__(self) -> dict[str, Any]:
        return {"_namespace": self._namespace, "_timeout": self._timeout, "_handles": None}


class BrokerActor:
    """The broker as an actor: the log in ``bus.sqlite``, pumps delivering to named subscriber actors."""

    def __init__(self, settings: Settings, subscriptions: Sequence[SubscriptionSpec],
                 niceness: int | None = None, policy: Policy | None = None) -> None:
        run_at_niceness(niceness, policy)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.broker = Broker(settings.database("bus"), subscriptions, RayTransport(settings.namespace),
                             settings.bus)
        self.broker.start()

    def ping(self) -> str:
        return BROKER_NAME

    def process(self) -> dict[str, int | str]:
        return describe_process()

    def publish(self, packed: str) -> int:
        """Records packed by :func:`~scimsaga.bus.packing.pack_records`; how many were new."""
        return self.broker.publish(unpack_records(packed))

    def status(self) -> list[dict[str, Any]]:
        return self.broker.status()

    def dead_letters(self, subscription: str) -> list[dict[str, Any]]:
        return self.broker.dead_letters(subscription)

    def replay_dead_letters(self, subscription: str) -> int:
        return self.broker.replay_dead_letters(subscription)

    def rewind(self, subscription: str, to_offset: int | None = None,
               to_time: float | None = None) -> dict[str, Any]:
        return self.broker.rewind(subscription, to_offset=to_offset, to_time=to_time)

    def compact(self) -> int:
        return self.broker.compact()

    def stop(self) -> None:
        self.broker.stop()

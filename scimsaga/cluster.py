"""The composition root: start or join Ray, create the named actors, wire the bus, stop.

Nothing here runs at import time. ``Cluster(settings).start()`` starts a local Ray cluster unless an
address is given, creates the broker and the services of the topology as named actors in the
deployment's namespace, and gives the front door its ports. ``attach()`` finds a running deployment
from another process (``scimsaga status``, ``scimsaga chaos``). A local cluster listens on loopback
when the process called :func:`scimsaga.settings.keep_ray_on_loopback` before importing Ray.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray

from .actors.handles import RayIdentity
from .actors.runtime import start_broker, start_service
from .actors.topology import ServiceSpec, subscriptions, topology_for
from .bus.broker import Broker
from .bus.local import InProcessPublisher, InProcessTransport, Serialized
from .bus.ray_transport import BROKER_NAME
from .ports import IdentityPort, OperationsPort
from .settings import Settings

log = logging.getLogger(__name__)

RUNFILE = "cluster.json"
OBJECT_STORE_BYTES = 256 * 1024 * 1024
"""Messages are small JSON batches; Ray's default (30% of RAM) would reserve gigabytes for nothing."""

LOCAL_SYSTEM_CONFIG: dict[str, Any] = {
    "worker_niceness": 0,
    "max_direct_call_object_size": 1024 * 1024,
}
"""Ray's settings for a cluster we start (``scimsaga up`` and the benchmarks).

``worker_niceness``: what Ray adds to the niceness of the process that starts it for its workers;
its default (15) keeps workers below its own daemons. Here the workers are the services, identity
among them answers the IdP as the front door does, and the others lower themselves to
``Settings.coordinator_niceness`` and ``background_niceness`` (``priority.py``). With identity at 0
rather than 15 beside them at 19, back-to-back POSTs were acknowledged at p50 in 2.8 to 3.1 ms
instead of 3.4 to 3.6, and more users were provisioned per second (bench/fanout_suite.py).

``max_direct_call_object_size``: Ray sends an argument larger than this (100 KiB by default) through
its object store, which costs the raylet and both processes more than the copy it saves; a busy bus's
batches are larger (1,024 events of 230 bytes). Raised to 1 MiB, the bus benchmark's raylet went
from 8.6 to 0.6 µs of CPU per event and the throughput rose by about 5%."""


class ClusterError(Exception):
    """Starting, joining or reaching the cluster failed; the message says what to do."""


def check_reachable(address: str, timeout: float = 3.0) -> None:
    """Fail fast with a clear message when ``host:port`` of a Ray cluster does not answer."""
    if address == "auto":
        return
    host, _, port = address.rpartition(":")
    if address.startswith("ray://") or not host or not port.isdigit():
        raise ClusterError(f"--address must look like HOST:PORT (e.g. 127.0.0.1:6379), not '{address}'")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ClusterError(
            f"cannot reach a Ray cluster at {address} ({exc.strerror or exc}); "
            "start one with `ray start --head` or leave out --address to run a local one"
        ) from None


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Keep Ray's native client from printing a warning a second while it retries a connection.

    Those lines come from C++ straight to file descriptor 2, below Python's logging.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _init_ray(namespace: str, address: str | None, num_cpus: int | None) -> bool:
    """Connect to Ray; returns True when this call started a new local cluster."""
    if ray.is_initialized():
        return False
    common: dict[str, Any] = {
        "namespace": namespace,
        "log_to_driver": False,
        "logging_level": logging.ERROR,
    }
    if address:
        check_reachable(address)
        try:
            with _quiet_stderr():
                ray.init(address=address, **common)
        except Exception as exc:
            raise ClusterError(
                f"cannot join the Ray cluster at {address} ({exc}); if it requires a token, "
                "put it in ~/.ray/auth_token or set RAY_AUTH_TOKEN"
            ) from None
        return False
    # "local": start a new cluster even when another one runs on this machine; without it Ray would
    # attach to the newest cluster it finds, and stopping "ours" would stop someone else's.
    ray.init(address="local", num_cpus=num_cpus, include_dashboard=False,
             object_store_memory=OBJECT_STORE_BYTES, _system_config=LOCAL_SYSTEM_CONFIG, **common)
    return True


@dataclass
class Cluster:
    """A running deployment: the actors of the topology in one Ray namespace."""

    settings: Settings
    address: str | None = None
    num_cpus: int | None = None
    topology: Sequence[ServiceSpec] | None = None

    def __post_init__(self) -> None:
        if self.topology is None:
            self.topology = topology_for(self.settings.mode)
        self._handles: dict[str, Any] = {}
        self._started_ray = False

    @property
    def names(self) -> list[str]:
        return [BROKER_NAME, *(spec.name for spec in self.topology or ())]

    def start(self) -> None:
        """Start or join Ray and create every actor; returns before they are ready."""
        self._started_ray = _init_ray(self.settings.namespace, self.address, self.num_cpus)
        taken = [n for n in self.names if _exists(n, self.settings.namespace)]
        if taken:
            raise ClusterError(
                f"a scimsaga deployment already runs in Ray namespace '{self.settings.namespace}' "
                f"({', '.join(taken)}); stop it first or pick another --namespace"
            )
        topology = self.topology or ()
        self._handles[BROKER_NAME] = start_broker(self.settings, subscriptions(topology))
        for spec in topology:
            self._handles[spec.name] = start_service(spec, self.settings)

    @property
    def ray_address(self) -> str:
        return str(ray.get_runtime_context().gcs_address)

    def ready(self, timeout: float = 1.0) -> bool:
        """Whether every actor answers a ping within ``timeout`` seconds."""
        if not self._handles:
            return False
        refs = [handle.ping.remote() for handle in self._handles.values()]
        done, _ = ray.wait(refs, num_returns=len(refs), timeout=timeout)
        if len(done) != len(refs):
            return False
        try:
            ray.get(done)
        except Exception:
            return False
        return True

    def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready(timeout=min(2.0, max(0.1, deadline - time.monotonic()))):
                return True
        return False

    def identity(self) -> IdentityPort:
        """The identity port; it answers 503 until ``start`` has created the actors."""
        return RayIdentity(lambda: self._handles.get("identity"))

    def handle(self, name: str) -> Any:
        return self._handles[name]

    def operations(self) -> OperationsPort:
        """Status, recent sagas and chaos switches of this deployment (the OperationsPort)."""
        return Attached(self.settings.namespace, self.names)

    def write_runfile(self, url: str) -> Path:
        """Tell other processes on this machine how to reach this deployment."""
        path = self.settings.data_dir / RUNFILE
        path.write_text(json.dumps({
            "address": self.ray_address, "namespace": self.settings.namespace, "url": url,
            "mode": self.settings.mode, "actors": self.names,
            "pid": os.getpid(),
        }))
        return path

    def stop(self) -> None:
        """Stop the actors (and Ray, if this process started it)."""
        if not ray.is_initialized():
            return
        stops = []
        for handle in self._handles.values():
            try:
                stops.append(handle.stop.remote())
            except Exception:  # the actor may be gone already
                log.debug("stop call failed", exc_info=True)
        if stops:
            ray.wait(stops, num_returns=len(stops), timeout=5)
        for handle in self._handles.values():
            try:
                ray.kill(handle, no_restart=True)
            except Exception:
                log.debug("kill failed", exc_info=True)
        self._handles.clear()
        (self.settings.data_dir / RUNFILE).unlink(missing_ok=True)
        if self._started_ray:
            ray.shutdown()


class LocalCluster:
    """The same topology, broker and services in one process without Ray (fast tests, quick demos).

    Each host is wrapped so that calls reach it one at a time, as they would reach an actor.
    """

    def __init__(self, settings: Settings, topology: Sequence[ServiceSpec] | None = None) -> None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        topology = topology if topology is not None else topology_for(settings.mode)
        self.settings = settings
        self.publisher = InProcessPublisher()
        self.hosts: dict[str, Any] = {
            spec.name: Serialized(spec.host(spec.build(settings), settings, self.publisher))
            for spec in topology
        }
        self.broker = Broker(settings.database("bus"), subscriptions(topology),
                             InProcessTransport(self.hosts), settings.bus)
        self.publisher.broker = self.broker

    def start(self) -> None:
        self.broker.start()

    def ready(self) -> bool:
        return True

    def identity(self) -> IdentityPort:
        identity: IdentityPort = self.hosts["identity"]
        return identity

    def stop(self) -> None:
        self.broker.stop()
        for host in self.hosts.values():
            host.stop()


def _exists(name: str, namespace: str) -> bool:
    try:
        ray.get_actor(name, namespace=namespace)
    except ValueError:
        return False
    return True


@dataclass
class Attached:
    """A running deployment seen from another process."""

    namespace: str
    names: list[str]

    def handle(self, name: str) -> Any:
        try:
            return ray.get_actor(name, namespace=self.namespace)
        except ValueError:
            raise ClusterError(f"no actor '{name}' in namespace '{self.namespace}'") from None

    def status(self, timeout: float = 10.0) -> dict[str, Any]:
        """Services with their state and processed counts, subscriptions with lag, sagas by state."""
        service_names = [n for n in self.names if n != BROKER_NAME]
        refs = [self.handle(n).status.remote() for n in service_names]
        services = ray.get(refs, timeout=timeout)
        subscriptions = ray.get(self.handle(BROKER_NAME).status.remote(), timeout=timeout)
        # the coordinator's sagas; in choreography identity keeps the outcome of each instead
        owner = "saga" if "saga" in service_names else "identity"
        sagas: dict[str, int] = next((s.get("sagas", {}) for s in services if s["name"] == owner), {})
        return {"services": services, "subscriptions": subscriptions, "sagas": sagas}

    def recent_sagas(self, limit: int = 20, timeout: float = 10.0) -> list[dict[str, Any]]:
        sagas: list[dict[str, Any]] = ray.get(self.handle("saga").recent_sagas.remote(limit), timeout=timeout)
        return sagas

    def kill(self, name: str) -> None:
        """Kill an actor the way a crash would; Ray restarts it from its constructor arguments."""
        ray.kill(self.handle(name), no_restart=False)

    def chaos(self, name: str, timeout: float = 30.0, **changes: Any) -> dict[str, Any]:
        """Switch a service's faults (see ServiceHost.chaos); returns the faults now in force."""
        faults: dict[str, Any] = ray.get(self.handle(name).chaos.remote(**changes), timeout=timeout)
        return faults

    # --- the bus's subscriptions (see bus/broker.py): dead letters, replay, rewind ----------------

    def dead_letters(self, subscription: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """A subscription's dead letters, oldest offset first, each with its last error."""
        letters: list[dict[str, Any]] = self._bus("dead_letters", subscription, timeout=timeout)
        return letters

    def replay(self, subscription: str, timeout: float = 30.0) -> int:
        """Put a subscription's dead letters back in line for delivery; returns how many."""
        return int(self._bus("replay_dead_letters", subscription, timeout=timeout))

    def rewind(self, subscription: str, *, to_offset: int | None = None, to_time: float | None = None,
               timeout: float = 30.0) -> dict[str, Any]:
        """Deliver a subscription's events again from an offset or a time (epoch seconds)."""
        outcome: dict[str, Any] = self._bus("rewind", subscription, to_offset, to_time, timeout=timeout)
        return outcome

    def _bus(self, method: str, *args: Any, timeout: float) -> Any:
        from ray.exceptions import RayTaskError

        from .bus.broker import BusError

        try:
            return ray.get(getattr(self.handle(BROKER_NAME), method).remote(*args), timeout=timeout)
        except RayTaskError as exc:
            if isinstance(exc.cause, BusError):
                raise ClusterError(str(exc.cause)) from None
            raise


def attach(data_dir: Path, address: str | None, namespace: str | None) -> Attached:
    """Join the Ray cluster of a running deployment: from ``--address`` or the data dir's runfile."""
    runfile = data_dir / RUNFILE
    info: dict[str, Any] = {}
    if runfile.exists():
        info = json.loads(runfile.read_text())
    address = address or info.get("address")
    namespace = namespace or info.get("namespace") or "scimsaga"
    if not address:
        raise ClusterError(
            f"no running scimsaga found (no {runfile}); start one with `scimsaga up` or pass --address"
        )
    _init_ray(namespace, address, None)
    names = info.get("actors") or [BROKER_NAME, *(spec.name for spec in topology_for(
        info.get("mode", "orchestration")))]  # the runfile lists every actor, extra sinks included
    attached = Attached(namespace, list(names))
    attached.handle(BROKER_NAME)
    return attached

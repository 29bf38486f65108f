"""What the dashboard shows, as JSON: the topology with a counter on every arrow, the bus, the sagas.

Built from what the OperationsPort reports (``status()`` and ``recent_sagas()``) and from what the
front door itself counted. The topology is read from the status, not hard-coded: a service added to
``actors/topology.py`` appears on the page by itself.

Counters on the arrows: IdP → front door counts SCIM requests; front door → identity counts requests
that reached a resource; an arrow into the bus counts the events its publisher put on its topics; an
arrow out of the bus counts the events the subscriber acknowledged, with the lag (published, not yet
acknowledged) and the dead letters of its subscriptions beside it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ..ports import OperationsPort
from .dashboard_timeline import RecentWrites, waterfall
from .metrics import UNROUTED

log = logging.getLogger(__name__)

BROKER = "broker"
COORDINATOR = "saga"
IDENTITY = "identity"
RESOURCE_ROUTES = ("/Users", "/Groups", "/.search", "/Bulk", "/Me")
SAGAS_SHOWN = 8


def published(subscriptions: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Events published per topic, as far as the bus shows it: acknowledged + lag + dead, per reader.

    The largest over a topic's subscriptions (they all read the same log) is the best estimate.
    """
    counts: dict[str, int] = {}
    for sub in subscriptions:
        seen = sum(int(sub.get(k) or 0) for k in ("delivered", "lag", "dead_letters"))
        topic = str(sub.get("topic", ""))
        counts[topic] = max(counts.get(topic, 0), seen)
    return counts


def publisher_of(topic: str, services: Iterable[str]) -> str | None:
    """Who writes a topic: a service's own topic is its own; commands come from the coordinator."""
    names = set(services)
    if topic in names:
        return topic
    if topic.endswith(".commands") and COORDINATOR in names:
        return COORDINATOR
    return None


def describe_service(service: Mapping[str, Any]) -> str:
    """The service's own counts, short: ``users: active 3 · pending 1``."""
    parts = []
    for key, value in service.items():
        if key in ("name", "state", "processed", "outbox"):
            continue
        if isinstance(value, Mapping) and value:
            inner = " · ".join(f"{k} {v}" for k, v in sorted(value.items()))
            parts.append(f"{key}: {inner}")
        elif isinstance(value, Mapping):
            parts.append(f"{key}: 0")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            parts.append(f"{key}: {value}")
    return "; ".join(parts)


def topology(status: Mapping[str, Any], http_totals: Mapping[str, int], base_path: str) -> dict[str, Any]:
    """Nodes and arrows, each arrow with its live counters."""
    services = [s for s in status.get("services") or [] if isinstance(s, Mapping)]
    subscriptions = [s for s in status.get("subscriptions") or [] if isinstance(s, Mapping)]
    names = [str(s.get("name")) for s in services]
    by_name = {str(s.get("name")): s for s in services}
    scim = {route: n for route, n in http_totals.items()
            if route.startswith(base_path) or route == UNROUTED}
    nodes = [
        {"id": "idp", "label": "IdP", "kind": "client", "detail": "SCIM client"},
        {"id": "frontdoor", "label": "Front door", "kind": "http", "detail": "Falcon on waitress"},
    ]
    if IDENTITY in by_name:
        nodes.append(_service_node(by_name[IDENTITY], "Identity"))
    nodes.append({"id": BROKER, "label": "Bus", "kind": "bus",
                  "detail": f"{len(subscriptions)} subscriptions"})
    for service in services:
        name = str(service.get("name"))
        if name != IDENTITY:
            nodes.append(_service_node(service, "Coordinator" if name == COORDINATOR else name.capitalize()))
    edges: list[dict[str, Any]] = [
        {"id": "idp-frontdoor", "from": "idp", "to": "frontdoor", "label": "requests",
         "count": sum(scim.values())},
    ]
    if IDENTITY in by_name:
        reached = sum(n for route, n in scim.items() if any(r in route for r in RESOURCE_ROUTES))
        edges.append({"id": "frontdoor-identity", "from": "frontdoor", "to": IDENTITY,
                      "label": "calls", "count": reached})
    topics = published(subscriptions)
    for name in names:
        edges.append(_bus_edge(name, by_name[name], subscriptions, topics, names))
    return {"nodes": nodes, "edges": edges}


def _service_node(service: Mapping[str, Any], label: str) -> dict[str, Any]:
    name = str(service.get("name"))
    kind = "coordinator" if name == COORDINATOR else "identity" if name == IDENTITY else "service"
    return {"id": name, "label": label, "kind": kind, "state": service.get("state", "unknown"),
            "processed": service.get("processed", 0), "outbox": service.get("outbox", 0),
            "detail": describe_service(service)}


def _bus_edge(name: str, service: Mapping[str, Any], subscriptions: list[Mapping[str, Any]],
              topics: Mapping[str, int], names: list[str]) -> dict[str, Any]:
    mine = [s for s in subscriptions if s.get("subscriber") == name]
    out_topics = sorted(t for t in topics if publisher_of(t, names) == name)
    return {
        "id": f"bus-{name}", "from": BROKER, "to": name,
        "label": ", ".join(str(s.get("topic")) for s in mine) or "publishes only",
        "count": sum(int(s.get("delivered") or 0) for s in mine),
        "back": sum(topics[t] for t in out_topics),
        "back_label": ", ".join(out_topics),
        "lag": sum(int(s.get("lag") or 0) for s in mine),
        "dead_letters": sum(int(s.get("dead_letters") or 0) for s in mine),
        "outbox": int(service.get("outbox") or 0),
    }


def build_view(status: Mapping[str, Any] | None, sagas: Sequence[Mapping[str, Any]] | None,
               http_totals: Mapping[str, int], writes: RecentWrites | None, base_path: str,
               now: float, error: str | None = None, sagas_error: str | None = None) -> dict[str, Any]:
    """Everything the page draws, in one JSON document (``status`` None: the deployment did not answer)."""
    status = status or {}
    recent = []
    for saga in (sagas or [])[:SAGAS_SHOWN]:
        correlation = saga.get("correlation_id")
        request = writes.get(str(correlation)) if writes is not None and correlation else None
        recent.append(waterfall(saga, request, now * 1000))
    services = [s for s in status.get("services") or [] if isinstance(s, Mapping)]
    if sagas_error and services and COORDINATOR not in {s.get("name") for s in services}:
        sagas_error = "no coordinator in this deployment (choreography): no one keeps the whole saga"
    return {
        "generated_at": round(now * 1000),
        "error": error,
        "topology": topology(status, http_totals, base_path),
        "services": [{"name": s.get("name"), "state": s.get("state", "unknown"),
                      "processed": s.get("processed", 0), "outbox": s.get("outbox", 0),
                      "detail": describe_service(s)} for s in services],
        "subscriptions": [dict(s) for s in status.get("subscriptions") or [] if isinstance(s, Mapping)],
        "sagas": {"counts": dict(status.get("sagas") or {}), "recent": recent, "error": sagas_error},
        "chaos": {"services": [str(s.get("name")) for s in services], "kill_only": [BROKER]},
        "http": {"requests": sum(http_totals.values()), "by_route": dict(http_totals)},
    }


class ViewSource:
    """Builds the view from the ports, at most once per ``ttl`` seconds however many browsers poll.

    A room of attendees each polling once a second would otherwise ask every actor for its status
    thirty times a second, on the machine that runs the very load they are watching. While one request
    builds a view, the others get the previous one at once rather than a waitress thread each, waiting:
    a slow status call (an actor restarting) must not starve the SCIM API of threads. When the
    deployment does not answer, the last status it gave is shown with the error beside it.
    """

    def __init__(self, operations: OperationsPort | None, http_totals: Callable[[], Mapping[str, int]],
                 writes: RecentWrites | None, base_path: str, ttl: float = 0.5,
                 clock: Callable[[], float] = time.time) -> None:
        self._operations = operations
        self._http_totals = http_totals
        self._writes = writes
        self._base = base_path
        self._ttl = ttl
        self._clock = clock
        self._building = threading.Lock()
        self._cached: dict[str, Any] | None = None
        self._cached_at = 0.0
        self._last_status: dict[str, Any] | None = None

    def view(self) -> dict[str, Any]:
        cached = self._cached
        if cached is not None and self._clock() - self._cached_at < self._ttl:
            return cached
        if not self._building.acquire(blocking=cached is None):
            assert cached is not None
            return cached
        try:
            now = self._clock()
            if self._cached is None or now - self._cached_at >= self._ttl:
                self._cached = self._build(now)
                self._cached_at = now
            return self._cached
        finally:
            self._building.release()

    def _build(self, now: float) -> dict[str, Any]:
        if self._operations is None:
            return build_view(None, None, self._http_totals(), self._writes, self._base, now,
                              "this front door was started without an operations port")
        sagas: list[dict[str, Any]] | None = None
        error = sagas_error = None
        try:
            self._last_status = self._operations.status()
        except Exception as exc:  # an actor restarting or still starting: show it, keep polling
            error = _short(exc)
        try:
            sagas = self._operations.recent_sagas(SAGAS_SHOWN)
        except Exception as exc:  # e.g. no coordinator in this mode
            sagas_error = _short(exc)
        return build_view(self._last_status, sagas, self._http_totals(), self._writes, self._base, now,
                          error, sagas_error)


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__

"""``/metrics``: the Prometheus text exposition format (and OpenMetrics when a scraper asks for it).

Two sources: request latencies, observed in this process by :class:`RequestMetrics` (a Falcon
middleware), and the deployment's own figures (bus lag and dead letters per subscription, sagas by
state, messages processed per service), read through the OperationsPort at scrape time by
:class:`OperationsCollector`. Each app gets its own registry: no module-level state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import falcon
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..ports import OperationsPort

log = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
UNROUTED = "unrouted"
"""The route label of a request refused before routing (a missing token) or matching no route."""

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Seconds. The front door answers in milliseconds, so the low end is finer than the client's default."""


class RequestMetrics:
    """Falcon middleware: every request's latency, by method, route template and status code.

    The route is the template (``/scim/v2/Users/{user_id}``), never the path, so that ids do not make
    a new time series each.
    """

    def __init__(self, registry: CollectorRegistry, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self.latency = Histogram(
            "scimsaga_http_request_duration_seconds",
            "Time from a request's arrival at the front door to its response, by route and status.",
            ("method", "route", "code"), registry=registry, buckets=LATENCY_BUCKETS,
        )

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.metrics_started = self._clock()

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource: Any,
                         req_succeeded: bool) -> None:
        started = req.context.get("metrics_started")
        if started is None:
            return
        code = str(resp.status_code if resp.status_code is not None else 500)
        route = req.uri_template or UNROUTED
        self.latency.labels(req.method, route, code).observe(max(0.0, self._clock() - started))

    def totals(self) -> dict[str, int]:
        """Requests counted so far, by route template (for the dashboard's arrows)."""
        counts: dict[str, int] = {}
        for metric in self.latency.collect():
            for sample in metric.samples:
                if sample.name.endswith("_count"):
                    route = sample.labels["route"]
                    counts[route] = counts.get(route, 0) + int(sample.value)
        return counts


class OperationsCollector:
    """Reads the deployment's figures through the OperationsPort each time Prometheus scrapes.

    ``scimsaga_operations_up`` is 0 when the deployment did not answer (still starting, or an actor
    is restarting); the other families are then left out rather than reported as zero.
    """

    def __init__(self, operations: OperationsPort | None) -> None:
        self._operations = operations

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("scimsaga_operations_up",
                               "1 when the deployment answered the status call of this scrape, else 0.")
        if self._operations is None:
            up.add_metric([], 0)
            yield up
            return
        try:
            status = self._operations.status()
        except Exception as exc:  # an actor restarting must not break the scrape
            log.debug("status for /metrics failed: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from subscription_metrics(status.get("subscriptions") or [])
        yield from service_metrics(status.get("services") or [])
        yield from saga_metrics(status.get("sagas") or {})


SUBSCRIPTION_LABELS = ("subscription", "topic", "subscriber")


def subscription_metrics(subscriptions: Iterable[dict[str, Any]]) -> Iterator[Metric]:
    """Per subscription: lag, dead letters, in flight, retrying, oldest unacked age, deliveries."""
    gauges: dict[str, GaugeMetricFamily] = {
        "lag": GaugeMetricFamily("scimsaga_bus_lag", "Events published but not yet acknowledged.",
                                 labels=SUBSCRIPTION_LABELS),
        "dead_letters": GaugeMetricFamily("scimsaga_bus_dead_letters",
                                          "Events moved to the subscription's dead letters.",
                                          labels=SUBSCRIPTION_LABELS),
        "in_flight": GaugeMetricFamily("scimsaga_bus_in_flight", "Events delivered and awaiting the report.",
                                       labels=SUBSCRIPTION_LABELS),
        "retrying": GaugeMetricFamily("scimsaga_bus_retrying", "Events waiting for a retry.",
                                      labels=SUBSCRIPTION_LABELS),
        "oldest_unacked_age_s": GaugeMetricFamily(
            "scimsaga_bus_oldest_unacked_age_seconds",
            "Age of the oldest event the subscriber has not acknowledged (0 when none).",
            labels=SUBSCRIPTION_LABELS),
    }
    counters: dict[str, CounterMetricFamily] = {
        "delivered": CounterMetricFamily("scimsaga_bus_delivered", "Events the subscriber acknowledged.",
                                         labels=SUBSCRIPTION_LABELS),
        "redelivered": CounterMetricFamily("scimsaga_bus_redelivered",
                                           "Acknowledged events that needed more than one attempt.",
                                           labels=SUBSCRIPTION_LABELS),
    }
    for sub in subscriptions:
        labels = [str(sub.get("name", "")), str(sub.get("topic", "")), str(sub.get("subscriber", ""))]
        for key, gauge in gauges.items():
            if isinstance(sub.get(key), (int, float)):
                gauge.add_metric(labels, sub[key])
        for key, counter in counters.items():
            if isinstance(sub.get(key), (int, float)):
                counter.add_metric(labels, sub[key])
    yield from gauges.values()
    yield from counters.values()


def service_metrics(services: Iterable[dict[str, Any]]) -> Iterator[Metric]:
    """Per service: messages processed, outbox rows not yet published, and whether it is switched down."""
    processed = CounterMetricFamily("scimsaga_service_processed", "Messages the service handled.",
                                    labels=("service",))
    outbox = GaugeMetricFamily("scimsaga_service_outbox_pending",
                               "Messages in the service's outbox not yet published.", labels=("service",))
    down = GaugeMetricFamily("scimsaga_service_down", "1 while the service is switched down by chaos.",
                             labels=("service",))
    for service in services:
        name = [str(service.get("name", ""))]
        if isinstance(service.get("processed"), (int, float)):
            processed.add_metric(name, service["processed"])
        if isinstance(service.get("outbox"), (int, float)):
            outbox.add_metric(name, service["outbox"])
        down.add_metric(name, 1 if service.get("state") == "down" else 0)
    yield processed
    yield outbox
    yield down


def saga_metrics(sagas: dict[str, Any]) -> Iterator[Metric]:
    """Sagas by state: a gauge, since a saga moves from running to its outcome."""
    family = GaugeMetricFamily("scimsaga_sagas", "Sagas by state (completed, compensated, failed, ...).",
                               labels=("state",))
    for state, count in sorted(sagas.items()):
        if isinstance(count, (int, float)):
            family.add_metric([str(state)], count)
    yield family


class MetricsResource:
    """``GET /metrics``: the registry in the format the scraper asked for (plain text by default)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        encode, content_type = choose_encoder(req.get_header("Accept") or "")
        resp.content_type = content_type
        resp.data = encode(self._registry)


def build_registry(operations: OperationsPort | None) -> tuple[CollectorRegistry, RequestMetrics]:
    """A registry of this app's own, holding the request histogram and the deployment's figures."""
    registry = CollectorRegistry()
    requests = RequestMetrics(registry)
    registry.register(OperationsCollector(operations))
    return registry, requests

"""Services on real SQLite files in tmp_path, fed by hand the way the broker would feed them."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from scimsaga.actors.topology import ServiceSpec
from scimsaga.bus.consumer import DeliveryReport
from scimsaga.bus.envelope import Envelope, new_message
from scimsaga.cluster import LocalCluster
from scimsaga.settings import BusSettings, SagaSettings, Settings

NOW = "2026-01-31T09:30:00.000Z"

FAST_BUS = BusSettings(retry_base=0.01, retry_cap=0.05, unavailable_cap=0.02, idle_poll=0.01)
FAST_SAGAS = SagaSettings(step_timeout=0.2, max_step_timeout=0.5, give_up_after=5.0, tick_interval=0.02)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", bus=FAST_BUS)


def fixed_clock() -> str:
    return NOW


@pytest.fixture
def clock() -> Callable[[], str]:
    """The services' clock: always the same instant, so replies compare equal."""
    return fixed_clock


class Deliveries:
    """Hands envelopes to a host as the broker does: one batch, increasing offsets, JSON bodies."""

    def __init__(self) -> None:
        self._offsets = itertools.count(1)

    def __call__(self, host: Any, *envelopes: Envelope) -> DeliveryReport:
        report: DeliveryReport = host.deliver([(next(self._offsets), e.to_json()) for e in envelopes])
        return report


@pytest.fixture
def deliver() -> Deliveries:
    return Deliveries()


def outbox_rows(host: Any) -> list[tuple[str, Envelope]]:
    """What a host without a relay has queued for the bus: (topic, envelope), oldest first."""
    rows = host.conn.execute("SELECT topic, body FROM outbox ORDER BY seq").fetchall()
    return [(topic, Envelope.from_json(body)) for topic, body in rows]


@pytest.fixture
def queued() -> Callable[[Any], list[tuple[str, Envelope]]]:
    return outbox_rows


def saga_command(type: str, user_id: str, *, user: dict[str, Any] | None = None, saga_id: str = "saga-1",
                 step: int = 0, phase: str = "action", idempotency_key: str | None = None,
                 id: str | None = None) -> Envelope:
    """A command as the saga coordinator sends it."""
    return new_message(type, user_id, {
        "saga_id": saga_id, "step": step, "phase": phase,
        "user": user if user is not None else {"id": user_id, "userName": "bjensen"},
        "idempotency_key": idempotency_key or f"{saga_id}/{step}/{phase}",
    }, at=NOW, correlation_id="request-1", id=id)


@pytest.fixture
def command() -> Callable[..., Envelope]:
    return saga_command


@pytest.fixture
def local_cluster(tmp_path: Path) -> Iterator[Callable[..., LocalCluster]]:
    """Start the whole topology in this process (no Ray); Settings fields may be overridden, and a
    ``topology`` given. Every cluster started is stopped at the end of the test."""
    started: list[LocalCluster] = []

    def start(topology: Sequence[ServiceSpec] | None = None, **overrides: Any) -> LocalCluster:
        values: dict[str, Any] = {"data_dir": tmp_path / f"cluster{len(started)}", "bus": FAST_BUS,
                                  "saga": FAST_SAGAS, **overrides}
        cluster = LocalCluster(Settings(**values), topology)
        started.append(cluster)
        cluster.start()
        return cluster

    yield start
    for cluster in started:
        cluster.stop()


@pytest.fixture
def fast_bus() -> BusSettings:
    """What the clusters of these tests run with: retries within milliseconds."""
    return FAST_BUS

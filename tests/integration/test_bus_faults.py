"""The bus's faults on real Ray actors (issue 5): after each, every event was processed exactly once
in effect, in order per key, as the sinks' own databases tell (see scimsaga/actors/sink.py).

A source emits numbered events per key through its outbox; two sinks subscribe to the topic.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import ray
from ray.exceptions import RayActorError

from scimsaga.actors.sink import TOPIC, expected, verdict
from scimsaga.actors.topology import sink_topology
from scimsaga.cluster import Attached, Cluster
from scimsaga.settings import BusSettings, Settings
from tests.polling import wait_until

SINKS = ("sink-1", "sink-2")

TEST_BUS = BusSettings(max_attempts=4, retry_base=0.05, retry_cap=0.5, unavailable_cap=0.5, idle_poll=0.2)
"""Retries and reconnects in tenths of a second, so every fault heals within the tests' deadlines."""


class BusDeployment:
    """A source and sinks on the bus, one deployment on the shared Ray session."""

    def __init__(self, data_dir: Path, namespace: str, bus: BusSettings = TEST_BUS, sinks: int = 2) -> None:
        self.settings = Settings(data_dir=data_dir, namespace=namespace, bus=bus)
        self.cluster = Cluster(self.settings, topology=sink_topology(sinks))
        self.cluster.start()
        assert self.cluster.wait_ready(timeout=120), "actors did not become ready"
        self.attached = Attached(namespace, self.cluster.names)

    def call(self, actor: str, method: str, *args: Any, timeout: float = 60.0, **kwargs: Any) -> Any:
        return ray.get(getattr(self.cluster.handle(actor), method).remote(*args, **kwargs), timeout=timeout)

    def emit(self, keys: list[str], per_key: int) -> int:
        return int(self.call("source", "emit", keys, per_key))

    def received(self, sink: str) -> int:
        """How many events the sink handled; -1 while it is restarting (a kill's aftermath)."""
        try:
            return int(self.call(sink, "status")["received"])
        except RayActorError:
            return -1

    def subscription(self, sink: str) -> dict[str, Any]:
        """The broker's figures for the sink's subscription (asked of the broker alone: a sink that
        holds a batch answers nothing until it lets go)."""
        name = f"{sink}<-{TOPIC}"
        return next(s for s in self.call("broker", "status") if s["name"] == name)

    def received_on_disk(self, sink: str) -> int:
        """What the sink committed, read from its SQLite file (the actor may be busy holding a batch)."""
        conn = sqlite3.connect(f"file:{self.settings.database(sink)}?mode=ro", uri=True)
        try:
            return int(conn.execute("SELECT count(*) FROM received").fetchone()[0])
        finally:
            conn.close()

    def wait_for(self, wanted: dict[str, list[int]], sinks: tuple[str, ...] = SINKS,
                 timeout: float = 180.0) -> None:
        """Wait until each sink handled as many events as wanted and nothing is left to deliver; then
        check that each got exactly the wanted sequence numbers, once each, in order per key."""
        total = sum(len(seqs) for seqs in wanted.values())
        for sink in sinks:
            wait_until(lambda sink=sink: self.received(sink) >= total, timeout=timeout,
                       interval=0.2, message=f"{sink} received {total} events")
            wait_until(lambda sink=sink: self.subscription(sink)["lag"] == 0, timeout=timeout,
                       interval=0.2, message=f"{sink} has no lag")
            assert verdict(self.call(sink, "sequences"), wanted) == [], sink

    def crash(self) -> None:
        """Kill every actor at once, as a machine losing power would: no stop, no goodbye."""
        for name in self.cluster.names:
            ray.kill(self.cluster.handle(name), no_restart=True)
        wait_until(lambda: not any(_alive(self.settings.namespace, n) for n in self.cluster.names),
                   message="every actor gone")

    def stop(self) -> None:
        self.cluster.stop()


def _alive(namespace: str, name: str) -> bool:
    try:
        ray.get_actor(name, namespace=namespace)
    except ValueError:
        return False
    return True


def keys(count: int) -> list[str]:
    return [f"user-{i:03d}" for i in range(count)]


@pytest.fixture
def bus(ray_address: str, tmp_path: Path, namespace: str) -> Iterator[BusDeployment]:
    deployment = BusDeployment(tmp_path / "data", namespace)
    try:
        yield deployment
    finally:
        deployment.stop()


@pytest.fixture
def slow_bus(ray_address: str, tmp_path: Path, namespace: str) -> Iterator[BusDeployment]:
    """Small batches, so that a stream of thousands takes many deliveries."""
    deployment = BusDeployment(tmp_path / "data", namespace, replace(TEST_BUS, batch_size=64))
    try:
        yield deployment
    finally:
        deployment.stop()


def test_the_broker_killed_in_a_stream_of_thousands_of_events_loses_none_and_repeats_none(slow_bus):
    users = keys(30)
    for sink in SINKS:
        slow_bus.attached.chaos(sink, latency_ms=50)
    for _ in range(4):
        slow_bus.emit(users, 25)
    wait_until(lambda: slow_bus.received("sink-1") > 0, message="the stream reaches the sinks")

    slow_bus.attached.kill("broker")
    for _ in range(4):
        slow_bus.emit(users, 25)  # the source carries on while the broker restarts: its outbox holds them

    for sink in SINKS:
        slow_bus.attached.chaos(sink, latency_ms=0)
    slow_bus.wait_for(expected(users, 200))


def test_a_subscriber_killed_while_it_holds_a_batch_gets_it_again_and_handles_it_once(bus):
    users = keys(10)
    bus.call("sink-1", "hold", 30_000)
    bus.emit(users, 20)
    wait_until(lambda: bus.received_on_disk("sink-1") == 200, message="sink-1 committed the batch")
    assert bus.subscription("sink-1")["in_flight"] == 200, "handled, but not yet reported"
    assert bus.subscription("sink-1")["delivered"] == 0

    bus.attached.kill("sink-1")

    bus.wait_for(expected(users, 20))
    assert bus.call("sink-1", "status")["duplicates"] >= 200, "the batch came again; the inbox absorbed it"
    assert bus.subscription("sink-1")["delivered"] == 200


def test_a_subscriber_stopped_for_a_while_catches_up_when_back(bus):
    users = keys(20)
    bus.attached.chaos("sink-2", down=True)
    bus.emit(users, 50)

    bus.wait_for(expected(users, 50), sinks=("sink-1",))
    stopped = wait_until(lambda: (s := bus.subscription("sink-2"))["state"] == "unavailable"
                         and s["in_flight"] == 0 and s, message="the broker sees sink-2 unavailable")
    assert (stopped["lag"], stopped["dead_letters"], stopped["position"]) == (1000, 0, 0)
    assert stopped["oldest_unacked_age_s"] > 0
    assert bus.received("sink-2") == 0

    bus.attached.chaos("sink-2", down=False)

    bus.wait_for(expected(users, 50))
    assert bus.subscription("sink-2")["dead_letters"] == 0


def test_a_handler_failing_for_one_key_dead_letters_that_event_only_and_the_rest_flows(bus):
    users = keys(20)
    poisoned = users[3]
    bus.call("sink-1", "poison", poisoned, 5)
    bus.emit(users, 20)

    wanted = expected(users, 20)
    wanted[poisoned] = [seq for seq in wanted[poisoned] if seq != 5]
    bus.wait_for(wanted, sinks=("sink-1",))
    bus.wait_for(expected(users, 20), sinks=("sink-2",))
    [letter] = bus.attached.dead_letters(f"sink-1<-{TOPIC}")
    assert (letter["key"], letter["attempts"]) == (poisoned, TEST_BUS.max_attempts)
    assert letter["error"] == f"PoisonedEvent: sink-1 refuses {poisoned}#5"
    assert bus.attached.dead_letters(f"sink-2<-{TOPIC}") == []

    bus.call("sink-1", "heal")
    assert bus.attached.replay(f"sink-1<-{TOPIC}") == 1

    wanted[poisoned] = [*wanted[poisoned], 5]  # a replayed dead letter comes after what flowed past it
    bus.wait_for(wanted, sinks=("sink-1",))
    assert bus.attached.dead_letters(f"sink-1<-{TOPIC}") == []


def test_the_whole_cluster_crashed_mid_stream_and_restarted_from_its_data_directory_carries_on(
        ray_address, tmp_path, namespace):
    data_dir = tmp_path / "data"
    users = keys(25)
    first = BusDeployment(data_dir, namespace, replace(TEST_BUS, batch_size=64))
    try:
        for sink in SINKS:
            first.attached.chaos(sink, latency_ms=50)
        first.emit(users, 80)
        wait_until(lambda: first.received("sink-2") > 0, message="the stream reaches the sinks")
        first.crash()
    finally:
        first.stop()

    second = BusDeployment(data_dir, namespace, replace(TEST_BUS, batch_size=64))
    try:
        for sink in SINKS:
            second.attached.chaos(sink, latency_ms=0)
        second.emit(users, 20)
        second.wait_for(expected(users, 100))
    finally:
        second.stop()

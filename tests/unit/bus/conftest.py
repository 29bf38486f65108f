"""Fakes for the bus: a clock the test moves, and a Transport to a subscriber the test scripts."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from scimsaga.bus.broker import Broker, SubscriptionSpec
from scimsaga.bus.consumer import Delivered, DeliveryReport, SubscriberUnavailable
from scimsaga.bus.envelope import Envelope
from scimsaga.settings import BusSettings
from tests.polling import wait_until

TOPIC = "identity"
SUBSCRIBER = "sub"

FAST_BUS = BusSettings(batch_size=256, max_attempts=5, retry_base=1.0, retry_cap=8.0, unavailable_cap=0.02,
                       delivery_timeout=1.0, idle_poll=0.005)
"""Retries wait on the fake clock (seconds of it); the pumps look at it every 5 ms of real time."""


class FakeClock:
    """The broker's clock: stands still until the test advances it; counts how often it was read.

    A pump reads the clock at the top of every turn, so "read three more times" means the pump has
    looked at the log with the current time and finished whatever delivery that turn made.
    """

    def __init__(self, start: float = 1_000.0) -> None:
        self._now = start
        self._reads = 0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            self._reads += 1
            return self._now

    @property
    def now(self) -> float:
        """The time, without counting as a read."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def wait_for_pump_turns(self, turns: int = 3) -> None:
        with self._lock:
            target = self._reads + turns
        wait_until(lambda: self._reads >= target, timeout=5.0, interval=0.001, message="pump turns")


class ScriptedTransport:
    """A Transport to scripted subscribers.

    It records every deliver call, acks what it is not told to fail, fails chosen event ids (a chosen
    number of times, or forever), skips the later events of a failed key in the same batch (as the
    real consumer does), raises SubscriberUnavailable for subscribers marked down, and can hold a
    delivery at a gate so the test can look at the broker while a batch is in flight.
    """

    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, int] = {}
        self.calls: list[tuple[str, list[str]]] = []
        self.processed: dict[str, list[str]] = defaultdict(list)
        self.attempt_times: dict[str, list[float]] = defaultdict(list)
        self.down: set[str] = set()
        self.gate: threading.Event | None = None
        self.at_gate = threading.Event()

    def fail(self, event_id: str, times: int = -1) -> None:
        """Fail ``event_id`` the next ``times`` deliveries (-1: every time)."""
        with self._lock:
            self._failures[event_id] = times

    def heal(self, event_id: str) -> None:
        with self._lock:
            self._failures.pop(event_id, None)

    def calls_to(self, subscriber: str = SUBSCRIBER) -> list[list[str]]:
        with self._lock:
            return [ids for name, ids in self.calls if name == subscriber]

    def processed_by(self, subscriber: str = SUBSCRIBER) -> list[str]:
        with self._lock:
            return list(self.processed[subscriber])

    def deliver(self, subscriber: str, batch: Sequence[Delivered], timeout: float) -> DeliveryReport:
        envelopes = [(offset, Envelope.from_json(body)) for offset, body in batch]
        with self._lock:
            self.calls.append((subscriber, [e.id for _, e in envelopes]))
            if subscriber in self.down:
                raise SubscriberUnavailable(f"{subscriber} is down")
        if self.gate is not None:
            self.at_gate.set()
            self.gate.wait(5.0)
        report = DeliveryReport()
        failed_keys: set[str] = set()
        with self._lock:
            for offset, envelope in envelopes:
                if envelope.key in failed_keys:
                    report.skipped.append(offset)
                    continue
                self.attempt_times[envelope.id].append(self._clock.now)
                left = self._failures.get(envelope.id, 0)
                if left != 0:
                    self._failures[envelope.id] = left - 1 if left > 0 else -1
                    failed_keys.add(envelope.key)
                    report.failed[offset] = f"boom {len(self.attempt_times[envelope.id])}"
                    continue
                self.processed[subscriber].append(envelope.id)
                report.acked.append(offset)
        return report


@pytest.fixture
def fast_bus() -> BusSettings:
    """Retries wait on the fake clock (seconds of it); the pumps look at it every 5 ms of real time."""
    return FAST_BUS


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def transport(clock: FakeClock) -> ScriptedTransport:
    return ScriptedTransport(clock)


@pytest.fixture
def bus_path(tmp_path: Path) -> Path:
    return tmp_path / "bus.sqlite"


BrokerFactory = Callable[..., Broker]


@pytest.fixture
def new_broker(bus_path: Path, clock: FakeClock, transport: ScriptedTransport) -> Iterator[BrokerFactory]:
    """Make brokers on the test's log file (started unless asked not to); all are stopped at the end."""
    made: list[Broker] = []

    def make(settings: BusSettings = FAST_BUS, *, transport_: ScriptedTransport | None = None,
             subscribers: Sequence[str] = (SUBSCRIBER,), start: bool = True) -> Broker:
        broker = Broker(bus_path, [SubscriptionSpec(TOPIC, name) for name in subscribers],
                        transport_ or transport, settings, clock=clock)
        made.append(broker)
        if start:
            broker.start()
        return broker

    yield make
    for broker in made:
        broker.stop()

"""The runtime shell of one service: its database, inbox, outbox relay and fault switches.

A host is a plain class. In a cluster, ``actors/runtime.py`` makes it a Ray actor; in unit tests it
runs in-process with an in-memory publisher. Its public methods are the actor's interface.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..bus import consumer, outbox
from ..bus.consumer import Delivered, DeliveryReport, SubscriberUnavailable, WireReport
from ..bus.envelope import Envelope, Outgoing
from ..bus.outbox import OutboxRelay, Publish
from ..bus.packing import unpack_deliveries
from ..priority import describe_process, niceness, policy, run_at_niceness
from ..settings import Policy, Settings
from ..storage import open_database, transaction
from .choreography import Participant
from .definitions import DEFINITIONS
from .service import ANY_MESSAGE, Service

log = logging.getLogger(__name__)

FAULTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS faults (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    down INTEGER NOT NULL,
    latency_ms INTEGER NOT NULL,
    fail_rate REAL NOT NULL
);
"""


class InjectedFailure(Exception):
    """A failure switched on by ``scimsaga chaos --fail-rate``: transient, so the bus retries it."""


@dataclass
class Faults:
    """Chaos switches, kept in the service's database so a restarted actor keeps them."""

    down: bool = False
    latency_ms: int = 0
    fail_rate: float = 0.0

    def describe(self) -> str:
        if self.down:
            return "down"
        parts = []
        if self.latency_ms:
            parts.append(f"slow {self.latency_ms}ms")
        if self.fail_rate:
            parts.append(f"failing {self.fail_rate:.0%}")
        return ", ".join(parts) or "up"


class ServiceHost:
    """Runs one service: takes deliveries, keeps its outbox flowing, answers status and chaos."""

    def __init__(self, service: Service, settings: Settings, publish: Publish | None,
                 rng: random.Random | None = None, niceness: int | None = None,
                 policy: Policy | None = None) -> None:
        """``niceness`` and ``policy``: the priority to run the process at, if below its own (the
        runtime gives one to the actors off the request path; see ``priority.py``)."""
        run_at_niceness(niceness, policy)
        self.service = service
        self.settings = settings
        self.path = settings.database(service.name)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = open_database(self.path)
        consumer.install(self.conn)
        self.conn.executescript(FAULTS_SCHEMA)
        service.install(self.conn)
        self.faults = self._load_faults()
        self.lock = threading.RLock()
        """Held by every call that uses the connection: Ray's calls and the host's own threads."""
        self._handlers = dict(service.handlers())
        if settings.mode == "choreography" and service.choreographed:
            participant = Participant(service, DEFINITIONS)
            participant.install(self.conn)
            self._handlers.update(participant.handlers(self._handlers))
        self._rng = rng or random.Random()
        self.relay: OutboxRelay | None = None
        if publish is not None:
            self.relay = OutboxRelay(self.path, publish)
            self.relay.start()

    # --- the bus side ------------------------------------------------------------------------

    def deliver(self, batch: Sequence[Delivered]) -> DeliveryReport:
        """Handle a batch from the broker; raise SubscriberUnavailable while switched down."""
        if self.faults.down:
            raise SubscriberUnavailable(f"{self.service.name} is down")
        if self.faults.latency_ms:
            time.sleep(self.faults.latency_ms / 1000)
        with self.lock:
            report = consumer.process_batch(self.conn, batch, self._dispatch)
        if report.caused:  # waking the relay for nothing costs the reply a share of the GIL
            self.notify_relay()
        return report

    def deliver_packed(self, packed: str) -> WireReport:
        """:meth:`deliver` as the broker calls it over Ray: a packed batch in, builtins out."""
        return self.deliver(unpack_deliveries(packed)).to_wire()

    def _dispatch(self, envelope: Envelope, conn: sqlite3.Connection) -> Sequence[Outgoing]:
        handler = self._handlers.get(envelope.type) or self._handlers.get(ANY_MESSAGE)
        if handler is None:
            return ()
        if self.faults.fail_rate and self._rng.random() < self.faults.fail_rate:
            raise InjectedFailure(f"{self.service.name} failed on purpose (rate {self.faults.fail_rate})")
        return handler(envelope, conn)

    def notify_relay(self) -> None:
        if self.relay is not None:
            self.relay.notify()

    # --- observation and control --------------------------------------------------------------

    def ping(self) -> str:
        return self.service.name

    def process(self) -> dict[str, int | str]:
        return describe_process()

    def status(self) -> dict[str, Any]:
        with self.lock:
            return self._status()

    def _status(self) -> dict[str, Any]:
        return {
            "name": self.service.name,
            "state": self.faults.describe(),
            "niceness": niceness(),
            "policy": policy(),
            "processed": consumer.counter(self.conn, "processed"),
            "outbox": outbox.pending_count(self.conn),
            **self.service.describe(self.conn),
        }

    def state_of(self, user_id: str) -> dict[str, Any] | None:
        with self.lock:
            return self.service.state_of(self.conn, user_id)

    def chaos(self, down: bool | None = None, latency_ms: int | None = None,
              fail_rate: float | None = None) -> dict[str, Any]:
        """Switch faults on or off; what is not given stays as it is."""
        if down is not None:
            self.faults.down = down
        if latency_ms is not None:
            self.faults.latency_ms = max(0, int(latency_ms))
        if fail_rate is not None:
            self.faults.fail_rate = min(1.0, max(0.0, float(fail_rate)))
        with self.lock, transaction(self.conn):
            self.conn.execute(
                "INSERT OR REPLACE INTO faults (id, down, latency_ms, fail_rate) VALUES (1, ?, ?, ?)",
                (int(self.faults.down), self.faults.latency_ms, self.faults.fail_rate),
            )
        log.info("%s faults now: %s", self.service.name, self.faults.describe())
        return asdict(self.faults)

    def _load_faults(self) -> Faults:
        row = self.conn.execute("SELECT down, latency_ms, fail_rate FROM faults WHERE id = 1").fetchone()
        return Faults(bool(row[0]), int(row[1]), float(row[2])) if row else Faults()

    def stop(self) -> None:
        if self.relay is not None:
            self.relay.stop()

"""What every service is: a plain class with its own tables and a table of message handlers.

Services know nothing of Ray. A :class:`~scimsaga.actors.host.ServiceHost` gives a service its SQLite
file, its inbox and outbox, and runs it; ``actors/runtime.py`` makes hosts into Ray actors.

Saga steps reach a service as commands. Each command carries an idempotency key; the first time a key
is seen the service does the work and records its reply, and a repeated key gets the recorded reply
again, so a step that the coordinator re-sends is done once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..bus import codec
from ..bus.consumer import Handler
from ..bus.envelope import Envelope, Outgoing
from ..settings import Clock, IdGenerator, Settings, new_uuid, utc_now
from ..storage import savepoint

IDEMPOTENCY_SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY,
    reply_type TEXT NOT NULL,
    reply TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Reply:
    """The outcome of a command: ``ok``, or a failure that is a business decision (never retried)."""

    type: str
    ok: bool
    reference: str | None = None
    error: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": self.ok, **self.data}
        if self.reference is not None:
            body["reference"] = self.reference
        if self.error is not None:
            body["error"] = self.error
        return body


ANY_MESSAGE = "*"
"""A handler registered under this type gets every message no other handler claims."""

Command = Callable[[Envelope, sqlite3.Connection], Reply]


class BusinessRuleViolation(Exception):
    """A rule of the business said no: never retried, answered with a failed reply named by the class.

    Subclasses name the reply, e.g. ``reply_type = "billing.CustomerRejected"``.
    """

    reply_type: ClassVar[str]


class Service:
    """Base of every service: its name, its tables, its handlers and a view of its state."""

    name: ClassVar[str]
    tables: ClassVar[str] = ""
    choreographed: ClassVar[bool] = False
    """Whether, in choreography, the service runs its saga steps itself on identity's events."""

    def __init__(self, settings: Settings, clock: Clock = utc_now, ids: IdGenerator = new_uuid) -> None:
        self.settings = settings
        self.clock = clock
        self.ids = ids

    def install(self, conn: sqlite3.Connection) -> None:
        conn.executescript(IDEMPOTENCY_SCHEMA + self.tables)

    def handlers(self) -> Mapping[str, Handler]:
        """Message type to handler: the service's whole interface to the bus."""
        return {}

    def describe(self, conn: sqlite3.Connection) -> dict[str, Any]:
        """Counts for ``scimsaga status`` and the dashboard."""
        return {}

    def state_of(self, conn: sqlite3.Connection, user_id: str) -> dict[str, Any] | None:
        """What this service holds for one user, or None."""
        return None

    @property
    def topic(self) -> str:
        """The topic this service publishes its events and replies to."""
        return self.name

    def command(self, run: Command) -> Handler:
        """Wrap a command so it runs once per idempotency key and replies on this service's topic."""

        def handle(envelope: Envelope, conn: sqlite3.Connection) -> Sequence[Outgoing]:
            key = envelope.payload.get("idempotency_key") or envelope.id
            row = conn.execute("SELECT reply_type, reply FROM idempotency WHERE key = ?", (key,)).fetchone()
            if row is not None:
                reply_type, payload = row[0], codec.loads(row[1])
            else:
                try:
                    with savepoint(conn, "command"):
                        reply = run(envelope, conn)
                except BusinessRuleViolation as exc:
                    reply = Reply(exc.reply_type, ok=False, error=str(exc), data={"business": True})
                reply_type, payload = reply.type, reply.payload()
                conn.execute("INSERT INTO idempotency (key, reply_type, reply) VALUES (?, ?, ?)",
                             (key, reply_type, codec.dumps(payload)))
            correlation = {k: v for k, v in envelope.payload.items() if k in ("saga_id", "step", "phase")}
            return [Outgoing(self.topic, envelope.caused(
                reply_type, {**correlation, "user_id": envelope.key, **payload}, at=self.clock()))]

        return handle


def user_snapshot(envelope: Envelope) -> dict[str, Any]:
    """The user a saga command is about, as identity served it when the saga started."""
    user = envelope.payload.get("user")
    return dict(user) if isinstance(user, dict) else {}

"""Message envelopes: every event and command travels in one (see docs/ARCHITECTURE.md, Messages)."""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from . import codec

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Envelope:
    """An event (a fact, past tense) or a command (a request, imperative).

    ``id`` is the deduplication key, ``key`` the ordering key (the resource id), ``correlation_id``
    ties together everything one request or saga caused, ``causation_id`` names the message that
    caused this one.
    """

    id: str
    type: str
    key: str
    correlation_id: str
    causation_id: str | None
    occurred_at: str
    payload: dict[str, Any] = field(default_factory=dict)
    version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        # The fields by hand: ``asdict`` deep-copies the payload first, which costs more than the dump.
        return codec.dumps_sorted({
            "id": self.id, "type": self.type, "key": self.key, "correlation_id": self.correlation_id,
            "causation_id": self.causation_id, "occurred_at": self.occurred_at, "payload": self.payload,
            "version": self.version,
        })

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Envelope:
        # Every consumer builds one envelope per event it receives; filling the instance's __dict__ at
        # once costs a third of the frozen dataclass's __init__, which sets each field on its own.
        envelope = object.__new__(cls)
        envelope.__dict__.update(
            id=data["id"],
            type=data["type"],
            key=data["key"],
            correlation_id=data["correlation_id"],
            causation_id=data.get("causation_id"),
            occurred_at=data["occurred_at"],
            payload=dict(data.get("payload") or {}),
            version=int(data.get("version", SCHEMA_VERSION)),
        )
        return envelope

    @classmethod
    def from_json(cls, text: str) -> Envelope:
        return cls.from_dict(codec.loads(text))

    def caused(self, type: str, payload: dict[str, Any], *, key: str | None = None,
               at: str, id: str | None = None) -> Envelope:
        """A message caused by this one: same correlation, this one as its cause."""
        return Envelope(
            id=id or new_id(),
            type=type,
            key=key if key is not None else self.key,
            correlation_id=self.correlation_id,
            causation_id=self.id,
            occurred_at=at,
            payload=payload,
        )


def new_id() -> str:
    """A UUID of version 7 (RFC 9562 §5.7): 48 bits of Unix time in milliseconds, then random bits.

    Ids made later sort later, so the indexes that hold them (the broker's log, every service's inbox)
    grow at one end instead of touching a random page per insert, which keeps each commit small.
    """
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # the RFC 4122 / 9562 variant
    return str(uuid.UUID(int=value))


def new_message(type: str, key: str, payload: dict[str, Any], *, at: str,
                correlation_id: str | None = None, id: str | None = None) -> Envelope:
    """A message that starts a new chain (e.g. the event a SCIM request caused)."""
    message_id = id or new_id()
    return Envelope(
        id=message_id,
        type=type,
        key=key,
        correlation_id=correlation_id or message_id,
        causation_id=None,
        occurred_at=at,
        payload=payload,
    )


@dataclass(frozen=True)
class Outgoing:
    """A message to publish on a topic once the transaction that produced it commits."""

    topic: str
    envelope: Envelope

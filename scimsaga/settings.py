"""Settings, the clock and the id generator: plain values every room may take as arguments."""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

Policy = Literal["normal", "batch", "idle"]
"""A Linux scheduling policy, from the most favoured: SCHED_OTHER, SCHED_BATCH, SCHED_IDLE (priority.py)."""
POLICIES: tuple[Policy, ...] = ("normal", "batch", "idle")

Clock = Callable[[], str]
"""Returns the current time as an RFC 3339 / xsd:dateTime string in UTC."""

IdGenerator = Callable[[], str]


_SECOND: tuple[int, str] = (-1, "")
"""The last whole second :func:`utc_now` wrote, and its text up to the seconds."""


def utc_now() -> str:
    """Now, in UTC with milliseconds, as SCIM timestamps are usually written (RFC 7643 §2.3.5).

    The text up to the seconds is kept from one call to the next: the coordinator stamps several
    times per message, and formatting a datetime each time took a tenth of its time under load.
    """
    global _SECOND
    millis = time.time_ns() // 1_000_000
    second, milli = divmod(millis, 1000)
    cached_second, text = _SECOND
    if cached_second != second:
        text = datetime.fromtimestamp(second, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        _SECOND = (second, text)  # one assignment: a thread reads the old pair or the new one
    return f"{text}.{milli:03d}Z"


def new_token(size: int = 24) -> str:
    """A bearer token that never starts with "-", which a command line would read as a flag
    (``--token -x...``; ``token_urlsafe`` begins with one about once in 64 tokens)."""
    while True:
        token = secrets.token_urlsafe(size)
        if not token.startswith("-"):
            return token


def new_uuid() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class BusSettings:
    """How the broker delivers: batch size, retries with backoff, dead letters, timeouts, retention.

    ``batch_size`` bounds what a subscriber holds at once; a Ray call costs about a millisecond of
    CPU on either side, so large batches are what makes a busy bus fast (bench/bus.py). ``retention``
    is how long (seconds) an event stays in the log after it was published, once no subscription
    needs it any more; the broker looks for such events every ``compact_interval``.
    """

    batch_size: int = 1024
    max_attempts: int = 8
    retry_base: float = 0.1
    retry_cap: float = 10.0
    unavailable_cap: float = 2.0
    delivery_timeout: float = 30.0
    idle_poll: float = 1.0
    retention: float = 7 * 24 * 3600.0
    compact_interval: float = 60.0


@dataclass(frozen=True)
class SagaSettings:
    """How patient saga steps are: wait ``step_timeout`` for a reply, ask again with doubling waits up
    to ``max_step_timeout``, and count a step failed for good after ``give_up_after`` seconds."""

    step_timeout: float = 5.0
    max_step_timeout: float = 30.0
    give_up_after: float = 600.0
    tick_interval: float = 0.25


OnFailure = Literal["delete", "deactivate"]
Mode = Literal["orchestration", "choreography"]


@dataclass(frozen=True)
class Settings:
    """Everything the services and the cluster need to know, passed in (never read from globals)."""

    data_dir: Path
    namespace: str = "scimsaga"
    mode: Mode = "orchestration"
    cost_center_pattern: str = r"CC-\d{4}"
    on_failure: OnFailure = "delete"
    default_entitlements: tuple[str, ...] = ("wiki:read", "chat:member")
    bus: BusSettings = field(default_factory=BusSettings)
    saga: SagaSettings = field(default_factory=SagaSettings)
    background_niceness: int = 19
    """The niceness of the broker and the services off the request path: the lowest priority, so that
    on a busy machine the IdP's request is answered first and the fan-out uses what is left
    (``priority.py``). Identity keeps the niceness of Ray's workers."""
    background_policy: Policy = "normal"
    """Their scheduling policy. ``idle`` gives the core up to any other thread the moment it wakes, and
    so can starve them behind any busy process on the machine, not only identity; on two cores it
    measured within the noise of ``normal`` (``scimsaga up --background-policy``)."""
    coordinator_niceness: int = 10
    """The niceness of the saga coordinator: between the two, since every saga passes through it one
    message at a time while the services' work spreads over both cores."""
    coordinator_policy: Policy = "batch"
    """Its scheduling policy: ``batch`` takes its share of the core but never preempts on waking."""

    def __post_init__(self) -> None:
        re.compile(self.cost_center_pattern)

    def database(self, service: str) -> Path:
        """The SQLite file a service owns inside the data directory."""
        return self.data_dir / f"{service}.sqlite"


LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def is_loopback(address: str | None) -> bool:
    """Whether a Ray address (``HOST:PORT``) is on this machine's loopback; None means a local cluster."""
    if address is None:
        return True
    host = address.rpartition(":")[0].strip("[]") or address
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


AUTH_MODE_ENV = "RAY_AUTH_MODE"
RAY_TOKEN_FILE = Path.home() / ".ray" / "auth_token"


def keep_ray_on_loopback() -> None:
    """Make a Ray cluster started or joined on this machine use 127.0.0.1, not the network address.

    Ray picks the loopback address only where it believes multi-node clusters are unsupported; the
    switch is read when ``ray`` is first imported, so call this before anything imports Ray.
    """
    os.environ.setdefault(LOOPBACK_ENV, "0")


def use_ray_token_if_present() -> None:
    """Send Ray's auth token when joining a cluster, as a cluster Ray started locally requires.

    A local ``ray.init()`` turns token authentication on and keeps the token in ``~/.ray/auth_token``,
    but a process that only joins sends it only when ``RAY_AUTH_MODE=token`` is set.
    """
    if AUTH_MODE_ENV not in os.environ and RAY_TOKEN_FILE.exists():
        os.environ[AUTH_MODE_ENV] = "token"

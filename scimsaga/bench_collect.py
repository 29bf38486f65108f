"""What ``scimsaga bench`` reads back after the load: the users' timestamps and the bus's fan-out.

- Saga completion comes from identity's own clock: ``meta.created`` is the commit of the user row and
  its outbox event (the POST accepted); the provisioning saga's last write is the activation, so for
  a user nothing else changed, ``meta.lastModified`` is the moment it became ``active: true``
  (RFC 7643 §3.1). The bench never polls a user to time it; it only waits (by counting the active
  users of its run with a filter) to know when to read the timestamps.
- Fan-out comes from the broker (``GET /dashboard/api/status``): for each event type of a topic, the
  time from the event's ``occurred_at`` (identity's outbox commit) to the acknowledgement of the last
  of the topic's subscriptions, kept by the broker in a reservoir of the most recent events.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .bench_load import USER_PREFIX
from .demo_client import DeploymentError, ScimClient

IDENTITY_TOPIC = "identity"
CREATED_EVENT = "identity.UserCreated"
PAGE = 1000


def run_filter(tag: str) -> str:
    """The SCIM filter (RFC 7644 §3.4.2.2) that selects the users of one run."""
    return f'userName sw "{USER_PREFIX}-{tag}-"'


def count_active(client: ScimClient, tag: str) -> int:
    """How many users of the run identity serves as ``active: true`` (``count=0``: totals only)."""
    answer = client.list_users(f"{run_filter(tag)} and active eq true", count=0)
    if answer.status != 200 or not isinstance(answer.body, dict):
        raise DeploymentError(f"counting the active users answered {answer.status}: {answer.body}")
    return int(answer.body.get("totalResults") or 0)


def wait_active(client: ScimClient, tag: str, expected: int, deadline: float,
                seen: Callable[[int], None], interval: float = 0.25) -> int:
    """Count the run's active users until all ``expected`` are, or ``deadline``; return the last count."""
    active = count_active(client, tag)
    seen(active)
    while active < expected and time.time() < deadline:
        time.sleep(interval)
        active = count_active(client, tag)
        seen(active)
    return active


@dataclass(frozen=True)
class Provisioned:
    """One user of the run as identity serves it after the run."""

    user_id: str
    active: bool
    created: str
    last_modified: str


def users_of_run(client: ScimClient, tag: str) -> list[Provisioned]:
    """Every user of the run, page by page (RFC 7644 §3.4.2.4), with ``active`` and ``meta``."""
    found: list[Provisioned] = []
    start = 1
    while True:
        answer = client.list_users(run_filter(tag), start_index=start, count=PAGE,
                                   attributes="active,meta")
        if answer.status != 200 or not isinstance(answer.body, dict):
            raise DeploymentError(f"listing the run's users answered {answer.status}: {answer.body}")
        resources = answer.body.get("Resources") or []
        for user in resources:
            meta = user.get("meta") or {}
            found.append(Provisioned(str(user.get("id")), user.get("active") is True,
                                     str(meta.get("created")), str(meta.get("lastModified"))))
        start += len(resources)
        if not resources or start > int(answer.body.get("totalResults") or 0):
            return found


def fanout_of(status: dict[str, Any], topic: str = IDENTITY_TOPIC,
              event_type: str = CREATED_EVENT) -> dict[str, Any]:
    """The broker's fan-out figures for ``event_type`` on ``topic`` and the topic's subscribers."""
    subscriptions = [s for s in status.get("subscriptions") or [] if s.get("topic") == topic]
    figures: dict[str, Any] = {}
    for subscription in subscriptions:
        fanout = subscription.get("fanout")
        if isinstance(fanout, dict):
            figures = dict((fanout.get("types") or {}).get(event_type) or {})
            figures["waiting"] = fanout.get("waiting", 0)
            figures["forgotten"] = fanout.get("forgotten", 0)
            break
    figures["subscribers"] = sorted(str(s.get("subscriber")) for s in subscriptions)
    return figures


"""The ports the front door talks through. The HTTP layer knows these, never Ray or the services.

Adapters: ``actors/handles.py`` implements them with Ray actor calls; the identity host itself
implements :class:`IdentityPort` in-process, which is what the fast protocol tests use.
"""

from __future__ import annotations

from typing import Any, Protocol

from .scim.listing import ListQuery, Page
from .scim.resource import StoredResource


class IdentityPort(Protocol):
    """The authoritative store of users: every call answers from it at once (read-your-writes)."""

    def create_user(self, attributes: dict[str, Any], correlation_id: str) -> StoredResource:
        """Store a new user (pending) and queue ``UserCreated``; raises Uniqueness on a taken userName."""
        ...

    def get_user(self, user_id: str) -> StoredResource:
        """Raises NotFound."""
        ...

    def query_users(self, query: ListQuery) -> Page:
        """Raises InvalidFilter for a bad filter."""
        ...

    def delete_user(self, user_id: str, correlation_id: str) -> None:
        """Remove the user and queue ``UserDeleted``; raises NotFound."""
        ...


class OperationsPort(Protocol):
    """What an operator (the dashboard, the CLI) sees of a running deployment and can switch."""

    def status(self) -> dict[str, Any]:
        """``services``, ``subscriptions`` and ``sagas``, as ``scimsaga status --json`` prints them."""
        ...

    def recent_sagas(self, limit: int) -> list[dict[str, Any]]:
        """The latest sagas, newest first, each with its steps' history."""
        ...

    def chaos(self, name: str, **changes: Any) -> dict[str, Any]:
        """Switch a service's faults (down, latency_ms, fail_rate); returns those in force."""
        ...

    def kill(self, name: str) -> None:
        """Kill an actor as a crash would; it is restarted."""
        ...


class HealthPort(Protocol):
    """Whether every actor behind the front door answers."""

    def ready(self) -> bool: ...

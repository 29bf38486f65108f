"""The ports the front door talks through. The HTTP layer knows these, never Ray or the services.

Adapters: ``actors/handles.py`` implements them with Ray actor calls; the identity host itself
implements :class:`IdentityPort` in-process, which is what the fast protocol tests use.
"""

from __future__ import annotations

from typing import Any, Protocol

from .scim.listing import ListQuery, Page
from .scim.patch_request import PatchRequest
from .scim.resource import StoredResource


class IdentityPort(Protocol):
    """The authoritative store of users and groups: every call answers from it at once (read-your-writes).

    ``kind`` is the name of a resource type, ``"User"`` or ``"Group"``. ``if_match`` is the client's
    ``If-Match`` header, checked in the same transaction as the write (412 when stale).
    """

    def create(self, kind: str, attributes: dict[str, Any], correlation_id: str) -> StoredResource:
        """Store a new resource and queue its ``Created`` event; raises Uniqueness on a taken name."""
        ...

    def get(self, kind: str, resource_id: str) -> StoredResource:
        """Raises NotFound."""
        ...

    def query(self, kind: str, query: ListQuery) -> Page:
        """Raises InvalidFilter for a bad filter, InvalidValue for a bad sortBy."""
        ...

    def replace(self, kind: str, resource_id: str, attributes: dict[str, Any], correlation_id: str,
                if_match: str | None = None) -> StoredResource:
        """Replace the writable attributes and queue ``Updated``; NotFound, Uniqueness, PreconditionFailed."""
        ...

    def delete(self, kind: str, resource_id: str, correlation_id: str, if_match: str | None = None) -> None:
        """Remove the resource and its memberships and queue ``Deleted``; NotFound, PreconditionFailed."""
        ...

    def patch(self, kind: str, resource_id: str, request: PatchRequest, correlation_id: str,
              if_match: str | None = None) -> StoredResource:
        """Apply a PATCH atomically and store the result as ``replace`` would (RFC 7644 §3.5.2);
        NotFound, PreconditionFailed, and the request's own errors (400 invalidValue, noTarget ...)."""
        ...

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

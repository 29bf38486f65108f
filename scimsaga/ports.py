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


class HealthPort(Protocol):
    """Whether every actor behind the front door answers."""

    def ready(self) -> bool: ...

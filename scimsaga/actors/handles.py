"""Ray adapters of the ports the front door uses.

An actor call that fails because the actor is gone, restarting or slow becomes a SCIM 503 the IdP
can retry; a SCIM error raised inside the actor (404, 409, 400 ...) comes out as itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError

from ..scim.errors import ServiceUnavailable
from ..scim.listing import ListQuery, Page
from ..scim.patch_request import PatchRequest
from ..scim.resource import StoredResource
from .coalescing import Call, CallTimedOut, Coalescer, Outcome, pack, unpack


class RayIdentity:
    """The IdentityPort over the identity actor.

    ``handle`` gives the actor handle, or None while the cluster is still starting (then: 503).
    Calls made at the same time from the front door's threads go to the actor together
    (``coalescing.py``); each raises its own SCIM error.
    """

    def __init__(self, handle: Callable[[], Any], timeout: float = 30.0) -> None:
        self._handle = handle
        self._timeout = timeout
        self.coalescer = Coalescer(self._send, wait_limit=timeout)

    def _send(self, calls: list[Call]) -> list[Outcome]:
        handle = self._handle()
        if handle is None:
            raise ServiceUnavailable("scimsaga is still starting; retry in a few seconds")
        try:
            outcomes: list[Outcome] = unpack(ray.get(handle.many_packed.remote(pack(calls)),
                                                     timeout=self._timeout))
        except GetTimeoutError:
            raise ServiceUnavailable("the identity service did not answer in time; retry later") from None
        except RayActorError:
            raise ServiceUnavailable("the identity service is restarting; retry in a moment") from None
        return outcomes

    def _call(self, method: str, *args: Any) -> Any:
        try:
            return self.coalescer.call(method, *args)
        except CallTimedOut:
            raise ServiceUnavailable("the identity service did not answer in time; retry later") from None

    def create(self, kind: str, attributes: dict[str, Any], correlation_id: str) -> StoredResource:
        resource: StoredResource = self._call("create", kind, attributes, correlation_id)
        return resource

    def get(self, kind: str, resource_id: str) -> StoredResource:
        resource: StoredResource = self._call("get", kind, resource_id)
        return resource

    def query(self, kind: str, query: ListQuery) -> Page:
        page: Page = self._call("query", kind, query)
        return page

    def replace(self, kind: str, resource_id: str, attributes: dict[str, Any], correlation_id: str,
                if_match: str | None = None) -> StoredResource:
        resource: StoredResource = self._call("replace", kind, resource_id, attributes, correlation_id,
                                              if_match)
        return resource

    def delete(self, kind: str, resource_id: str, correlation_id: str, if_match: str | None = None) -> None:
        self._call("delete", kind, resource_id, correlation_id, if_match)

    def patch(self, kind: str, resource_id: str, request: PatchRequest, correlation_id: str,
              if_match: str | None = None) -> StoredResource:
        resource: StoredResource = self._call("patch", kind, resource_id, request, correlation_id, if_match)
        return resource

    def create_user(self, attributes: dict[str, Any], correlation_id: str) -> StoredResource:
        user: StoredResource = self._call("create_user", attributes, correlation_id)
        return user

    def get_user(self, user_id: str) -> StoredResource:
        user: StoredResource = self._call("get_user", user_id)
        return user

    def query_users(self, query: ListQuery) -> Page:
        page: Page = self._call("query_users", query)
        return page

    def delete_user(self, user_id: str, correlation_id: str) -> None:
        self._call("delete_user", user_id, correlation_id)

"""Ray adapters of the ports the front door uses.

An actor call that fails because the actor is gone, restarting or slow becomes a SCIM 503 the IdP
can retry; a SCIM error raised inside the actor (404, 409, 400 ...) comes out as itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

from ..scim.errors import ScimError, ServiceUnavailable
from ..scim.listing import ListQuery, Page
from ..scim.resource import StoredResource


class RayIdentity:
    """The IdentityPort over the identity actor.

    ``handle`` gives the actor handle, or None while the cluster is still starting (then: 503).
    """

    def __init__(self, handle: Callable[[], Any], timeout: float = 30.0) -> None:
        self._handle = handle
        self._timeout = timeout

    def _call(self, method: str, *args: Any) -> Any:
        handle = self._handle()
        if handle is None:
            raise ServiceUnavailable("scimsaga is still starting; retry in a few seconds")
        try:
            return ray.get(getattr(handle, method).remote(*args), timeout=self._timeout)
        except RayTaskError as exc:
            if isinstance(exc.cause, ScimError):
                raise exc.cause from None
            raise
        except GetTimeoutError:
            raise ServiceUnavailable("the identity service did not answer in time; retry later") from None
        except RayActorError:
            raise ServiceUnavailable("the identity service is restarting; retry in a moment") from None

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

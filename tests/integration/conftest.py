"""A deployment of the real topology on the shared Ray session, one per test, in its own namespace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray

from scimsaga.cluster import Attached, Cluster
from scimsaga.scim.errors import NotFound
from scimsaga.scim.resource import StoredResource, parse_resource
from scimsaga.scim.schema import ENTERPRISE_USER_URN, USER, USER_SCHEMA_URN
from scimsaga.settings import Settings
from tests.polling import wait_until


class Deployment:
    """The cluster plus the small vocabulary the tests speak."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.identity = cluster.identity()
        self.attached = Attached(cluster.settings.namespace, cluster.names)

    def create_user(self, user_name: str, cost_center: str | None = None) -> StoredResource:
        body: dict[str, Any] = {"schemas": [USER_SCHEMA_URN], "userName": user_name,
                                "emails": [{"value": user_name, "type": "work"}]}
        if cost_center is not None:
            body["schemas"].append(ENTERPRISE_USER_URN)
            body[ENTERPRISE_USER_URN] = {"costCenter": cost_center}
        return self.identity.create_user(parse_resource(USER, body), f"test-{user_name}")

    def user_or_none(self, user_id: str) -> StoredResource | None:
        try:
            return self.identity.get_user(user_id)
        except NotFound:
            return None

    def is_active(self, user_id: str) -> bool:
        user = self.user_or_none(user_id)
        return bool(user and user.attributes["active"])

    def call(self, actor: str, method: str, *args: Any, timeout: float = 30.0) -> Any:
        return ray.get(getattr(self.cluster.handle(actor), method).remote(*args), timeout=timeout)

    def state_of(self, service: str, user_id: str) -> Any:
        return self.call(service, "state_of", user_id)

    def subscription(self, name: str) -> dict[str, Any]:
        return next(s for s in self.call("broker", "status") if s["name"] == name)

    def sagas(self) -> dict[str, int]:
        return self.call("saga", "status")["sagas"]

    def settled(self) -> bool:
        """No saga open and nothing left to deliver anywhere, in two looks that agree: the coordinator
        and the broker are asked one after the other, and an event can slip between them."""
        look = self._look()
        agreed = look is not None and look == self._previous_look
        self._previous_look = look
        return agreed

    _previous_look: object = None

    def _look(self) -> object:
        sagas = self.sagas()
        open_sagas = sum(count for state, count in sagas.items() if state in ("queued", "running",
                                                                                "compensating", "finishing"))
        subscriptions = self.call("broker", "status")
        if open_sagas or any(s["lag"] for s in subscriptions):
            return None
        return sorted(sagas.items()), [(s["name"], s["delivered"]) for s in subscriptions]

    def wait_all_active(self, user_ids: list[str], timeout: float = 90.0) -> None:
        wait_until(lambda: all(self.is_active(u) for u in user_ids), timeout=timeout,
                   message=f"all {len(user_ids)} users active")


def start_deployment(data_dir: Path, namespace: str, **settings: Any) -> Deployment:
    cluster = Cluster(Settings(data_dir=data_dir, namespace=namespace, **settings))
    cluster.start()
    assert cluster.wait_ready(timeout=120), "actors did not become ready"
    return Deployment(cluster)


@pytest.fixture
def deployment(ray_address: str, tmp_path: Path, namespace: str) -> Iterator[Deployment]:
    deployment = start_deployment(tmp_path / "data", namespace)
    try:
        yield deployment
    finally:
        deployment.cluster.stop()

"""Issue 6's scenarios in one process, in both modes: whatever happens and whenever, identity, billing,
profile and access end up agreeing on every user, and no saga is left open."""

from __future__ import annotations

from typing import Any

import pytest

from scimsaga.scim.errors import NotFound
from scimsaga.scim.resource import parse_resource
from scimsaga.scim.schema import (
    ENTERPRISE_USER_URN,
    GROUP,
    GROUP_SCHEMA_URN,
    PROVISIONING_URN,
    USER,
    USER_SCHEMA_URN,
)
from tests.polling import wait_until

MODES = ["orchestration", "choreography"]
OPEN = ("queued", "running", "compensating", "finishing")


def body(user_name: str, cost_center: str | None = None, **attributes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"schemas": [USER_SCHEMA_URN], "userName": user_name,
                           "emails": [{"value": user_name, "type": "work"}], **attributes}
    if cost_center is not None:
        doc["schemas"] = [USER_SCHEMA_URN, ENTERPRISE_USER_URN]
        doc[ENTERPRISE_USER_URN] = {"costCenter": cost_center}
    return doc


class World:
    """The cluster and the questions the scenarios ask of it."""

    def __init__(self, cluster) -> None:
        self.cluster = cluster
        self.identity = cluster.identity()

    def create(self, user_name: str, cost_center: str | None = None, **attributes: Any) -> str:
        return self.identity.create("User", parse_resource(USER, body(user_name, cost_center, **attributes)),
                                    f"create-{user_name}").id

    def put(self, user_id: str, user_name: str, **attributes: Any) -> None:
        self.identity.replace("User", user_id, parse_resource(USER, body(user_name, **attributes)),
                              f"put-{user_name}")

    def user(self, user_id: str):
        try:
            return self.identity.get("User", user_id)
        except NotFound:
            return None

    def held(self, service: str, user_id: str) -> Any:
        return self.cluster.hosts[service].state_of(user_id)

    def settled(self) -> bool:
        statuses = [host.status() for host in self.cluster.hosts.values()]
        sagas = next(s["sagas"] for s in statuses if "sagas" in s)
        unsent = sum(s["outbox"] for s in statuses)
        lag = sum(s["lag"] for s in self.cluster.broker.status())
        return unsent == 0 and lag == 0 and not any(sagas.get(state) for state in OPEN)

    def wait_settled(self) -> None:
        wait_until(self.settled, timeout=20, interval=0.02, message="every saga closed and no lag")

    def agree(self, user_id: str) -> None:
        """Every service holds what the user's state in identity says it should."""
        user = self.user(user_id)
        provisioned = user is not None and user.attributes["active"]
        assert (self.held("billing", user_id) is not None) == provisioned, "billing"
        assert (self.held("access", user_id) is not None) == provisioned, "access"
        if user is None:
            assert self.held("profile", user_id) is None, "profile"


@pytest.fixture(params=MODES)
def world(request, local_cluster) -> World:
    return World(local_cluster(mode=request.param))


def test_happy_path(world):
    user_id = world.create("ada@example.com", cost_center="CC-1234")
    world.wait_settled()

    user = world.user(user_id)
    assert user.attributes["active"] is True
    assert user.attributes[PROVISIONING_URN]["state"] == "active"
    assert {s["name"]: s["state"] for s in user.attributes[PROVISIONING_URN]["services"]} == {
        "profile": "done", "access": "done", "billing": "done"}
    world.agree(user_id)


def test_a_bad_cost_center_leaves_nothing_anywhere(world):
    user_id = world.create("mallory@example.com", cost_center="XX-1")
    world.wait_settled()

    assert world.user(user_id) is None
    for service in ("billing", "profile", "access"):
        assert world.held(service, user_id) is None, service


def test_a_change_during_provisioning_and_after_reaches_the_profile(world):
    world.cluster.hosts["billing"].chaos(latency_ms=150)
    user_id = world.create("grace@example.com")
    world.put(user_id, "grace@example.com", emails=[{"value": "grace@navy.example", "type": "work"}])
    world.cluster.hosts["billing"].chaos(latency_ms=0)
    world.wait_settled()
    assert world.held("profile", user_id)["emails"] == ["grace@navy.example"]

    world.put(user_id, "grace@example.com", emails=[{"value": "grace@yale.example", "type": "work"}],
              title="Rear Admiral")

    world.wait_settled()
    profile = world.held("profile", user_id)
    assert (profile["emails"], profile["title"]) == (["grace@yale.example"], "Rear Admiral")
    assert world.user(user_id).attributes["active"] is True


def test_delete_during_provisioning_leaves_nothing_anywhere(world):
    world.cluster.hosts["billing"].chaos(latency_ms=150)
    user_id = world.create("linus@example.com")
    world.identity.delete("User", user_id, "delete-linus")
    world.cluster.hosts["billing"].chaos(latency_ms=0)
    world.wait_settled()

    for service in ("billing", "profile", "access"):
        assert world.held(service, user_id) is None, service


def test_deactivate_then_reactivate(world):
    user_id = world.create("alan@example.com")
    world.wait_settled()

    world.put(user_id, "alan@example.com", active=False)
    world.wait_settled()
    user = world.user(user_id)
    assert user.attributes["active"] is False
    assert user.attributes[PROVISIONING_URN]["state"] == "deactivated"
    world.agree(user_id)
    assert world.held("profile", user_id) is not None, "the profile stays while deactivated"

    world.put(user_id, "alan@example.com", active=True)
    world.wait_settled()
    assert world.user(user_id).attributes["active"] is True
    world.agree(user_id)


def test_billing_down_holds_users_pending_until_it_is_back(world):
    world.cluster.hosts["billing"].chaos(down=True)
    user_ids = [world.create(f"u{i}@example.com") for i in range(10)]
    wait_until(lambda: all(world.held("profile", u) for u in user_ids), timeout=10, message="profiles")
    assert not any(world.user(u).attributes["active"] for u in user_ids)

    world.cluster.hosts["billing"].chaos(down=False)
    world.wait_settled()
    assert all(world.user(u).attributes["active"] for u in user_ids)
    for user_id in user_ids:
        world.agree(user_id)


def test_a_group_with_members_gives_its_members_access(world):
    members = [world.create(f"m{i}@example.com") for i in range(3)]
    world.wait_settled()

    group = world.identity.create("Group", parse_resource(GROUP, {
        "schemas": [GROUP_SCHEMA_URN], "displayName": "Engineering",
        "members": [{"value": m} for m in members]}), "create-group")
    world.wait_settled()

    for member in members:
        assert f"group:{group.id}" in world.held("access", member)["entitlements"]

    world.identity.delete("Group", group.id, "delete-group")
    world.wait_settled()
    for member in members:
        assert f"group:{group.id}" not in world.held("access", member)["entitlements"]

"""Issue 6's scenarios over HTTP against ``scimsaga up`` on real Ray, in both modes.

After each: identity, billing, profile and access agree on every user the scenario touched, and no saga
is left open. In choreography there is no coordinator; "the coordinator killed mid-saga" kills identity,
which watches the outcomes there.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import ray
import requests

from scimsaga.actors.topology import topology_for
from scimsaga.cluster import Attached
from tests.e2e.conftest import Running, scimsaga, start_up
from tests.polling import wait_until

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PROVISIONING = "urn:scimsaga:params:scim:schemas:extension:provisioning:2.0:User"
OPEN = ("queued", "running", "compensating", "finishing")


class Scenario:
    """A deployment seen as an IdP (HTTP) and as an operator (Ray actors, the CLI)."""

    def __init__(self, server: Running, mode: str) -> None:
        self.server = server
        self.mode = mode
        self.http = requests.Session()
        self.http.headers.update(server.headers)

    def body(self, name: str, cost_center: str | None = None, **attributes: Any) -> dict[str, Any]:
        doc: dict[str, Any] = {"schemas": [CORE], "userName": name,
                               "emails": [{"value": name, "type": "work"}], **attributes}
        if cost_center:
            doc["schemas"].append(ENTERPRISE)
            doc[ENTERPRISE] = {"costCenter": cost_center}
        return doc

    def create(self, cost_center: str | None = None, **attributes: Any) -> dict[str, Any]:
        name = f"{uuid.uuid4().hex[:10]}@example.com"
        response = self.http.post(f"{self.server.url}/Users", json=self.body(name, cost_center, **attributes))
        assert response.status_code == 201, response.text
        return response.json()

    def put(self, user: dict[str, Any], **attributes: Any) -> dict[str, Any]:
        response = self.http.put(user["meta"]["location"], json=self.body(user["userName"], **attributes))
        assert response.status_code == 200, response.text
        return response.json()

    def patch(self, user: dict[str, Any], *operations: dict[str, Any]) -> dict[str, Any]:
        """PATCH as Entra ID sends it (RFC 7644 §3.5.2; capitalised ops, booleans as strings)."""
        body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": list(operations)}
        response = self.http.patch(user["meta"]["location"], json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def get(self, user: dict[str, Any]) -> dict[str, Any] | None:
        response = self.http.get(user["meta"]["location"])
        return response.json() if response.status_code == 200 else None

    def held(self, service: str, user_id: str) -> Any:
        actor = ray.get_actor(service, namespace=self.server.namespace)
        return ray.get(actor.state_of.remote(user_id), timeout=30)

    def status(self) -> dict[str, Any]:
        """What ``scimsaga status --json`` prints, asked of the actors directly (a CLI run costs ~1s)."""
        return Attached(self.server.namespace, self.names).status()

    @property
    def names(self) -> list[str]:
        return ["broker", *(spec.name for spec in topology_for(self.mode))]

    def chaos(self, service: str, *flags: str) -> None:
        result = scimsaga("chaos", service, *flags, "--data-dir", str(self.server.data_dir))
        assert result.returncode == 0, result.stderr

    def subscription(self, name: str) -> dict[str, Any]:
        return next(s for s in self.status()["subscriptions"] if s["name"] == name)

    def settled(self, previous: list[Any]) -> bool:
        """Nothing unsent, nothing undelivered, no saga open, and nothing moved since the previous look.

        One look asks the actors one after another, so a message can slip between two of them (the
        coordinator says no saga is open, then takes the event that starts one before the broker is
        asked for its lag): only two looks that agree count.
        """
        status = self.status()
        unsent = sum(s["outbox"] for s in status["services"])
        lag = sum(s["lag"] for s in status["subscriptions"])
        quiet = unsent == 0 and lag == 0 and not any(status["sagas"].get(state) for state in OPEN)
        progress = ([(s["name"], s["delivered"]) for s in status["subscriptions"]],
                    [(s["name"], s["processed"]) for s in status["services"]])
        agreed = quiet and previous == [progress]
        previous[:] = [progress] if quiet else []
        return agreed

    def wait_settled(self, timeout: float = 90.0) -> None:
        previous: list[Any] = []
        wait_until(lambda: self.settled(previous), timeout=timeout, interval=0.2,
                   message="no saga open, no lag, twice in a row")

    def agree(self, users: list[dict[str, Any]]) -> None:
        """Identity, billing, profile and access agree on every user."""
        for user in users:
            served = self.get(user)
            provisioned = served is not None and served["active"]
            for service in ("billing", "access"):
                assert (self.held(service, user["id"]) is not None) == provisioned, (service, served)
            if served is None:
                assert self.held("profile", user["id"]) is None
            else:
                assert self.held("profile", user["id"])["emails"] == [e["value"] for e in served["emails"]]


@pytest.fixture(scope="module", params=["orchestration", "choreography"])
def scenario(request, ray_address: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    mode = request.param
    server = start_up("--address", ray_address, "--namespace", f"{mode[:5]}-{uuid.uuid4().hex[:6]}",
                      "--data-dir", str(tmp_path_factory.mktemp(mode)), "--token", "saga-token",
                      "--mode", mode)
    try:
        yield Scenario(server, mode)
    finally:
        assert server.stop() == 0, server.lines


def test_happy_path(scenario):
    user = scenario.create("CC-1234")
    assert user["active"] is False

    scenario.wait_settled()
    served = scenario.get(user)
    assert served["active"] is True
    assert served[PROVISIONING]["state"] == "active"
    scenario.agree([user])


def test_bad_cost_center_is_compensated_and_nothing_is_left(scenario):
    user = scenario.create("XX-1")

    scenario.wait_settled()
    assert scenario.get(user) is None
    for service in ("billing", "profile", "access"):
        assert scenario.held(service, user["id"]) is None, service


def test_billing_down_while_100_users_are_created(scenario):
    scenario.chaos("billing", "--down")
    try:
        users = [scenario.create() for _ in range(100)]
        assert all(u["active"] is False for u in users)
        wait_until(lambda: scenario.status()["subscriptions"] and _billing_lag(scenario) > 0, timeout=30,
                   message="billing's lag grows")
    finally:
        scenario.chaos("billing", "--up")

    scenario.wait_settled(timeout=120)
    assert all(scenario.get(u)["active"] for u in users)
    scenario.agree(users)


def _billing_lag(scenario: Scenario) -> int:
    topic = "billing.commands" if scenario.mode == "orchestration" else "identity"
    return scenario.subscription(f"billing<-{topic}")["lag"]


def test_a_service_killed_in_the_middle_of_a_step(scenario):
    topic = "profile.commands" if scenario.mode == "orchestration" else "identity"
    scenario.chaos("profile", "--latency", "1500")
    users = [scenario.create() for _ in range(10)]
    wait_until(lambda: scenario.subscription(f"profile<-{topic}")["in_flight"] > 0, timeout=30,
               message="a batch in flight to profile")

    scenario.chaos("profile", "--kill")
    scenario.chaos("profile", "--up")

    scenario.wait_settled()
    assert all(scenario.get(u)["active"] for u in users)
    scenario.agree(users)


def test_the_coordinator_killed_mid_saga(scenario):
    scenario.chaos("billing", "--latency", "300")
    users = [scenario.create() for _ in range(10)]

    scenario.chaos("saga" if scenario.mode == "orchestration" else "identity", "--kill")
    scenario.chaos("billing", "--up")

    scenario.wait_settled()
    assert all(scenario.get(u)["active"] for u in users)
    scenario.agree(users)


def test_an_email_changed_during_pending_and_after_reaches_the_profile(scenario):
    scenario.chaos("billing", "--latency", "300")
    user = scenario.create()
    scenario.put(user, emails=[{"value": "during@example.com", "type": "work"}])
    scenario.chaos("billing", "--up")
    scenario.wait_settled()
    assert scenario.held("profile", user["id"])["emails"] == ["during@example.com"]

    work_email = 'emails[type eq "work"].value'
    scenario.patch(user, {"op": "Replace", "path": work_email, "value": "after@example.com"})

    scenario.wait_settled()
    assert scenario.held("profile", user["id"])["emails"] == ["after@example.com"]
    scenario.agree([user])


def test_delete_during_pending_leaves_nothing(scenario):
    scenario.chaos("billing", "--latency", "300")
    user = scenario.create()
    assert scenario.http.delete(user["meta"]["location"]).status_code == 204
    scenario.chaos("billing", "--up")

    scenario.wait_settled()
    for service in ("billing", "profile", "access"):
        assert scenario.held(service, user["id"]) is None, service


def test_deactivate_then_reactivate(scenario):
    user = scenario.create()
    scenario.wait_settled()

    scenario.patch(user, {"op": "Replace", "path": "active", "value": "False"})
    scenario.wait_settled()
    served = scenario.get(user)
    assert (served["active"], served[PROVISIONING]["state"]) == (False, "deactivated")
    scenario.agree([user])

    scenario.patch(user, {"op": "Replace", "path": "active", "value": "True"})
    scenario.wait_settled()
    assert scenario.get(user)["active"] is True
    scenario.agree([user])


def test_a_group_created_with_members_gives_them_access(scenario):
    members = [scenario.create() for _ in range(3)]
    scenario.wait_settled()

    response = scenario.http.post(f"{scenario.server.url}/Groups", json={
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": f"g-{uuid.uuid4().hex[:6]}", "members": [{"value": m["id"]} for m in members]})
    assert response.status_code == 201, response.text
    group_id = response.json()["id"]

    scenario.wait_settled()
    for member in members:
        assert f"group:{group_id}" in scenario.held("access", member["id"])["entitlements"]
    scenario.agree(members)

"""The whole road on real Ray actors: provisioning, compensation, deprovisioning."""

from __future__ import annotations

from scimsaga.scim.schema import PROVISIONING_URN
from tests.polling import wait_until


def test_a_new_user_is_pending_then_active_with_every_service_provisioned(deployment):
    user = deployment.create_user("ada@example.com", cost_center="CC-1234")
    assert user.attributes["active"] is False
    assert user.attributes[PROVISIONING_URN]["state"] == "pending"

    deployment.wait_all_active([user.id])

    provisioning = deployment.identity.get_user(user.id).attributes[PROVISIONING_URN]
    assert provisioning["state"] == "active"
    assert [(s["name"], s["state"]) for s in provisioning["services"]] == [
        ("profile", "done"), ("access", "done"), ("billing", "done")]
    billing = deployment.state_of("billing", user.id)
    assert billing["customer_id"].startswith("cus_")
    assert provisioning["services"][2]["reference"] == billing["customer_id"]
    assert deployment.state_of("profile", user.id)["emails"] == ["ada@example.com"]
    assert deployment.state_of("access", user.id)["entitlements"] == ["chat:member", "wiki:read"]


def test_a_rejected_cost_center_is_compensated_in_reverse_order_and_the_user_removed(deployment):
    user = deployment.create_user("mallory@example.com", cost_center="XX-1")

    wait_until(lambda: deployment.user_or_none(user.id) is None, message="user compensated away")

    for service in ("billing", "profile", "access"):
        assert deployment.state_of(service, user.id) is None, service
    saga = deployment.state_of("saga", user.id)["sagas"][0]
    assert saga["status"] == "compensated"
    assert "costCenter 'XX-1'" in saga["reason"]
    undo = [h["event"] for h in saga["history"] if "(compensated)" in h["event"]]
    assert undo == ["access: access.AccessRevoked (compensated)",
                    "profile: profile.ProfileRemoved (compensated)"]


def test_deleting_a_user_deprovisions_it_everywhere(deployment):
    user = deployment.create_user("grace@example.com")
    deployment.wait_all_active([user.id])

    deployment.identity.delete_user(user.id, "test-delete")

    wait_until(lambda: all(deployment.state_of(s, user.id) is None for s in ("billing", "profile", "access")),
               message="services deprovisioned")
    wait_until(deployment.settled, message="no saga open")
    assert deployment.sagas() == {"completed": 2}

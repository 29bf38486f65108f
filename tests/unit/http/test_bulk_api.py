"""``POST /Bulk`` over falcon.testing (RFC 7644 §3.7) against the real identity host of a LocalCluster:
each operation runs as its own endpoint would, with its own events."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from falcon import testing

from scimsaga.bus.envelope import Envelope
from scimsaga.http.app import HttpSettings, create_app
from scimsaga.scim.bulk import BULK_REQUEST_SCHEMA, BULK_RESPONSE_SCHEMA
from scimsaga.scim.patch_request import PATCH_OP_SCHEMA
from tests.polling import wait_until
from tests.unit.http.conftest import BASE, CORE_GROUP, CORE_USER, TOKEN, Ready, post_user, scim_error


def bulk(api: testing.TestClient, *operations: dict[str, Any], **members: Any) -> testing.Result:
    return api.simulate_post(
        f"{BASE}/Bulk", json={"schemas": [BULK_REQUEST_SCHEMA], "Operations": list(operations), **members}
    )


def new_user(bulk_id: str, user_name: str, **attributes: Any) -> dict[str, Any]:
    return {
        "method": "POST",
        "path": "/Users",
        "bulkId": bulk_id,
        "data": {"schemas": [CORE_USER], "userName": user_name, **attributes},
    }


def new_group(bulk_id: str, name: str, *members: str) -> dict[str, Any]:
    return {
        "method": "POST",
        "path": "/Groups",
        "bulkId": bulk_id,
        "data": {"schemas": [CORE_GROUP], "displayName": name, "members": [{"value": m} for m in members]},
    }


HOST = "http://falconframework.org"


def get(api: testing.TestClient, location: str) -> testing.Result:
    return api.simulate_get(location.removeprefix(HOST))


def published(local, count: int) -> list[Envelope]:
    """The identity events the outbox relay handed to the bus, once there are ``count`` of them."""

    def read() -> list[Envelope]:
        with sqlite3.connect(str(local.settings.database("bus"))) as reader:
            rows = reader.execute("SELECT body FROM events WHERE topic = 'identity' ORDER BY \"offset\"")
            return [Envelope.from_json(body) for (body,) in rows.fetchall()]

    def enough() -> list[Envelope] | None:
        found = read()
        return found if len(found) >= count else None

    return wait_until(enough, timeout=10, message=f"{count} events published")


def test_a_group_and_the_users_it_names_are_created_in_one_request_in_any_order(api, local):
    response = bulk(
        api,
        new_group("guides", "Tour Guides", "bulkId:alice", "bulkId:bob"),
        new_user("alice", "alice"),
        new_user("bob", "bob"),
    )

    assert response.status_code == 200, response.text
    assert response.json["schemas"] == [BULK_RESPONSE_SCHEMA]
    results = response.json["Operations"]
    assert [(r["method"], r["bulkId"], r["status"]) for r in results] == [
        ("POST", "guides", "201"),
        ("POST", "alice", "201"),
        ("POST", "bob", "201"),
    ]
    group = get(api, results[0]["location"])
    alice = get(api, results[1]["location"])
    assert [m["value"] for m in group.json["members"]] == [
        alice.json["id"],
        results[2]["location"].rsplit("/", 1)[1],
    ]
    assert results[0]["version"] == group.headers["ETag"]
    assert [g["display"] for g in alice.json["groups"]] == ["Tour Guides"]
    types = [e.type for e in published(local, 4)]
    assert types == [
        "identity.UserCreated",
        "identity.UserCreated",
        "identity.GroupCreated",
        "identity.GroupMembershipChanged",
    ]


def test_put_patch_and_delete_run_under_their_versions(api):
    ada = post_user(api, "ada")
    bob = post_user(api, "bob")
    patch = {
        "schemas": [PATCH_OP_SCHEMA],
        "Operations": [{"op": "replace", "path": "title", "value": "Countess"}],
    }

    response = bulk(
        api,
        {"method": "PATCH", "path": f"/Users/{ada['id']}", "version": 'W/"1"', "data": patch},
        {
            "method": "PUT",
            "path": f"/Users/{bob['id']}",
            "version": 'W/"5"',
            "data": {"schemas": [CORE_USER], "userName": "bob"},
        },
        {"method": "DELETE", "path": f"/Users/{bob['id']}", "version": 'W/"1"'},
    )

    results = response.json["Operations"]
    assert [r["status"] for r in results] == ["200", "412", "204"]
    assert results[0]["version"] == 'W/"2"'
    assert results[1]["response"]["status"] == "412"
    assert results[2]["location"].endswith(f"/Users/{bob['id']}")
    assert api.simulate_get(f"{BASE}/Users/{ada['id']}").json["title"] == "Countess"
    scim_error(api.simulate_get(f"{BASE}/Users/{bob['id']}"), 404)


def test_fail_on_errors_stops_after_that_many_failures(api):
    response = bulk(
        api,
        new_user("a", "ada"),
        new_user("b", "ada"),
        new_user("c", "ada"),
        new_user("d", "dan"),
        failOnErrors=2,
    )

    statuses = [(r["bulkId"], r["status"]) for r in response.json["Operations"]]
    assert statuses == [("a", "201"), ("b", "409"), ("c", "409")]
    assert api.simulate_get(f"{BASE}/Users", params={"filter": 'userName eq "dan"'}).json["totalResults"] == 0


def test_without_fail_on_errors_every_operation_runs(api):
    response = bulk(
        api,
        new_user("a", "ada"),
        {
            "method": "POST",
            "path": "/Users",
            "bulkId": "b",
            "data": {"schemas": [CORE_USER], "userName": "bob", "active": "maybe"},
        },
        new_user("c", "cy"),
    )

    assert [r["status"] for r in response.json["Operations"]] == ["201", "400", "201"]
    assert response.json["Operations"][1]["response"]["scimType"] == "invalidValue"


def test_circular_references_are_refused_and_create_nothing(api):
    response = bulk(
        api, new_group("a", "Group A", "bulkId:b"), new_group("b", "Group B", "bulkId:a"), new_user("c", "cy")
    )

    results = {r["bulkId"]: r for r in response.json["Operations"]}
    assert (results["a"]["status"], results["b"]["status"], results["c"]["status"]) == ("409", "409", "201")
    assert "circle" in results["a"]["response"]["detail"]
    assert api.simulate_get(f"{BASE}/Groups").json["totalResults"] == 0


def test_an_operation_naming_a_failed_one_fails_too(api):
    response = bulk(api, new_user("a", "bad", active="maybe"), new_group("g", "Guides", "bulkId:a"))

    assert [r["status"] for r in response.json["Operations"]] == ["400", "409"]
    assert "bulkId:a" in response.json["Operations"][1]["response"]["detail"]


def test_a_patch_may_name_a_resource_created_in_the_same_request(api):
    patch = {
        "schemas": [PATCH_OP_SCHEMA],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": "bulkId:u"}]}],
    }

    response = bulk(
        api,
        {"method": "PATCH", "path": "/Groups/bulkId:g", "data": patch},
        new_group("g", "Guides"),
        new_user("u", "ursula"),
    )

    results = response.json["Operations"]
    assert [r["status"] for r in results] == ["200", "201", "201"]
    group = get(api, results[1]["location"]).json
    assert [m["value"] for m in group["members"]] == [results[2]["location"].rsplit("/", 1)[1]]


def test_more_operations_than_advertised_is_413_and_runs_none(local):
    api = testing.TestClient(
        create_app(local.identity(), Ready(), HttpSettings(token=TOKEN, bulk_max_operations=2)),
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    config = api.simulate_get(f"{BASE}/ServiceProviderConfig").json

    response = bulk(api, new_user("a", "ada"), new_user("b", "bob"), new_user("c", "cy"))

    scim_error(response, 413)
    assert config["bulk"]["maxOperations"] == 2
    assert api.simulate_get(f"{BASE}/Users").json["totalResults"] == 0


def test_a_body_over_the_advertised_payload_size_is_413(local):
    api = testing.TestClient(
        create_app(local.identity(), Ready(), HttpSettings(token=TOKEN, max_payload_bytes=512)),
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    config = api.simulate_get(f"{BASE}/ServiceProviderConfig").json

    response = bulk(api, *(new_user(f"u{n}", f"user-{n}") for n in range(10)))

    scim_error(response, 413)
    assert config["bulk"]["maxPayloadSize"] == 512


@pytest.mark.parametrize(
    ("body", "scim_type"),
    [
        ({"Operations": "all of them"}, "invalidValue"),
        ({"schemas": ["urn:nope"], "Operations": []}, "invalidValue"),
        ([1, 2], "invalidSyntax"),
    ],
)
def test_a_malformed_bulk_request_is_400(api, body, scim_type):
    scim_error(api.simulate_post(f"{BASE}/Bulk", json=body), 400, scim_type)


def test_a_strict_deployment_needs_the_message_schema(local):
    api = testing.TestClient(
        create_app(local.identity(), Ready(), HttpSettings(token=TOKEN, strict=True)),
        headers={"Authorization": f"Bearer {TOKEN}"},
    )

    scim_error(api.simulate_post(f"{BASE}/Bulk", json={"Operations": []}), 400, "invalidValue")

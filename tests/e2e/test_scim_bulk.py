"""``POST /Bulk`` (RFC 7644 §3.7) over HTTP against ``scimsaga up`` on real Ray: each operation is stored
and announced like its single-resource request, so the services provision the users it creates and
grant the group it creates to them."""

from __future__ import annotations

import uuid

import ray

from tests.polling import wait_until

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def held(server, service: str, user_id: str):
    return ray.get(ray.get_actor(service, namespace=server.namespace).state_of.remote(user_id), timeout=30)


def test_a_group_naming_users_created_later_in_the_request_reaches_every_service(server, http):
    tag = uuid.uuid4().hex[:8]
    operations = [
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "team",
            "data": {
                "schemas": [CORE_GROUP],
                "displayName": f"team-{tag}",
                "members": [{"value": "bulkId:ada"}, {"value": "bulkId:bob"}],
            },
        },
        {
            "method": "POST",
            "path": "/Users",
            "bulkId": "ada",
            "data": {"schemas": [CORE_USER], "userName": f"ada-{tag}@example.com"},
        },
        {
            "method": "POST",
            "path": "/Users",
            "bulkId": "bob",
            "data": {"schemas": [CORE_USER], "userName": f"bob-{tag}@example.com"},
        },
        {
            "method": "PATCH",
            "path": "/Users/bulkId:bob",
            "data": {
                "schemas": [PATCH_OP],
                "Operations": [{"op": "add", "path": "title", "value": "Engineer"}],
            },
        },
    ]

    response = http.post(f"{server.url}/Bulk", json={"schemas": [BULK], "Operations": operations})

    assert response.status_code == 200, response.text
    results = response.json()["Operations"]
    assert [(r.get("bulkId"), r["method"], r["status"]) for r in results] == [
        ("team", "POST", "201"),
        ("ada", "POST", "201"),
        ("bob", "POST", "201"),
        (None, "PATCH", "200"),
    ]
    group_id, ada_id, bob_id = (results[n]["location"].rsplit("/", 1)[1] for n in range(3))
    group = http.get(results[0]["location"])
    assert [m["value"] for m in group.json()["members"]] == [ada_id, bob_id]
    assert group.headers["ETag"] == results[0]["version"]
    assert http.get(results[2]["location"]).json()["title"] == "Engineer"

    def granted() -> bool:
        return all(
            f"group:{group_id}" in ((held(server, "access", u) or {}).get("entitlements") or [])
            for u in (ada_id, bob_id)
        )

    def provisioned() -> bool:
        return all(http.get(r["location"]).json()["active"] for r in results[1:3])

    wait_until(provisioned, timeout=90, interval=0.2, message="both users provisioned")
    wait_until(granted, timeout=90, interval=0.2, message="group entitlements granted")


def test_fail_on_errors_and_circular_references_over_http(server, http):
    tag = uuid.uuid4().hex[:8]
    taken = {
        "method": "POST",
        "path": "/Users",
        "bulkId": "again",
        "data": {"schemas": [CORE_USER], "userName": f"taken-{tag}"},
    }
    circle = [
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "a",
            "data": {"schemas": [CORE_GROUP], "displayName": f"a-{tag}", "members": [{"value": "bulkId:b"}]},
        },
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "b",
            "data": {"schemas": [CORE_GROUP], "displayName": f"b-{tag}", "members": [{"value": "bulkId:a"}]},
        },
    ]
    first = {**taken, "bulkId": "first"}

    response = http.post(
        f"{server.url}/Bulk",
        json={"schemas": [BULK], "failOnErrors": 2, "Operations": [first, taken, *circle]},
    )

    results = [(r["bulkId"], r["status"]) for r in response.json()["Operations"]]
    assert results == [("first", "201"), ("again", "409"), ("a", "409")]
    found = http.get(f"{server.url}/Groups", params={"filter": f'displayName sw "a-{tag}"'}).json()
    assert found["totalResults"] == 0


def test_more_operations_than_advertised_is_413(server, http):
    limit = http.get(f"{server.url}/ServiceProviderConfig").json()["bulk"]["maxOperations"]
    operations = [{"method": "DELETE", "path": f"/Users/nobody-{n}"} for n in range(limit + 1)]

    response = http.post(f"{server.url}/Bulk", json={"schemas": [BULK], "Operations": operations})

    assert response.status_code == 413
    assert response.json()["status"] == "413"

"""Okta's documented request sequences, replayed over HTTP against ``scimsaga up`` on real Ray, checking
the stored resource after each step.

The requests are those of Okta's public "SCIM 2.0 Protocol Reference" (developer.okta.com,
docs/reference/scim/scim-20), bodies as published with names made unique per run: the existence check
before a create, the create with ``groups``, ``password`` and ``active``, GET-then-PUT updates of the
whole user (``id``, ``meta`` and ``groups`` included), deactivation by ``active: false`` (Okta never
deletes users), the group push (create, rename with the group's own ``id`` in the value, one request
removing and adding members, a full push), and imports paging by 100 in a stable order.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import ray
import requests

from tests.e2e.conftest import Running
from tests.polling import wait_until

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PROVISIONING = "urn:scimsaga:params:scim:schemas:extension:provisioning:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


class Okta:
    def __init__(self, server: Running) -> None:
        self.server = server
        self.http = requests.Session()
        self.http.headers.update({**server.headers, "User-Agent": "Okta SCIM Client 1.0.0"})

    def url(self, path: str) -> str:
        return f"{self.server.url}{path}"

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        response = self.http.get(self.url(path), params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def patch(self, path: str, *operations: dict[str, Any]) -> dict[str, Any]:
        response = self.http.patch(
            self.url(path), json={"schemas": [PATCH_OP], "Operations": list(operations)}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def create_user(self, user_name: str) -> dict[str, Any]:
        assert (
            self.get("/Users", filter=f'userName eq "{user_name}"', startIndex=1, count=100)["totalResults"]
            == 0
        )
        response = self.http.post(
            self.url("/Users"),
            json={
                "schemas": [CORE_USER],
                "userName": user_name,
                "name": {"givenName": "Test", "familyName": "User"},
                "emails": [{"primary": True, "value": user_name, "type": "work"}],
                "displayName": "Test User",
                "locale": "en-US",
                "externalId": uuid.uuid4().hex[:20],
                "groups": [],
                "password": "1mz050nq",
                "active": True,
            },
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def state(self, user_id: str) -> str:
        state: str = self.get(f"/Users/{user_id}")[PROVISIONING]["state"]
        return state

    def wait_state(self, user_id: str, state: str) -> None:
        wait_until(lambda: self.state(user_id) == state, timeout=90, interval=0.2, message=f"state {state}")

    def held(self, service: str, user_id: str) -> Any:
        actor = ray.get_actor(service, namespace=self.server.namespace)
        return ray.get(actor.state_of.remote(user_id), timeout=30)


@pytest.fixture(scope="module")
def okta(server: Running) -> Okta:
    return Okta(server)


def test_the_user_lifecycle_okta_documents(okta):
    user_name = f"test.user.{uuid.uuid4().hex[:8]}@okta.local"
    created = okta.create_user(user_name)
    user_id = created["id"]
    path = f"/Users/{user_id}"
    assert "password" not in created
    okta.wait_state(user_id, "active")
    assert user_id in {
        r["id"]
        for r in okta.get("/Users", filter=f'userName eq "{user_name}"', startIndex=1, count=100)["Resources"]
    }

    # Update a specific User (PUT): GET, change the attribute, PUT the whole body back
    read = okta.get(path)
    read["name"]["middleName"] = "Excited"
    read["emails"][0]["display"] = user_name
    response = okta.http.put(okta.url(path), json=read)
    assert response.status_code == 200, response.text
    stored = okta.get(path)
    assert stored["name"] == {"givenName": "Test", "familyName": "User", "middleName": "Excited"}
    assert stored["emails"][0]["display"] == user_name
    assert stored[PROVISIONING]["state"] == "active"

    # Update a specific User (PATCH): deactivation, never a DELETE
    deactivated = okta.patch(path, {"op": "replace", "value": {"active": False}})
    assert deactivated["active"] is False
    okta.wait_state(user_id, "deactivated")
    assert (okta.held("billing", user_id), okta.held("access", user_id)) == (None, None)
    assert okta.get(path)["name"]["middleName"] == "Excited"

    # password sync and reactivation, both PATCH
    okta.patch(path, {"op": "replace", "value": {"password": "n3wPassw0rd"}})
    okta.patch(path, {"op": "replace", "value": {"active": True}})
    okta.wait_state(user_id, "active")
    assert okta.get(path)["active"] is True
    assert okta.held("billing", user_id) is not None
    assert okta.held("access", user_id) is not None


def test_the_group_push_okta_documents(okta):
    tag = uuid.uuid4().hex[:8]
    leaving, joining, staying = (
        okta.create_user(f"{n}.{tag}@okta.local") for n in ("leaving", "joining", "staying")
    )
    response = okta.http.post(
        okta.url("/Groups"),
        json={"schemas": [CORE_GROUP], "displayName": f"Test SCIMv2 {tag}", "members": []},
    )
    assert response.status_code == 201, response.text
    group_id = response.json()["id"]
    path = f"/Groups/{group_id}"
    okta.patch(
        path, {"op": "add", "path": "members", "value": [{"value": leaving["id"]}, {"value": staying["id"]}]}
    )

    # Update a specific Group name: a path-less replace carrying the group's own id
    renamed = okta.patch(
        path, {"op": "replace", "value": {"id": group_id, "displayName": f"Test SCIMv20 {tag}"}}
    )
    assert renamed["displayName"] == f"Test SCIMv20 {tag}"
    # ... sent again with every membership update: it changes nothing
    version = okta.http.get(okta.url(path)).headers["ETag"]
    okta.patch(path, {"op": "replace", "value": {"id": group_id, "displayName": f"Test SCIMv20 {tag}"}})
    assert okta.http.get(okta.url(path)).headers["ETag"] == version

    # Update specific Group membership: one request removes a member and adds another
    okta.patch(
        path,
        {"op": "remove", "path": f'members[value eq "{leaving["id"]}"]'},
        {"op": "add", "path": "members", "value": [{"value": joining["id"], "display": joining["userName"]}]},
    )
    assert [m["value"] for m in okta.get(path)["members"]] == [staying["id"], joining["id"]]
    assert "groups" not in okta.get(f"/Users/{leaving['id']}")
    assert [g["value"] for g in okta.get(f"/Users/{joining['id']}")["groups"]] == [group_id]

    # ... or a full push with replace
    okta.patch(
        path,
        {
            "op": "replace",
            "path": "members",
            "value": [
                {"value": joining["id"], "display": joining["userName"]},
                {"value": leaving["id"], "display": "again"},
            ],
        },
    )
    assert [m["value"] for m in okta.get(path)["members"]] == [joining["id"], leaving["id"]]

    # the members get the group's entitlement from the access service once provisioned
    def entitled() -> bool:
        return all(
            f"group:{group_id}" in ((okta.held("access", u["id"]) or {}).get("entitlements") or [])
            for u in (joining, leaving)
        )

    wait_until(entitled, timeout=90, interval=0.2, message="group entitlements granted")

    assert okta.http.delete(okta.url(path)).status_code == 204
    assert okta.http.get(okta.url(path)).status_code == 404


def test_imports_page_by_100_in_a_stable_order(okta):
    tag = uuid.uuid4().hex[:8]
    response = okta.http.post(
        okta.url("/Bulk"),
        json={
            "schemas": [BULK],
            "Operations": [
                {
                    "method": "POST",
                    "path": "/Groups",
                    "bulkId": f"g{n}",
                    "data": {"schemas": [CORE_GROUP], "displayName": f"import-{tag}-{n:03d}"},
                }
                for n in range(130)
            ],
        },
    )
    assert response.status_code == 200, response.text
    assert {r["status"] for r in response.json()["Operations"]} == {"201"}

    def pages() -> list[str]:
        seen: list[str] = []
        start = 1
        while True:
            page = okta.get("/Groups", startIndex=start, count=100)
            assert page["itemsPerPage"] <= 100
            seen.extend(r["id"] for r in page["Resources"])
            start += 100
            if start > page["totalResults"]:
                return seen

    first, second = pages(), pages()
    created = {r["location"].rsplit("/", 1)[1] for r in response.json()["Operations"]}
    assert first == second
    assert len(first) == len(set(first))
    assert created <= set(first)

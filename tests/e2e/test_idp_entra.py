"""Microsoft Entra ID's documented request sequences, replayed over HTTP against ``scimsaga up`` on real
Ray, checking the stored resource after each step.

The requests are those of Microsoft's public documentation (bodies as published, ids and names made
unique per run): "Tutorial: Develop and plan provisioning for a SCIM endpoint in Microsoft Entra ID"
(its User and Group operations, in Entra's default spelling with capitalised ``op``), and "Known issues
and resolutions with SCIM 2.0 protocol compliance" (the requests sent without and with the
``aadOptscim062020`` flag). A second deployment, started with ``--strict``, shows which of them only
the tolerances accept.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import ray
import requests

from tests.e2e.conftest import Running, start_up
from tests.polling import wait_until

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PROVISIONING = "urn:scimsaga:params:scim:schemas:extension:provisioning:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ADSCIM_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"


class Entra:
    """An IdP client speaking as Entra does, and the checks a test makes of what was stored."""

    def __init__(self, server: Running) -> None:
        self.server = server
        self.http = requests.Session()
        self.http.headers.update(server.headers)

    def url(self, path: str) -> str:
        return f"{self.server.url}{path}"

    def get(self, path: str, **params: str) -> dict[str, Any]:
        response = self.http.get(self.url(path), params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def patch(self, path: str, *operations: dict[str, Any], status: int = 200) -> requests.Response:
        response = self.http.patch(
            self.url(path), json={"schemas": [PATCH_OP], "Operations": list(operations)}
        )
        assert response.status_code == status, response.text
        return response

    def create_user(self, tag: str, **extra: Any) -> dict[str, Any]:
        """ "Create User" as the tutorial shows it: meta and an empty roles list included."""
        body = {
            "schemas": [CORE_USER, ENTERPRISE],
            "externalId": str(uuid.uuid4()),
            "userName": f"Test_User_{tag}",
            "active": True,
            "emails": [{"primary": True, "type": "work", "value": f"Test_User_{tag}@testuser.com"}],
            "meta": {"resourceType": "User"},
            "name": {
                "formatted": "givenName familyName",
                "familyName": "familyName",
                "givenName": "givenName",
            },
            "roles": [],
            **extra,
        }
        response = self.http.post(self.url("/Users"), json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def provisioned(self, user_id: str) -> dict[str, Any]:
        def active() -> dict[str, Any] | None:
            user = self.get(f"/Users/{user_id}")
            return user if user["active"] else None

        return wait_until(active, timeout=90, interval=0.2, message=f"user {user_id} provisioned")

    def held(self, service: str, user_id: str) -> Any:
        actor = ray.get_actor(service, namespace=self.server.namespace)
        return ray.get(actor.state_of.remote(user_id), timeout=30)


@pytest.fixture(scope="module")
def entra(server: Running) -> Entra:
    return Entra(server)


@pytest.fixture(scope="module")
def strict(ray_address: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Entra]:
    running = start_up(
        "--address",
        ray_address,
        "--namespace",
        f"strict-{uuid.uuid4().hex[:8]}",
        "--data-dir",
        str(tmp_path_factory.mktemp("strict")),
        "--token",
        "strict-token",
        "--strict",
    )
    try:
        yield Entra(running)
    finally:
        assert running.stop() == 0, running.lines


def test_test_connection_queries_for_what_does_not_exist_answer_an_empty_list(entra):
    for path, params in [
        ("/Users", {"filter": 'userName eq "non-existent user"'}),
        ("/Users", {"filter": f'id eq "{uuid.uuid4()}"'}),
        ("/Groups", {"excludedAttributes": "members", "filter": f'displayName eq "{uuid.uuid4()}"'}),
    ]:
        listed = entra.get(path, **params)
        assert (listed["totalResults"], listed["Resources"]) == (0, [])


def test_the_user_lifecycle_of_the_tutorial_and_the_compliance_notes(entra):
    tag = uuid.uuid4().hex[:12]
    created = entra.create_user(tag)
    user_id = created["id"]
    path = f"/Users/{user_id}"
    assert created["meta"]["resourceType"] == "User"
    assert "roles" not in created
    assert created["active"] is False  # pending until every service has it
    assert entra.provisioned(user_id)["emails"][0]["value"] == f"Test_User_{tag}@testuser.com"

    by_name = entra.get("/Users", filter=f'userName eq "Test_User_{tag}"')
    by_work_email = entra.get(
        "/Users", filter=f'emails[type eq "work"].value eq "Test_User_{tag}@testuser.com"'
    )
    assert (
        [r["id"] for r in by_name["Resources"]] == [r["id"] for r in by_work_email["Resources"]] == [user_id]
    )

    # Update User [Multi-valued properties]
    entra.patch(
        path,
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": f"updated-{tag}@microsoft.com"},
        {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
    )
    stored = entra.get(path)
    assert stored["emails"] == [{"primary": True, "type": "work", "value": f"updated-{tag}@microsoft.com"}]
    assert stored["name"] == {
        "formatted": "givenName familyName",
        "familyName": "updatedFamilyName",
        "givenName": "givenName",
    }

    # Update User [Single-valued properties]
    entra.patch(path, {"op": "Replace", "path": "userName", "value": f"{tag}@testuser.com"})
    assert entra.get(path)["userName"] == f"{tag}@testuser.com"
    assert entra.get("/Users", filter=f'userName eq "{tag.upper()}@TESTUSER.COM"')["totalResults"] == 1

    # Requests to replace multiple attributes, without the flag (one op per attribute) ...
    entra.patch(
        path,
        {"op": "Replace", "path": "displayName", "value": "Pvlo"},
        {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
        {"op": "Replace", "path": "externalId", "value": f"Eqpj-{tag}"},
        {"op": "Replace", "path": f"{ENTERPRISE}:employeeNumber", "value": "Eqpj"},
    )
    stored = entra.get(path)
    assert (stored["displayName"], stored["name"]["givenName"], stored["externalId"]) == (
        "Pvlo",
        "Gtfd",
        f"Eqpj-{tag}",
    )
    assert stored[ENTERPRISE] == {"employeeNumber": "Eqpj"}
    # ... and with it (a path-less replace with dotted and URN-qualified keys)
    entra.patch(
        path,
        {
            "op": "replace",
            "value": {
                "displayName": "Bjfe",
                "name.givenName": "Kkom",
                "name.familyName": "Unua",
                f"{ENTERPRISE}:employeeNumber": "Aklq",
            },
        },
    )
    stored = entra.get(path)
    assert (stored["displayName"], stored["name"]["givenName"], stored["name"]["familyName"]) == (
        "Bjfe",
        "Kkom",
        "Unua",
    )
    assert stored[ENTERPRISE] == {"employeeNumber": "Aklq"}

    # Add on filtered paths whose entry does not exist yet: it is created, then completed
    entra.patch(
        path,
        {"op": "Add", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+1 555 0100"},
        {"op": "Add", "path": 'addresses[type eq "work"].postalCode', "value": "98052"},
        {"op": "Add", "path": 'addresses[type eq "work"].streetAddress', "value": "1 Microsoft Way"},
        {"op": "Add", "path": "nickName", "value": "Babs"},
    )
    stored = entra.get(path)
    assert stored["phoneNumbers"] == [{"type": "mobile", "value": "+1 555 0100"}]
    assert stored["addresses"] == [
        {"type": "work", "postalCode": "98052", "streetAddress": "1 Microsoft Way"}
    ]
    assert stored["nickName"] == "Babs"

    # The manager as a bare id
    manager = entra.create_user(f"{tag}-mgr")
    entra.patch(path, {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": manager["id"]})
    assert entra.get(path)[ENTERPRISE]["manager"] == {"value": manager["id"]}

    # Disable User, as Entra sends it by default: the string "False"
    response = entra.patch(path, {"op": "Replace", "path": "active", "value": "False"})
    assert response.json()["active"] is False

    def deactivated() -> bool:
        return entra.get(path)[PROVISIONING]["state"] == "deactivated"

    wait_until(deactivated, timeout=90, interval=0.2, message="deactivated by the saga")
    assert entra.get(path)["active"] is False
    assert entra.held("billing", user_id) is None
    assert entra.held("access", user_id) is None
    assert entra.held("profile", user_id) is not None

    assert entra.http.delete(entra.url(path)).status_code == 204
    assert entra.http.get(entra.url(path)).status_code == 404


def test_the_group_lifecycle_of_the_tutorial_and_the_compliance_notes(entra):
    tag = uuid.uuid4().hex[:12]
    users = [entra.create_user(f"{tag}-{n}") for n in range(3)]
    response = entra.http.post(
        entra.url("/Groups"),
        json={
            "schemas": [CORE_GROUP, ADSCIM_GROUP],
            "externalId": str(uuid.uuid4()),
            "displayName": f"Group {tag}",
            "meta": {"resourceType": "Group"},
        },
    )
    assert response.status_code == 201, response.text
    group_id = response.json()["id"]
    path = f"/Groups/{group_id}"
    assert response.json()["schemas"] == [CORE_GROUP]

    assert "members" not in entra.get(path, excludedAttributes="members")
    found = entra.get("/Groups", excludedAttributes="members", filter=f'displayName eq "Group {tag}"')
    assert [r["id"] for r in found["Resources"]] == [group_id]

    # Update Group [Non-member attributes]
    entra.patch(path, {"op": "Replace", "path": "displayName", "value": f"{tag}updatedDisplayName"})
    assert entra.get(path)["displayName"] == f"{tag}updatedDisplayName"

    # Update Group [Add Members], with the null $ref Entra sends
    entra.patch(
        path, {"op": "Add", "path": "members", "value": [{"$ref": None, "value": u["id"]} for u in users]}
    )
    assert [m["value"] for m in entra.get(path)["members"]] == [u["id"] for u in users]
    assert [g["value"] for g in entra.get(f"/Users/{users[0]['id']}")["groups"]] == [group_id]

    # Update Group [Remove Members], as a value list (Entra's default) ...
    entra.patch(path, {"op": "Remove", "path": "members", "value": [{"$ref": None, "value": users[0]["id"]}]})
    assert [m["value"] for m in entra.get(path)["members"]] == [users[1]["id"], users[2]["id"]]
    assert "groups" not in entra.get(f"/Users/{users[0]['id']}")
    # ... and as a filter (with the aadOptscim062020 flag)
    entra.patch(path, {"op": "remove", "path": f'members[value eq "{users[1]["id"]}"]'})
    assert [m["value"] for m in entra.get(path)["members"]] == [users[2]["id"]]
    # removing one already gone succeeds and changes nothing
    version = entra.http.get(entra.url(path)).headers["ETag"]
    entra.patch(path, {"op": "Remove", "path": "members", "value": [{"value": users[0]["id"]}]})
    assert entra.http.get(entra.url(path)).headers["ETag"] == version

    assert entra.http.delete(entra.url(path)).status_code == 204
    assert entra.http.get(entra.url(path)).status_code == 404
    assert "groups" not in entra.get(f"/Users/{users[2]['id']}")


def test_plain_json_is_accepted_and_answered_as_scim(entra):
    user = entra.create_user(uuid.uuid4().hex[:12])

    response = entra.http.patch(
        entra.url(f"/Users/{user['id']}"),
        headers={"Content-Type": "application/json"},
        json={"schemas": [PATCH_OP], "Operations": [{"op": "Add", "path": "title", "value": "x"}]},
    )

    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/scim+json")


def test_a_strict_deployment_refuses_entras_default_shapes_and_changes_nothing(strict):
    tag = uuid.uuid4().hex[:12]
    user = strict.create_user(tag)
    path = f"/Users/{user['id']}"
    version = strict.http.get(strict.url(path)).headers["ETag"]

    refused = [
        strict.patch(path, {"op": "Replace", "path": "active", "value": "False"}, status=400),
        strict.patch(path, {"op": "replace", "path": "active", "value": "False"}, status=400),
        strict.patch(
            path, {"op": "add", "path": 'phoneNumbers[type eq "mobile"].value', "value": "1"}, status=400
        ),
        strict.patch(path, {"op": "add", "path": f"{ENTERPRISE}:manager", "value": "123456"}, status=400),
    ]
    group = strict.http.post(
        strict.url("/Groups"), json={"schemas": [CORE_GROUP, ADSCIM_GROUP], "displayName": f"Group {tag}"}
    )

    assert [r.json()["scimType"] for r in refused] == [
        "invalidSyntax",
        "invalidValue",
        "noTarget",
        "invalidValue",
    ]
    assert (group.status_code, group.json()["scimType"]) == (400, "invalidValue")
    assert strict.http.get(strict.url(path)).headers["ETag"] == version
    accepted = strict.patch(
        path,
        {"op": "replace", "path": "active", "value": False},
        {"op": "replace", "value": {"displayName": "Bjfe", "name.givenName": "Kkom"}},
    )
    assert (accepted.json()["displayName"], accepted.json()["name"]["givenName"]) == ("Bjfe", "Kkom")

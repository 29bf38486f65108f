"""``PATCH /Users/{id}`` and ``PATCH /Groups/{id}`` over falcon.testing (RFC 7644 §3.5.2, §3.9, §3.14),
against the real identity host of a LocalCluster."""

from __future__ import annotations

from typing import Any

import pytest
from falcon import testing

from scimsaga.http.app import HttpSettings, create_app
from scimsaga.scim.patch_request import PATCH_OP_SCHEMA
from tests.unit.http.conftest import BASE, ENTERPRISE, TOKEN, Ready, post_group, post_user, scim_error


def patch(api: testing.TestClient, path: str, *operations: dict[str, Any], **kwargs: Any) -> testing.Result:
    return api.simulate_patch(
        f"{BASE}/{path}", json={"schemas": [PATCH_OP_SCHEMA], "Operations": list(operations)}, **kwargs
    )


def test_a_patch_answers_200_with_the_whole_resource_and_its_new_etag(api):
    ada = post_user(
        api, "ada", name={"givenName": "Ada"}, emails=[{"value": "ada@example.com", "type": "work"}]
    )

    response = patch(api, f"Users/{ada['id']}", {"op": "add", "path": "name.familyName", "value": "Lovelace"})

    assert response.status_code == 200, response.text
    body = response.json
    assert body["name"] == {"givenName": "Ada", "familyName": "Lovelace"}
    assert body["emails"] == ada["emails"]
    assert body["meta"]["version"] == response.headers["ETag"] == 'W/"2"'
    assert api.simulate_get(f"{BASE}/Users/{ada['id']}").json == body


def test_the_response_honours_attributes_and_excluded_attributes(api):
    ada = post_user(api, "ada", title="Countess")
    operation = {"op": "replace", "path": "title", "value": "Programmer"}

    only = patch(api, f"Users/{ada['id']}", operation, params={"attributes": "title"}).json
    without = patch(api, f"Users/{ada['id']}", operation, params={"excludedAttributes": "title,meta"}).json

    assert set(only) == {"schemas", "id", "title"}
    assert not {"title", "meta"} & set(without)
    assert without["userName"] == "ada"


def test_if_match_guards_the_whole_patch(api):
    ada = post_user(api, "ada")

    stale = patch(
        api,
        f"Users/{ada['id']}",
        {"op": "replace", "path": "title", "value": "x"},
        headers={"If-Match": 'W/"7"'},
    )
    current = patch(
        api,
        f"Users/{ada['id']}",
        {"op": "replace", "path": "title", "value": "x"},
        headers={"If-Match": 'W/"1"'},
    )

    scim_error(stale, 412)
    assert current.status_code == 200


def test_a_failing_operation_leaves_the_resource_as_it_was(api):
    ada = post_user(api, "ada", title="Countess")

    response = patch(
        api,
        f"Users/{ada['id']}",
        {"op": "replace", "path": "title", "value": "Programmer"},
        {"op": "remove", "path": "userName"},
    )

    scim_error(response, 400, "invalidValue")
    after = api.simulate_get(f"{BASE}/Users/{ada['id']}")
    assert after.json["title"] == "Countess"
    assert after.headers["ETag"] == 'W/"1"'


def test_a_patch_that_changes_nothing_keeps_the_version(api):
    ada = post_user(api, "ada", title="Countess")

    response = patch(api, f"Users/{ada['id']}", {"op": "add", "path": "title", "value": "Countess"})

    assert response.status_code == 200
    assert response.headers["ETag"] == 'W/"1"'


@pytest.mark.parametrize(
    ("operation", "status", "scim_type"),
    [
        ({"op": "replace", "path": "favouriteColour", "value": "x"}, 400, "invalidPath"),
        ({"op": "replace", "path": "id", "value": "x"}, 400, "mutability"),
        ({"op": "remove"}, 400, "noTarget"),
        ({"op": "replace", "path": 'emails[value co "x"].type', "value": "w"}, 400, "noTarget"),
        ({"op": "replace", "path": "active", "value": "maybe"}, 400, "invalidValue"),
        ({"op": "move", "path": "title"}, 400, "invalidSyntax"),
    ],
)
def test_a_bad_operation_is_the_scim_error_the_rfc_names(api, operation, status, scim_type):
    ada = post_user(api, "ada")

    body = scim_error(patch(api, f"Users/{ada['id']}", operation), status, scim_type)

    assert "operation 1" in body["detail"] or scim_type == "invalidPath"


def test_an_unknown_resource_is_404_and_a_taken_user_name_409(api):
    post_user(api, "bob")
    ada = post_user(api, "ada")

    scim_error(patch(api, "Users/nobody", {"op": "replace", "path": "title", "value": "x"}), 404)
    scim_error(
        patch(api, f"Users/{ada['id']}", {"op": "replace", "path": "userName", "value": "BOB"}),
        409,
        "uniqueness",
    )


def test_plain_json_is_accepted_for_a_patch_too(api):
    ada = post_user(api, "ada")

    response = api.simulate_patch(
        f"{BASE}/Users/{ada['id']}",
        json={"schemas": [PATCH_OP_SCHEMA], "Operations": [{"op": "replace", "path": "title", "value": "x"}]},
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/scim+json"


def test_a_password_patched_in_is_never_returned(api):
    ada = post_user(api, "ada")

    response = patch(api, f"Users/{ada['id']}", {"op": "replace", "value": {"password": "t1meMa$heen"}})

    assert response.status_code == 200
    assert "password" not in response.json
    assert "t1meMa$heen" not in response.text


def test_group_members_patched_in_show_in_their_groups(api):
    ada, bob = post_user(api, "ada"), post_user(api, "bob")
    admins = post_group(api, "Admins", ada["id"])

    response = patch(
        api,
        f"Groups/{admins['id']}",
        {"op": "add", "path": "members", "value": [{"value": bob["id"]}]},
        {"op": "remove", "path": f'members[value eq "{ada["id"]}"]'},
    )

    assert response.status_code == 200, response.text
    assert [m["value"] for m in response.json["members"]] == [bob["id"]]
    assert response.json["members"][0]["$ref"].endswith(f"{BASE}/Users/{bob['id']}")
    assert [g["value"] for g in api.simulate_get(f"{BASE}/Users/{bob['id']}").json["groups"]] == [
        admins["id"]
    ]
    assert "groups" not in api.simulate_get(f"{BASE}/Users/{ada['id']}").json


def test_an_extension_is_patched_under_its_urn(api):
    ada = post_user(api, "ada")

    response = patch(
        api, f"Users/{ada['id']}", {"op": "add", "path": f"{ENTERPRISE}:department", "value": "R&D"}
    )

    assert response.json[ENTERPRISE] == {"department": "R&D"}
    assert ENTERPRISE in response.json["schemas"]


def test_a_strict_deployment_refuses_what_only_the_tolerances_accept(local):
    strict = testing.TestClient(
        create_app(local.identity(), Ready(), HttpSettings(token=TOKEN, strict=True)),
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    lenient = testing.TestClient(
        create_app(local.identity(), Ready(), HttpSettings(token=TOKEN)),
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    ada = post_user(lenient, "ada")
    entra_default = {"op": "Replace", "path": "active", "value": "False"}

    scim_error(patch(strict, f"Users/{ada['id']}", entra_default), 400, "invalidSyntax")
    assert patch(lenient, f"Users/{ada['id']}", entra_default).status_code == 200

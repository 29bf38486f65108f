"""PUT (RFC 7644 §3.5.1), ETags and conditional requests (RFC 7644 §3.14), and representations of
writes (``attributes`` on POST and PUT, RFC 7644 §3.9)."""

from __future__ import annotations

import pytest

from tests.unit.http.conftest import BASE, CORE_USER, ENTERPRISE, post_user, scim_error

PROVISIONING = "urn:scimsaga:params:scim:schemas:extension:provisioning:2.0:User"


def test_put_replaces_and_bumps_the_version_as_okta_sends_it(api):
    ada = post_user(api, "ada", displayName="Ada", title="Countess")
    sent = {**ada, "title": "Analyst"}
    del sent["displayName"]

    response = api.simulate_put(f"{BASE}/Users/{ada['id']}", json=sent)

    assert response.status_code == 200, response.text
    body = response.json
    assert body["title"] == "Analyst"
    assert "displayName" not in body
    assert body["id"] == ada["id"]
    assert body["meta"]["created"] == ada["meta"]["created"]
    assert response.headers["ETag"] == body["meta"]["version"] == 'W/"2"'
    assert body[PROVISIONING]["state"] == "pending"


def test_put_ignores_read_only_attributes_sent_with_it(api):
    ada = post_user(api, "ada")

    body = api.simulate_put(
        f"{BASE}/Users/{ada['id']}",
        json={
            "schemas": [CORE_USER, PROVISIONING],
            "userName": "ada",
            "id": "something-else",
            "meta": {"version": 'W/"99"'},
            PROVISIONING: {"state": "active"},
        },
    ).json

    assert body["id"] == ada["id"]
    assert body[PROVISIONING]["state"] == "pending"


def test_values_are_stored_exactly_as_sent(api):
    ada = post_user(
        api,
        "Ada.Lovelace@Example.COM",
        emails=[{"value": "Ada@Example.COM", "type": "Work"}],
        **{ENTERPRISE: {"department": "R&D ", "manager": {"value": "MGR-1"}}},
    )

    again = api.simulate_get(f"{BASE}/Users/{ada['id']}").json

    assert again["userName"] == "Ada.Lovelace@Example.COM"
    assert again["emails"] == [{"value": "Ada@Example.COM", "type": "Work"}]
    assert again[ENTERPRISE] == {"department": "R&D ", "manager": {"value": "MGR-1"}}


def test_put_to_an_unknown_id_is_404(api):
    scim_error(api.simulate_put(f"{BASE}/Users/nobody", json={"schemas": [CORE_USER], "userName": "x"}), 404)


def test_put_to_a_taken_user_name_is_409(api):
    post_user(api, "ada")
    bob = post_user(api, "bob")

    scim_error(
        api.simulate_put(f"{BASE}/Users/{bob['id']}", json={"schemas": [CORE_USER], "userName": "ADA"}),
        409,
        "uniqueness",
    )


def test_if_match_with_a_stale_version_is_412_and_changes_nothing(api):
    ada = post_user(api, "ada")
    api.simulate_put(f"{BASE}/Users/{ada['id']}", json={"schemas": [CORE_USER], "userName": "ada2"})

    stale_put = api.simulate_put(
        f"{BASE}/Users/{ada['id']}",
        json={"schemas": [CORE_USER], "userName": "x"},
        headers={"If-Match": 'W/"1"'},
    )
    stale_delete = api.simulate_delete(f"{BASE}/Users/{ada['id']}", headers={"If-Match": 'W/"1"'})

    scim_error(stale_put, 412)
    scim_error(stale_delete, 412)
    assert api.simulate_get(f"{BASE}/Users/{ada['id']}").json["userName"] == "ada2"


@pytest.mark.parametrize("if_match", ['W/"2"', '"2"', '"7", W/"2"', "*"])
def test_if_match_with_the_current_version_goes_through(api, if_match):
    ada = post_user(api, "ada")
    api.simulate_put(f"{BASE}/Users/{ada['id']}", json={"schemas": [CORE_USER], "userName": "ada2"})

    response = api.simulate_put(
        f"{BASE}/Users/{ada['id']}",
        json={"schemas": [CORE_USER], "userName": "ada3"},
        headers={"If-Match": if_match},
    )

    assert response.status_code == 200
    assert response.json["meta"]["version"] == 'W/"3"'


def test_a_malformed_if_match_is_400(api):
    ada = post_user(api, "ada")

    scim_error(
        api.simulate_delete(f"{BASE}/Users/{ada['id']}", headers={"If-Match": "W/2"}), 400, "invalidSyntax"
    )


def test_if_none_match_answers_304_while_current_and_200_once_changed(api):
    ada = post_user(api, "ada")
    etag = api.simulate_get(f"{BASE}/Users/{ada['id']}").headers["ETag"]

    unchanged = api.simulate_get(f"{BASE}/Users/{ada['id']}", headers={"If-None-Match": etag})
    api.simulate_put(f"{BASE}/Users/{ada['id']}", json={"schemas": [CORE_USER], "userName": "ada2"})
    changed = api.simulate_get(f"{BASE}/Users/{ada['id']}", headers={"If-None-Match": etag})

    assert unchanged.status_code == 304
    assert unchanged.text == ""
    assert unchanged.headers["ETag"] == etag
    assert changed.status_code == 200
    assert changed.headers["ETag"] == 'W/"2"'


def test_attributes_apply_to_the_answer_of_a_write(api):
    created = api.simulate_post(
        f"{BASE}/Users",
        params={"attributes": "userName"},
        json={"schemas": [CORE_USER], "userName": "ada", "title": "Countess"},
    )

    assert created.status_code == 201
    assert set(created.json) == {"schemas", "id", "userName"}
    assert created.headers["ETag"] == 'W/"1"'
    replaced = api.simulate_put(
        f"{BASE}/Users/{created.json['id']}",
        params={"excludedAttributes": "title,meta"},
        json={"schemas": [CORE_USER], "userName": "ada", "title": "Analyst"},
    )
    assert "title" not in replaced.json
    assert "meta" not in replaced.json
    assert replaced.json["userName"] == "ada"


def test_a_write_with_an_unknown_attribute_in_attributes_is_400_before_anything_changes(api):
    response = api.simulate_post(
        f"{BASE}/Users", params={"attributes": "shoeSize"}, json={"schemas": [CORE_USER], "userName": "ada"}
    )

    scim_error(response, 400, "invalidValue")
    assert api.simulate_get(f"{BASE}/Users").json["totalResults"] == 0


def test_a_password_in_put_is_accepted_and_never_returned(api):
    ada = post_user(api, "ada")

    response = api.simulate_put(
        f"{BASE}/Users/{ada['id']}",
        json={"schemas": [CORE_USER], "userName": "ada", "password": "n3w-Secret"},
    )

    assert response.status_code == 200
    assert "password" not in response.json
    assert "n3w-Secret" not in response.text

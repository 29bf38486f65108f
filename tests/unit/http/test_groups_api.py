"""``/Groups`` (RFC 7643 §4.2, RFC 7644 §3.3-§3.6) and a user's computed ``groups`` (RFC 7643 §4.1.2)."""

from __future__ import annotations

from tests.unit.http.conftest import BASE, CORE_GROUP, post_group, post_user, scim_error


def test_a_group_is_created_with_members_and_references(api):
    ada = post_user(api, "ada")

    response = api.simulate_post(
        f"{BASE}/Groups",
        json={
            "schemas": [CORE_GROUP],
            "displayName": "Admins",
            "externalId": "ext-1",
            "members": [{"value": ada["id"], "display": "Ada"}],
        },
    )

    assert response.status_code == 201
    group = response.json
    assert response.headers["Location"] == group["meta"]["location"]
    assert group["meta"]["resourceType"] == "Group"
    assert response.headers["ETag"] == group["meta"]["version"] == 'W/"1"'
    [member] = group["members"]
    assert member == {
        "value": ada["id"],
        "display": "Ada",
        "type": "User",
        "$ref": f"http://falconframework.org{BASE}/Users/{ada['id']}",
    }


def test_a_users_groups_are_read_only_and_computed(api):
    ada = post_user(api, "ada")
    admins = post_group(api, "Admins", ada["id"])

    user = api.simulate_get(f"{BASE}/Users/{ada['id']}").json

    assert user["groups"] == [
        {
            "value": admins["id"],
            "display": "Admins",
            "type": "direct",
            "$ref": f"http://falconframework.org{BASE}/Groups/{admins['id']}",
        }
    ]
    sent = {k: v for k, v in user.items() if k not in ("meta",)}
    sent["groups"] = []
    replaced = api.simulate_put(f"{BASE}/Users/{ada['id']}", json=sent).json
    assert [g["value"] for g in replaced["groups"]] == [admins["id"]]


def test_deleting_a_user_takes_it_out_of_its_groups(api):
    ada, bob = post_user(api, "ada"), post_user(api, "bob")
    admins = post_group(api, "Admins", ada["id"], bob["id"])

    assert api.simulate_delete(f"{BASE}/Users/{ada['id']}").status_code == 204

    group = api.simulate_get(f"{BASE}/Groups/{admins['id']}").json
    assert [m["value"] for m in group["members"]] == [bob["id"]]
    assert group["meta"]["version"] == 'W/"2"'


def test_group_names_are_unique_in_any_case(api):
    post_group(api, "Admins")

    scim_error(
        api.simulate_post(f"{BASE}/Groups", json={"schemas": [CORE_GROUP], "displayName": "ADMINS"}),
        409,
        "uniqueness",
    )


def test_an_unknown_member_or_a_missing_display_name_is_400_and_changes_nothing(api):
    responses = [
        api.simulate_post(
            f"{BASE}/Groups",
            json={"schemas": [CORE_GROUP], "displayName": "G", "members": [{"value": "ghost"}]},
        ),
        api.simulate_post(f"{BASE}/Groups", json={"schemas": [CORE_GROUP]}),
        api.simulate_post(
            f"{BASE}/Groups", json={"schemas": [CORE_GROUP], "displayName": "G", "members": "everyone"}
        ),
    ]

    assert [r.json["scimType"] for r in responses] == ["invalidValue"] * 3
    assert api.simulate_get(f"{BASE}/Groups").json["totalResults"] == 0


def test_groups_are_filtered_by_member_and_by_name(api):
    ada, bob = post_user(api, "ada"), post_user(api, "bob")
    admins = post_group(api, "Admins", ada["id"])
    post_group(api, "Staff", bob["id"])

    by_member = api.simulate_get(f"{BASE}/Groups", params={"filter": f'members[value eq "{ada["id"]}"]'}).json
    by_name = api.simulate_get(f"{BASE}/Groups", params={"filter": 'displayName eq "admins"'}).json

    assert [g["id"] for g in by_member["Resources"]] == [admins["id"]]
    assert [g["id"] for g in by_name["Resources"]] == [admins["id"]]


def test_put_replaces_the_members_and_delete_answers_204(api):
    ada, bob = post_user(api, "ada"), post_user(api, "bob")
    admins = post_group(api, "Admins", ada["id"])

    replaced = api.simulate_put(
        f"{BASE}/Groups/{admins['id']}",
        json={
            "schemas": [CORE_GROUP],
            "id": admins["id"],
            "meta": admins["meta"],
            "displayName": "Admins",
            "members": [{"value": bob["id"]}],
        },
    )

    assert replaced.status_code == 200
    assert [m["value"] for m in replaced.json["members"]] == [bob["id"]]
    assert replaced.json["meta"]["version"] == 'W/"2"'
    assert api.simulate_delete(f"{BASE}/Groups/{admins['id']}").status_code == 204
    scim_error(api.simulate_get(f"{BASE}/Groups/{admins['id']}"), 404)
    assert "groups" not in api.simulate_get(f"{BASE}/Users/{bob['id']}").json


def test_excluding_members_leaves_them_out(api):
    ada = post_user(api, "ada")
    admins = post_group(api, "Admins", ada["id"])

    group = api.simulate_get(f"{BASE}/Groups/{admins['id']}", params={"excludedAttributes": "members"}).json

    assert "members" not in group
    assert group["displayName"] == "Admins"

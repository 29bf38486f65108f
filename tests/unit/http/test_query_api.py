"""Reading lists: filters, sorting, paging (RFC 7644 §3.4.2), ``.search`` (§3.4.3) and ``attributes``
(§3.4.2.5) over HTTP."""

from __future__ import annotations

import pytest

from tests.unit.http.conftest import BASE, ENTERPRISE, post_group, post_user, scim_error

SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


@pytest.fixture
def people(api):
    post_user(
        api,
        "cy",
        title="Engineer",
        emails=[{"value": "cy@example.com", "type": "work"}],
        **{ENTERPRISE: {"department": "Sales"}},
    )
    post_user(
        api,
        "Ada",
        title="Countess",
        emails=[
            {"value": "ada@home.example", "type": "home"},
            {"value": "ada@example.com", "type": "work", "primary": True},
        ],
    )
    post_user(
        api,
        "bob",
        emails=[{"value": "bob@example.com", "type": "work"}],
        **{ENTERPRISE: {"department": "Research"}},
    )
    return api


def names(body) -> list[str]:
    return [r.get("userName", r.get("displayName")) for r in body["Resources"]]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ('emails[type eq "work" and value co "@example.com"]', ["cy", "Ada", "bob"]),
        ('emails[type eq "work"].value eq "ADA@example.com"', ["Ada"]),
        (f'{ENTERPRISE}:department eq "sales"', ["cy"]),
        ('title pr and not (title eq "countess")', ["cy"]),
        ('userName eq "bob" or userName eq "cy" and title pr', ["cy", "bob"]),
        ('(userName eq "bob" or userName eq "cy") and title pr', ["cy"]),
        ('meta.created ge "2000-01-01T00:00:00Z" and active eq false', ["cy", "Ada", "bob"]),
        ('USERNAME SW "A"', ["Ada"]),
    ],
)
def test_filters_over_http(people, flt, expected):
    assert names(people.simulate_get(f"{BASE}/Users", params={"filter": flt}).json) == expected


@pytest.mark.parametrize(
    ("flt", "where"),
    [
        ('userName eq "x" and', "position 19"),
        ("shoeSize eq 42", "shoeSize"),
        ("active gt true", "active"),
        ('emails[type eq "work"', "']'"),
    ],
)
def test_a_bad_filter_is_400_invalid_filter_pointing_at_the_problem(api, flt, where):
    body = scim_error(api.simulate_get(f"{BASE}/Users", params={"filter": flt}), 400, "invalidFilter")
    assert where in body["detail"]


def test_a_filter_over_the_length_limit_is_400(api):
    flt = " or ".join(f'userName eq "user{n}"' for n in range(200))

    body = scim_error(api.simulate_get(f"{BASE}/Users", params={"filter": flt}), 400, "invalidFilter")
    assert "longer than" in body["detail"]


@pytest.mark.parametrize(
    ("sort_by", "order", "expected"),
    [
        ("userName", "ascending", ["Ada", "bob", "cy"]),
        ("userName", "descending", ["cy", "bob", "Ada"]),
        ("title", "ascending", ["Ada", "cy", "bob"]),
        ("title", "descending", ["bob", "cy", "Ada"]),
        ("emails.value", "ascending", ["Ada", "bob", "cy"]),
        (f"{ENTERPRISE}:department", "ascending", ["bob", "cy", "Ada"]),
    ],
)
def test_sorting_over_http(people, sort_by, order, expected):
    body = people.simulate_get(f"{BASE}/Users", params={"sortBy": sort_by, "sortOrder": order}).json
    assert names(body) == expected


def test_an_unknown_sort_attribute_is_400(api):
    scim_error(api.simulate_get(f"{BASE}/Users", params={"sortBy": "shoeSize"}), 400, "invalidValue")


def test_paging_walks_a_stable_order_once(people):
    pages = [
        people.simulate_get(
            f"{BASE}/Users", params={"startIndex": str(start), "count": "2", "sortBy": "userName"}
        ).json
        for start in (1, 3)
    ]

    assert [names(page) for page in pages] == [["Ada", "bob"], ["cy"]]
    assert [page["startIndex"] for page in pages] == [1, 3]
    assert {page["totalResults"] for page in pages} == {3}


def test_count_zero_gives_the_total_only(people):
    body = people.simulate_get(f"{BASE}/Users", params={"count": "0"}).json

    assert (body["totalResults"], body["itemsPerPage"], body["Resources"]) == (3, 0, [])


def test_attributes_select_what_comes_back_with_id_and_schemas_always(people):
    body = people.simulate_get(
        f"{BASE}/Users", params={"attributes": "userName,emails.value,id", "filter": 'userName eq "Ada"'}
    ).json

    [ada] = body["Resources"]
    assert set(ada) == {"schemas", "id", "userName", "emails"}
    assert ada["emails"] == [{"value": "ada@home.example"}, {"value": "ada@example.com"}]


def test_excluded_attributes_keep_what_is_always_returned(people):
    body = people.simulate_get(
        f"{BASE}/Users",
        params={"excludedAttributes": "id,emails,meta,schemas", "filter": 'userName eq "Ada"'},
    ).json

    [ada] = body["Resources"]
    assert "emails" not in ada
    assert "meta" not in ada
    assert {"id", "schemas", "userName"} <= set(ada)


def test_both_attributes_and_excluded_attributes_is_400(api):
    scim_error(
        api.simulate_get(f"{BASE}/Users", params={"attributes": "userName", "excludedAttributes": "title"}),
        400,
        "invalidValue",
    )


def test_resource_type_search_takes_a_search_request(people):
    response = people.simulate_post(
        f"{BASE}/Users/.search",
        json={
            "schemas": [SEARCH],
            "filter": 'emails.type eq "work"',
            "sortBy": "userName",
            "sortOrder": "descending",
            "startIndex": 2,
            "count": 1,
            "attributes": ["userName"],
        },
    )

    assert response.status_code == 200
    body = response.json
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (3, 2, 1)
    assert body["Resources"] == [
        {"schemas": body["Resources"][0]["schemas"], "id": body["Resources"][0]["id"], "userName": "bob"}
    ]


@pytest.mark.parametrize(
    ("body", "scim_type"),
    [
        ({"schemas": ["urn:nope"], "filter": "userName pr"}, "invalidValue"),
        ({"schemas": [SEARCH], "count": "ten"}, "invalidValue"),
        ({"schemas": [SEARCH], "filter": 7}, "invalidValue"),
        ({"schemas": [SEARCH], "shoeSize": 42}, "invalidSyntax"),
        ([SEARCH], "invalidSyntax"),
        ({"schemas": [SEARCH], "filter": "userName eq"}, "invalidFilter"),
    ],
)
def test_a_bad_search_request_is_400(api, body, scim_type):
    scim_error(api.simulate_post(f"{BASE}/Users/.search", json=body), 400, scim_type)


def test_root_search_pages_over_users_then_groups(people):
    ada_id = people.simulate_get(f"{BASE}/Users", params={"filter": 'userName eq "Ada"'}).json["Resources"][
        0
    ]["id"]
    post_group(people, "Admins", ada_id)
    post_group(people, "Staff")

    everything = people.simulate_post(f"{BASE}/.search", json={"schemas": [SEARCH]}).json
    second_page = people.simulate_post(
        f"{BASE}/.search", json={"schemas": [SEARCH], "startIndex": 3, "count": 2}
    ).json
    only_groups = people.simulate_post(
        f"{BASE}/.search", json={"schemas": [SEARCH], "filter": 'displayName sw "ad"'}
    ).json
    by_meta = people.simulate_post(
        f"{BASE}/.search", json={"schemas": [SEARCH], "count": 0, "filter": 'meta.resourceType eq "Group"'}
    ).json

    # Users first, then groups; within each, by creation time, ties (the same millisecond) by id.
    users, groups = everything["Resources"][:3], everything["Resources"][3:]
    assert users == sorted(users, key=lambda r: (r["meta"]["created"], r["id"]))
    assert groups == sorted(groups, key=lambda r: (r["meta"]["created"], r["id"]))
    assert sorted(names(everything)) == sorted(["cy", "Ada", "bob", "Admins", "Staff"])
    assert second_page["Resources"] == everything["Resources"][2:4]
    assert (second_page["totalResults"], second_page["itemsPerPage"]) == (5, 2)
    assert [r["meta"]["resourceType"] for r in everything["Resources"]] == ["User"] * 3 + ["Group"] * 2
    assert names(only_groups) == ["Admins"]
    assert by_meta["totalResults"] == 2


def test_root_search_with_a_filter_no_resource_type_understands_is_400(api):
    scim_error(api.simulate_post(f"{BASE}/.search", json={"filter": "shoeSize eq 42"}), 400, "invalidFilter")


def test_root_search_ignores_attributes_a_resource_type_lacks(people):
    post_group(people, "Admins")

    body = people.simulate_post(f"{BASE}/.search", json={"attributes": ["userName", "displayName"]}).json

    assert [set(r) for r in body["Resources"]] == [{"schemas", "id", "userName"}] * 3 + [
        {"schemas", "id", "displayName"}
    ]

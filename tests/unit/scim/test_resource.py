"""Request bodies in, response bodies out: ``parse_resource`` and ``render`` against RFC 7643/7644.

The fixtures are the RFCs' own example users, written out here and named after the section that shows
them (RFC 7643 §8.1 minimal user, §8.2 full user, §8.3 enterprise extension; RFC 7644 §3.3 create).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from scimsaga.scim.errors import InvalidSyntax, InvalidValue
from scimsaga.scim.resource import Meta, StoredResource, parse_resource, render
from scimsaga.scim.schema import ENTERPRISE_USER_URN, PROVISIONING_URN, USER, USER_SCHEMA_URN

BARBARA_ID = "2819c223-7f76-453a-919d-413861904646"
BASE_URL = "https://example.com/v2"


@pytest.fixture
def rfc7643_8_1_minimal_user() -> dict[str, Any]:
    """RFC 7643 §8.1: only the required attributes, as a service provider would return them."""
    return {
        "schemas": [USER_SCHEMA_URN],
        "id": BARBARA_ID,
        "userName": "bjensen@example.com",
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z",
            "version": 'W/"3694e05e9dff590"',
            "location": f"{BASE_URL}/Users/{BARBARA_ID}",
        },
    }


@pytest.fixture
def rfc7643_8_2_full_user() -> dict[str, Any]:
    """RFC 7643 §8.2: every core User attribute, including read-only ``groups`` and the password."""
    return {
        "schemas": [USER_SCHEMA_URN],
        "id": BARBARA_ID,
        "externalId": "701984",
        "userName": "bjensen@example.com",
        "name": {
            "formatted": "Ms. Barbara J Jensen, III",
            "familyName": "Jensen",
            "givenName": "Barbara",
            "middleName": "Jane",
            "honorificPrefix": "Ms.",
            "honorificSuffix": "III",
        },
        "displayName": "Babs Jensen",
        "nickName": "Babs",
        "profileUrl": "https://login.example.com/bjensen",
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": True},
            {"value": "babs@jensen.org", "type": "home"},
        ],
        "addresses": [
            {
                "type": "work",
                "streetAddress": "100 Universal City Plaza",
                "locality": "Hollywood",
                "region": "CA",
                "postalCode": "91608",
                "country": "USA",
                "formatted": "100 Universal City Plaza\nHollywood, CA 91608 USA",
                "primary": True,
            },
            {
                "type": "home",
                "streetAddress": "456 Hollywood Blvd",
                "locality": "Hollywood",
                "region": "CA",
                "postalCode": "91608",
                "country": "USA",
                "formatted": "456 Hollywood Blvd\nHollywood, CA 91608 USA",
            },
        ],
        "phoneNumbers": [
            {"value": "555-555-5555", "type": "work"},
            {"value": "555-555-4444", "type": "mobile"},
        ],
        "ims": [{"value": "someaimhandle", "type": "aim"}],
        "photos": [
            {"value": "https://photos.example.com/profilephoto/72930000000Ccne/F", "type": "photo"},
            {"value": "https://photos.example.com/profilephoto/72930000000Ccne/T", "type": "thumbnail"},
        ],
        "userType": "Employee",
        "title": "Tour Guide",
        "preferredLanguage": "en-US",
        "locale": "en-US",
        "timezone": "America/Los_Angeles",
        "active": True,
        "password": "t1meMa$heen",
        "groups": [
            {
                "value": "e9e30dba-f08f-4109-8486-d5c6a331660a",
                "$ref": f"{BASE_URL}/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a",
                "display": "Tour Guides",
            },
            {
                "value": "fc348aa8-3835-40eb-a20b-c726e15c55b5",
                "$ref": f"{BASE_URL}/Groups/fc348aa8-3835-40eb-a20b-c726e15c55b5",
                "display": "Employees",
            },
        ],
        "x509Certificates": [{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMx"}],
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z",
            "version": 'W/"a330bc54f0671c9"',
            "location": f"{BASE_URL}/Users/{BARBARA_ID}",
        },
    }


@pytest.fixture
def rfc7643_8_3_enterprise_user(rfc7643_8_2_full_user: dict[str, Any]) -> dict[str, Any]:
    """RFC 7643 §8.3: the §8.2 user with the enterprise extension (``manager.displayName`` is read-only)."""
    user = copy.deepcopy(rfc7643_8_2_full_user)
    user["schemas"] = [USER_SCHEMA_URN, ENTERPRISE_USER_URN]
    user[ENTERPRISE_USER_URN] = {
        "employeeNumber": "701984",
        "costCenter": "4130",
        "organization": "Universal Studios",
        "division": "Theme Park",
        "department": "Tour Operations",
        "manager": {
            "value": "26118915-6090-4610-87e4-49d8ca9f808d",
            "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d",
            "displayName": "John Smith",
        },
    }
    return user


@pytest.fixture
def rfc7644_3_3_create_request() -> dict[str, Any]:
    """RFC 7644 §3.3: the body of the example ``POST /Users``."""
    return {
        "schemas": [USER_SCHEMA_URN],
        "userName": "bjensen",
        "externalId": "bjensen",
        "name": {"formatted": "Ms. Barbara J Jensen III", "familyName": "Jensen", "givenName": "Barbara"},
    }


def stored_resource(attributes: dict[str, Any], version: int = 7) -> StoredResource:
    return StoredResource(BARBARA_ID, attributes, "2010-01-23T04:56:22Z", "2011-05-13T04:42:34Z", version)


def rendered(attributes: dict[str, Any], version: int = 7) -> dict[str, Any]:
    stored = stored_resource(attributes, version)
    return render(USER, stored.id, stored.attributes, stored.meta(USER, BASE_URL))


# --- parsing the RFC examples --------------------------------------------------------------------


def test_rfc7643_8_1_minimal_user_keeps_user_name_and_drops_id_and_meta(rfc7643_8_1_minimal_user):
    assert parse_resource(USER, rfc7643_8_1_minimal_user) == {
        "userName": "bjensen@example.com",
        "schemas": [USER_SCHEMA_URN],
    }


def test_rfc7644_3_3_create_request_is_stored_as_sent(rfc7644_3_3_create_request):
    stored = parse_resource(USER, rfc7644_3_3_create_request)

    assert stored == rfc7644_3_3_create_request


def test_rfc7643_8_2_full_user_keeps_every_writable_attribute_exactly(rfc7643_8_2_full_user):
    stored = parse_resource(USER, rfc7643_8_2_full_user)

    read_only = {"id", "meta", "groups"}
    expected = {k: v for k, v in rfc7643_8_2_full_user.items() if k not in read_only}
    assert stored == expected
    assert stored["password"] == "t1meMa$heen"  # kept for the store to hash; never rendered


def test_rfc7643_8_3_enterprise_user_is_stored_under_its_urn_without_read_only_manager_name(
        rfc7643_8_3_enterprise_user):
    stored = parse_resource(USER, rfc7643_8_3_enterprise_user)

    assert stored["schemas"] == [USER_SCHEMA_URN, ENTERPRISE_USER_URN]
    assert stored[ENTERPRISE_USER_URN] == {
        "employeeNumber": "701984",
        "costCenter": "4130",
        "organization": "Universal Studios",
        "division": "Theme Park",
        "department": "Tour Operations",
        "manager": {
            "value": "26118915-6090-4610-87e4-49d8ca9f808d",
            "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d",
        },
    }


def test_extension_attributes_list_their_schema_even_when_schemas_omits_it(rfc7643_8_3_enterprise_user):
    rfc7643_8_3_enterprise_user["schemas"] = [USER_SCHEMA_URN]

    stored = parse_resource(USER, rfc7643_8_3_enterprise_user)

    assert stored["schemas"] == [USER_SCHEMA_URN, ENTERPRISE_USER_URN]


# --- RFC 7643 §2.1: attribute names are case-insensitive, stored canonically ------------------


def test_attribute_names_in_any_case_are_stored_under_canonical_names():
    body = {
        "SCHEMAS": [USER_SCHEMA_URN.upper(), ENTERPRISE_USER_URN.lower()],
        "USERNAME": "bjensen",
        "ExternalID": "701984",
        "Name": {"GIVENNAME": "Barbara", "familyname": "Jensen"},
        "eMails": [{"VALUE": "bjensen@example.com", "Type": "work", "PRIMARY": True}],
        ENTERPRISE_USER_URN.upper(): {"COSTCENTER": "4130", "Manager": {"VALUE": "26118915"}},
    }

    assert parse_resource(USER, body) == {
        "userName": "bjensen",
        "externalId": "701984",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True}],
        ENTERPRISE_USER_URN: {"costCenter": "4130", "manager": {"value": "26118915"}},
        "schemas": [USER_SCHEMA_URN, ENTERPRISE_USER_URN],
    }


def test_core_attributes_may_be_qualified_by_the_core_schema_urn():
    body = {"schemas": [USER_SCHEMA_URN], "userName": "bjensen", f"{USER_SCHEMA_URN}:displayName": "Babs"}

    assert parse_resource(USER, body)["displayName"] == "Babs"


# --- RFC 7643 §2.2: read-only attributes sent by the client are ignored ------------------------


@pytest.mark.parametrize(("name", "value"), [
    ("id", "client-chosen-id"),
    ("ID", "client-chosen-id"),
    ("meta", {"version": 'W/"99"', "created": "2000-01-01T00:00:00Z"}),
    ("Meta", {"resourceType": "Group"}),
    ("groups", [{"value": "e9e30dba", "display": "Tour Guides"}]),
    (PROVISIONING_URN, {"state": "active", "services": [{"name": "billing", "state": "done"}]}),
])
def test_read_only_attributes_are_ignored(rfc7644_3_3_create_request, name, value):
    expected = parse_resource(USER, rfc7644_3_3_create_request)

    assert parse_resource(USER, {**rfc7644_3_3_create_request, name: value}) == expected


# --- RFC 7643 §2.5: null, [] and {} mean unassigned -------------------------------------------


@pytest.mark.parametrize(("name", "value"), [
    ("displayName", None),
    ("emails", []),
    ("name", {}),
    ("addresses", [{}]),
    ("emails", [{"value": None, "type": None}]),
    (ENTERPRISE_USER_URN, {}),
    (ENTERPRISE_USER_URN, None),
    (ENTERPRISE_USER_URN, {"costCenter": None}),
    ("externalId", None),
])
def test_unassigned_values_are_dropped(name, value):
    body = {"schemas": [USER_SCHEMA_URN], "userName": "bjensen", name: value}

    assert parse_resource(USER, body) == {"userName": "bjensen", "schemas": [USER_SCHEMA_URN]}


def test_unassigned_sub_attributes_are_dropped_and_the_rest_kept():
    body = {
        "schemas": [USER_SCHEMA_URN],
        "userName": "bjensen",
        "name": {"givenName": "Barbara", "middleName": None},
        "emails": [{"value": "a@example.com", "type": None}, {}],
    }

    stored = parse_resource(USER, body)

    assert stored["name"] == {"givenName": "Barbara"}
    assert stored["emails"] == [{"value": "a@example.com"}]


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "named"), [
    ({"favouriteColour": "blue"}, "favouriteColour"),
    ({"name": {"nickname": "Babs"}}, "nickname"),
    ({"emails": [{"value": "a@example.com", "label": "work"}]}, "label"),
    ({ENTERPRISE_USER_URN: {"badge": "42"}}, "badge"),
])
def test_an_unknown_attribute_is_invalid_syntax_naming_it(body, named):
    with pytest.raises(InvalidSyntax) as raised:
        parse_resource(USER, {"schemas": [USER_SCHEMA_URN], "userName": "bjensen", **body})

    assert named in raised.value.detail
    assert raised.value.to_dict()["scimType"] == "invalidSyntax"


@pytest.mark.parametrize(("body", "path"), [
    ({"emails": [{"value": 42}]}, "emails[0].value"),
    ({"emails": [{"value": "a@example.com"}, {"value": "b@example.com", "primary": "yes"}]},
     "emails[1].primary"),
    ({"active": "true"}, "active"),
    ({"active": 1}, "active"),
    ({"name": {"givenName": ["Barbara"]}}, "name.givenName"),
    ({"name": "Barbara Jensen"}, "name"),
    ({"emails": "bjensen@example.com"}, "emails"),
    ({"phoneNumbers": ["555-555-5555"]}, "phoneNumbers[0]"),
    ({"userName": 12345}, "userName"),
    ({"externalId": 701984}, "externalId"),
    ({ENTERPRISE_USER_URN: {"costCenter": 4130}}, f"{ENTERPRISE_USER_URN}:costCenter"),
    ({ENTERPRISE_USER_URN: {"manager": {"value": 1}}}, f"{ENTERPRISE_USER_URN}:manager.value"),
])
def test_a_value_of_the_wrong_type_is_invalid_value_with_its_path(body, path):
    with pytest.raises(InvalidValue) as raised:
        parse_resource(USER, {"schemas": [USER_SCHEMA_URN], "userName": "bjensen", **body})

    assert f"'{path}'" in raised.value.detail
    assert raised.value.to_dict()["scimType"] == "invalidValue"


@pytest.mark.parametrize("user_name", [None, "", "<missing>"])
def test_a_missing_or_empty_user_name_is_invalid_value(user_name):
    body: dict[str, Any] = {"schemas": [USER_SCHEMA_URN], "displayName": "Babs"}
    if user_name != "<missing>":
        body["userName"] = user_name

    with pytest.raises(InvalidValue) as raised:
        parse_resource(USER, body)

    assert "userName" in raised.value.detail


def test_an_unknown_schema_urn_is_invalid_value_naming_it():
    urn = "urn:example:params:scim:schemas:extension:badge:2.0:User"

    with pytest.raises(InvalidValue) as raised:
        parse_resource(USER, {"schemas": [USER_SCHEMA_URN, urn], "userName": "bjensen"})

    assert urn in raised.value.detail


@pytest.mark.parametrize("schemas", ["<missing>", [], [ENTERPRISE_USER_URN]])
def test_schemas_must_name_the_core_schema(schemas):
    body: dict[str, Any] = {"userName": "bjensen"}
    if schemas != "<missing>":
        body["schemas"] = schemas

    with pytest.raises(InvalidValue) as raised:
        parse_resource(USER, body)

    assert USER_SCHEMA_URN in raised.value.detail


@pytest.mark.parametrize("schemas", [USER_SCHEMA_URN, [1], {"0": USER_SCHEMA_URN}])
def test_schemas_that_is_not_a_list_of_strings_is_invalid_syntax(schemas):
    with pytest.raises(InvalidSyntax):
        parse_resource(USER, {"schemas": schemas, "userName": "bjensen"})


@pytest.mark.parametrize("body", [None, [], ["userName"], "bjensen", 42])
def test_a_body_that_is_not_an_object_is_invalid_syntax(body):
    with pytest.raises(InvalidSyntax):
        parse_resource(USER, body)


def test_an_extension_that_is_not_an_object_is_invalid_syntax():
    with pytest.raises(InvalidSyntax) as raised:
        parse_resource(USER, {"schemas": [USER_SCHEMA_URN], "userName": "b", ENTERPRISE_USER_URN: "4130"})

    assert ENTERPRISE_USER_URN in raised.value.detail


# --- rendering (RFC 7643 §3, §3.1) ------------------------------------------------------------


def test_render_puts_schemas_id_attributes_and_meta(rfc7644_3_3_create_request):
    body = rendered(parse_resource(USER, rfc7644_3_3_create_request))

    assert body["schemas"] == [USER_SCHEMA_URN]
    assert body["id"] == BARBARA_ID
    assert body["userName"] == "bjensen"
    assert body["name"]["givenName"] == "Barbara"
    assert body["meta"] == {
        "resourceType": "User",
        "created": "2010-01-23T04:56:22Z",
        "lastModified": "2011-05-13T04:42:34Z",
        "location": f"{BASE_URL}/Users/{BARBARA_ID}",
        "version": 'W/"7"',
    }


def test_render_never_returns_the_password(rfc7643_8_2_full_user):
    stored = parse_resource(USER, rfc7643_8_2_full_user)
    assert "password" in stored

    body = rendered(stored)

    assert "password" not in body
    assert "t1meMa$heen" not in repr(body)


def test_render_lists_an_extension_schema_only_when_the_resource_has_it(rfc7643_8_3_enterprise_user):
    with_extension = rendered(parse_resource(USER, rfc7643_8_3_enterprise_user))
    without = rendered({"userName": "bjensen", "schemas": [USER_SCHEMA_URN, ENTERPRISE_USER_URN]})

    assert with_extension["schemas"] == [USER_SCHEMA_URN, ENTERPRISE_USER_URN]
    assert with_extension[ENTERPRISE_USER_URN]["costCenter"] == "4130"
    assert without["schemas"] == [USER_SCHEMA_URN]


@pytest.mark.parametrize("version", [1, 2, 41])
def test_etag_and_meta_version_agree(version):
    stored = stored_resource({"userName": "bjensen"}, version)
    meta = stored.meta(USER, BASE_URL)

    body = render(USER, stored.id, stored.attributes, meta)

    assert meta.etag == f'W/"{version}"'
    assert body["meta"]["version"] == meta.etag


def test_meta_location_is_the_endpoint_under_the_base_url():
    meta = Meta("User", "2010-01-23T04:56:22Z", "2010-01-23T04:56:22Z", f"{BASE_URL}/Users/abc", 1)

    assert meta.to_dict()["location"] == f"{BASE_URL}/Users/abc"
    assert stored_resource({}).meta(USER, "http://localhost:8080/scim/v2").location == (
        f"http://localhost:8080/scim/v2/Users/{BARBARA_ID}")


def test_a_parsed_full_user_renders_back_to_the_rfc_example_minus_secrets_and_read_only(
        rfc7643_8_2_full_user):
    body = rendered(parse_resource(USER, rfc7643_8_2_full_user))

    for name in ("userName", "externalId", "name", "emails", "addresses", "phoneNumbers", "ims", "photos",
                 "x509Certificates", "timezone", "active"):
        assert body[name] == rfc7643_8_2_full_user[name]
    assert "password" not in body
    assert "groups" not in body

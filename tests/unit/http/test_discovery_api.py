"""Discovery (RFC 7644 §4): ServiceProviderConfig, ResourceTypes and Schemas, generated from the schema
definitions the validator uses; ``/Me`` answers 501."""

from __future__ import annotations

import pytest

from scimsaga.scim.listing import MAX_RESULTS
from scimsaga.scim.schema import ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, PROVISIONING_SCHEMA, USER_SCHEMA
from tests.unit.http.conftest import BASE, CORE_GROUP, CORE_USER, ENTERPRISE, scim_error

PROVISIONING = "urn:scimsaga:params:scim:schemas:extension:provisioning:2.0:User"
HOST = "http://falconframework.org"


def test_service_provider_config_advertises_what_is_implemented(api):
    response = api.simulate_get(f"{BASE}/ServiceProviderConfig")

    assert response.status_code == 200
    config = response.json
    assert config["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]
    assert config["filter"] == {"supported": True, "maxResults": MAX_RESULTS}
    assert config["patch"] == {"supported": True}
    assert config["bulk"] == {"supported": True, "maxOperations": 1000, "maxPayloadSize": 1_048_576}
    assert config["sort"] == {"supported": True}
    assert config["etag"] == {"supported": True}
    assert config["changePassword"] == {"supported": True}
    [scheme] = config["authenticationSchemes"]
    assert scheme["type"] == "oauthbearertoken"
    assert scheme["primary"] is True
    assert config["meta"]["location"] == f"{HOST}{BASE}/ServiceProviderConfig"


def test_the_advertised_maximum_is_the_page_size_enforced(local):
    from falcon import testing

    from scimsaga.http.app import HttpSettings, create_app
    from tests.unit.http.conftest import Ready, post_user

    small = testing.TestClient(
        create_app(local.identity(), Ready(), HttpSettings(token="t", max_results=3)),
        headers={"Authorization": "Bearer t"},
    )
    for number in range(5):
        post_user(small, f"user{number}")

    advertised = small.simulate_get(f"{BASE}/ServiceProviderConfig").json["filter"]["maxResults"]
    page = small.simulate_get(f"{BASE}/Users", params={"count": "10"}).json
    searched = small.simulate_post(f"{BASE}/Users/.search", json={"count": 10}).json

    assert advertised == 3
    assert (page["itemsPerPage"], page["totalResults"]) == (3, 5)
    assert searched["itemsPerPage"] == 3


def test_resource_types_list_users_and_groups_with_their_extensions(api):
    listed = api.simulate_get(f"{BASE}/ResourceTypes").json

    assert listed["totalResults"] == 2
    by_id = {r["id"]: r for r in listed["Resources"]}
    assert by_id["User"]["endpoint"] == "/Users"
    assert by_id["User"]["schema"] == CORE_USER
    assert by_id["User"]["schemaExtensions"] == [
        {"schema": ENTERPRISE, "required": False},
        {"schema": PROVISIONING, "required": False},
    ]
    assert by_id["Group"]["schema"] == CORE_GROUP
    assert by_id["Group"]["meta"] == {
        "resourceType": "ResourceType",
        "location": f"{HOST}{BASE}/ResourceTypes/Group",
    }
    assert api.simulate_get(f"{BASE}/ResourceTypes/User").json == by_id["User"]


@pytest.mark.parametrize(
    "definition", [USER_SCHEMA, ENTERPRISE_USER_SCHEMA, PROVISIONING_SCHEMA, GROUP_SCHEMA]
)
def test_each_schema_is_printed_from_its_definition(api, definition):
    document = api.simulate_get(f"{BASE}/Schemas/{definition.id}").json

    assert document["id"] == definition.id
    assert document["attributes"] == [attribute.to_dict() for attribute in definition.attributes]
    assert document["meta"]["location"] == f"{HOST}{BASE}/Schemas/{definition.id}"


def test_the_schemas_say_what_the_validator_enforces(api):
    user = api.simulate_get(f"{BASE}/Schemas/{CORE_USER}").json
    attributes = {a["name"]: a for a in user["attributes"]}

    assert attributes["userName"]["required"] is True
    assert attributes["userName"]["uniqueness"] == "server"
    assert attributes["password"]["returned"] == "never"
    assert attributes["password"]["mutability"] == "writeOnly"
    assert attributes["groups"]["mutability"] == "readOnly"
    listed = api.simulate_get(f"{BASE}/Schemas").json
    assert [s["id"] for s in listed["Resources"]] == [CORE_USER, ENTERPRISE, PROVISIONING, CORE_GROUP]


@pytest.mark.parametrize("path", [f"{BASE}/Schemas/urn:nope", f"{BASE}/ResourceTypes/Printer"])
def test_an_unknown_schema_or_resource_type_is_404(api, path):
    scim_error(api.simulate_get(path), 404)


@pytest.mark.parametrize("path", [f"{BASE}/Schemas", f"{BASE}/ResourceTypes"])
def test_filtering_discovery_is_403(api, path):
    scim_error(api.simulate_get(path, params={"filter": 'id eq "User"'}), 403)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("path", ["ServiceProviderConfig", "Schemas", "ResourceTypes"])
def test_discovery_answers_only_get(api, method, path):
    scim_error(api.simulate_request(method, f"{BASE}/{path}", json={}), 405)


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
def test_me_is_501_with_a_scim_error(api, method):
    body = scim_error(api.simulate_request(method, f"{BASE}/Me", json={}), 501)
    assert "/Me" in body["detail"]


def test_bulk_answers_as_advertised(api):
    response = api.simulate_post(f"{BASE}/Bulk", json={
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": []})

    assert response.status_code == 200, response.text
    assert response.json == {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkResponse"],
                             "Operations": []}


def test_discovery_needs_the_token_too(local):
    from falcon import testing

    from scimsaga.http.app import HttpSettings, create_app
    from tests.unit.http.conftest import Ready

    anonymous = testing.TestClient(create_app(local.identity(), Ready(), HttpSettings(token="t")))
    scim_error(anonymous.simulate_get(f"{BASE}/ServiceProviderConfig"), 401)

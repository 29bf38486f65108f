"""The front door over falcon.testing: /Users (RFC 7644 §3.3, §3.4, §3.6), auth, limits, SCIM errors.

The identity port is the real identity host of a LocalCluster (no Ray, broker not started: a new user
stays pending, which is what the front door promises to answer with).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from falcon import testing

from scimsaga.cluster import LocalCluster
from scimsaga.http.app import HttpSettings, create_app
from scimsaga.ports import IdentityPort
from scimsaga.scim.errors import ERROR_SCHEMA
from scimsaga.scim.listing import LIST_RESPONSE_SCHEMA, ListQuery, Page
from scimsaga.scim.resource import StoredResource
from scimsaga.scim.schema import ENTERPRISE_USER_URN, PROVISIONING_URN, USER_SCHEMA_URN
from scimsaga.settings import Settings

TOKEN = "t"
USERS = "/scim/v2/Users"
SCIM_JSON = "application/scim+json"


class FakeHealth:
    """The health port: ready or not, as the test says."""

    def __init__(self, ready: bool = True) -> None:
        self.is_ready = ready

    def ready(self) -> bool:
        return self.is_ready


class ExplodingIdentity:
    """An identity port whose every call fails the way a bug would: with a plain exception."""

    def create_user(self, attributes: dict[str, Any], correlation_id: str) -> StoredResource:
        raise RuntimeError("boom secret")

    def get_user(self, user_id: str) -> StoredResource:
        raise RuntimeError("boom secret")

    def query_users(self, query: ListQuery) -> Page:
        raise RuntimeError("boom secret")

    def delete_user(self, user_id: str, correlation_id: str) -> None:
        raise RuntimeError("boom secret")

    def create(self, kind: str, attributes: dict[str, Any], correlation_id: str) -> StoredResource:
        raise RuntimeError("boom secret")

    def get(self, kind: str, resource_id: str) -> StoredResource:
        raise RuntimeError("boom secret")

    def query(self, kind: str, query: ListQuery) -> Page:
        raise RuntimeError("boom secret")

    def replace(self, kind: str, resource_id: str, attributes: dict[str, Any], correlation_id: str,
                if_match: str | None = None) -> StoredResource:
        raise RuntimeError("boom secret")

    def delete(self, kind: str, resource_id: str, correlation_id: str, if_match: str | None = None) -> None:
        raise RuntimeError("boom secret")

    def patch(self, kind: str, resource_id: str, request: Any, correlation_id: str,
              if_match: str | None = None) -> StoredResource:
        raise RuntimeError("boom secret")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    cluster = LocalCluster(Settings(data_dir=tmp_path / "data"))
    yield cluster
    cluster.stop()


@pytest.fixture
def identity(cluster: LocalCluster) -> IdentityPort:
    return cluster.identity()


@pytest.fixture
def health() -> FakeHealth:
    return FakeHealth()


def client_for(identity: IdentityPort, health: FakeHealth, **settings: Any) -> testing.TestClient:
    app = create_app(identity, health, HttpSettings(token=TOKEN, **settings))
    return testing.TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"})


@pytest.fixture
def client(identity: IdentityPort, health: FakeHealth) -> testing.TestClient:
    """A client that sends the right bearer token with every request."""
    return client_for(identity, health)


def new_user(user_name: str = "bjensen", **attributes: Any) -> dict[str, Any]:
    return {"schemas": [USER_SCHEMA_URN], "userName": user_name, **attributes}


def users_total(identity: IdentityPort) -> int:
    return identity.query_users(ListQuery(count=0)).total


def assert_scim_error(response: testing.Result, status: int, scim_type: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == SCIM_JSON
    body = response.json
    assert body["schemas"] == [ERROR_SCHEMA]
    assert body["status"] == str(status)
    assert isinstance(body["detail"], str)
    if scim_type is None:
        assert "scimType" not in body
    else:
        assert body["scimType"] == scim_type
    return body


# --- create, read, query, delete ---------------------------------------------------------------------


def test_post_creates_a_pending_user(client):
    response = client.simulate_post(USERS, json=new_user(displayName="Babs", active=True))

    assert response.status_code == 201
    assert response.headers["Content-Type"] == SCIM_JSON
    body = response.json
    assert response.headers["Location"] == body["meta"]["location"]
    assert body["meta"]["location"].endswith(f"{USERS}/{body['id']}")
    assert response.headers["ETag"] == body["meta"]["version"] == 'W/"1"'
    assert body["meta"]["resourceType"] == "User"
    assert body["schemas"] == [USER_SCHEMA_URN, PROVISIONING_URN]
    assert (body["userName"], body["displayName"]) == ("bjensen", "Babs")
    assert body["active"] is False
    assert body[PROVISIONING_URN]["state"] == "pending"


def test_post_never_returns_the_password(client):
    response = client.simulate_post(USERS, json=new_user(password="t1meMa$heen"))

    assert response.status_code == 201
    assert "password" not in response.json
    assert "t1meMa$heen" not in response.text


def test_plain_application_json_is_accepted(client):
    response = client.simulate_post(USERS, body=json.dumps(new_user()),
                                    headers={"Content-Type": "application/json"})

    assert response.status_code == 201


def test_get_returns_what_post_created(client):
    created = client.simulate_post(USERS, json=new_user()).json

    response = client.simulate_get(f"{USERS}/{created['id']}")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == SCIM_JSON
    assert response.headers["ETag"] == created["meta"]["version"]
    assert response.json == created


def test_a_filter_on_user_name_returns_a_list_response(client):
    created = client.simulate_post(USERS, json=new_user("bjensen")).json
    client.simulate_post(USERS, json=new_user("jsmith"))

    response = client.simulate_get(USERS, params={"filter": 'userName eq "BJensen"'})

    assert response.status_code == 200
    body = response.json
    assert body["schemas"] == [LIST_RESPONSE_SCHEMA]
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (1, 1, 1)
    assert [r["id"] for r in body["Resources"]] == [created["id"]]
    assert body["Resources"][0]["meta"]["location"] == created["meta"]["location"]


def test_list_paging_and_count_only(client):
    for name in ("a", "b", "c"):
        client.simulate_post(USERS, json=new_user(name))

    page = client.simulate_get(USERS, params={"startIndex": "2", "count": "1"}).json
    count_only = client.simulate_get(USERS, params={"count": "0"}).json

    assert (page["totalResults"], page["startIndex"], page["itemsPerPage"]) == (3, 2, 1)
    assert (count_only["totalResults"], count_only["Resources"]) == (3, [])


def test_delete_answers_204_and_the_user_is_gone(client):
    created = client.simulate_post(USERS, json=new_user()).json

    deleted = client.simulate_delete(f"{USERS}/{created['id']}")
    after = client.simulate_get(f"{USERS}/{created['id']}")

    assert deleted.status_code == 204
    assert deleted.text == ""
    body = assert_scim_error(after, 404)
    assert created["id"] in body["detail"]


def test_deleting_an_unknown_user_is_404(client):
    assert_scim_error(client.simulate_delete(f"{USERS}/nobody"), 404)


def test_the_request_id_is_echoed(client):
    response = client.simulate_get(USERS, headers={"X-Request-Id": "req-42"})

    assert response.headers["X-Request-Id"] == "req-42"


# --- authentication -------------------------------------------------------------------------------


def test_no_token_is_401_with_a_bearer_challenge(identity, health):
    anonymous = testing.TestClient(create_app(identity, health, HttpSettings(token=TOKEN)))

    response = anonymous.simulate_get(USERS)

    assert_scim_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("authorization", ["Bearer wrong", "Bearer", "Basic dDp0", f"Token {TOKEN}", "t"])
def test_a_wrong_token_or_scheme_is_401(client, authorization):
    response = client.simulate_get(USERS, headers={"Authorization": authorization})

    assert_scim_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_healthz_needs_no_token_and_says_whether_the_services_are_ready(identity, health):
    anonymous = testing.TestClient(create_app(identity, health, HttpSettings(token=TOKEN)))

    ready = anonymous.simulate_get("/healthz")
    health.is_ready = False
    starting = anonymous.simulate_get("/healthz")

    assert (ready.status_code, ready.json) == (200, {"status": "ready"})
    assert (starting.status_code, starting.json) == (503, {"status": "starting"})


# --- requests that are refused ----------------------------------------------------------------------


def test_a_taken_user_name_in_any_case_is_409_uniqueness(client):
    client.simulate_post(USERS, json=new_user("bjensen"))

    response = client.simulate_post(USERS, json=new_user("BJensen"))

    body = assert_scim_error(response, 409, "uniqueness")
    assert "BJensen" in body["detail"]


def test_malformed_json_is_400_invalid_syntax(client):
    response = client.simulate_post(USERS, body='{"schemas": [', headers={"Content-Type": SCIM_JSON})

    assert_scim_error(response, 400, "invalidSyntax")


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_a_number_json_does_not_have_is_400_invalid_syntax(client, number):
    user = json.dumps(new_user("nan", displayName="PLACEHOLDER"))
    body = user.replace('"PLACEHOLDER"', number)  # a number where a string belongs: the parse fails first
    response = client.simulate_post(USERS, body=body, headers={"Content-Type": SCIM_JSON})

    assert_scim_error(response, 400, "invalidSyntax")
    assert client.simulate_get(USERS, params={"filter": 'userName eq "nan"'}).json["totalResults"] == 0


@pytest.mark.parametrize("body", ["[]", '["userName"]', '"bjensen"', "42", "null", ""])
def test_a_body_that_is_not_an_object_is_400_invalid_syntax(client, body):
    response = client.simulate_post(USERS, body=body, headers={"Content-Type": SCIM_JSON})

    assert_scim_error(response, 400, "invalidSyntax")


def test_a_value_of_the_wrong_type_is_400_invalid_value_naming_its_path(client):
    response = client.simulate_post(USERS, json=new_user(emails=[{"value": 42}]))

    body = assert_scim_error(response, 400, "invalidValue")
    assert "emails[0].value" in body["detail"]


def test_an_unknown_attribute_is_400_invalid_syntax(client):
    response = client.simulate_post(USERS, json=new_user(favouriteColour="blue"))

    body = assert_scim_error(response, 400, "invalidSyntax")
    assert "favouriteColour" in body["detail"]


@pytest.mark.parametrize(("params", "scim_type"), [
    ({"filter": "userName eq"}, "invalidFilter"),
    ({"count": "ten"}, "invalidValue"),
    ({"sortOrder": "sideways"}, "invalidValue"),
])
def test_a_bad_query_is_400(client, params, scim_type):
    assert_scim_error(client.simulate_get(USERS, params=params), 400, scim_type)


@pytest.mark.parametrize("query", ["count=1&count=2", "filter=id%20pr&filter=userName%20pr",
                                   "sortOrder=ascending&sortOrder=descending"])
def test_a_repeated_query_parameter_is_400_not_a_crash(client, query):
    assert_scim_error(client.simulate_get(USERS, query_string=query), 400, "invalidValue")


@pytest.mark.parametrize("path", ["/nope", "/scim/v2/Gruops", f"{USERS}/u1/extra", "/scim/v2"])
def test_an_unknown_route_is_a_scim_404(client, path):
    assert_scim_error(client.simulate_get(path), 404)


@pytest.mark.parametrize(("method", "path"), [
    ("PATCH", USERS), ("PUT", USERS), ("DELETE", USERS), ("POST", "/scim/v2/ServiceProviderConfig"),
    ("PATCH", "/scim/v2/Bulk"),
    ("POST", f"{USERS}/u1"),
])
def test_an_unsupported_method_is_a_scim_405(client, method, path):
    response = client.simulate_request(method, path, json={"schemas": [USER_SCHEMA_URN]})

    assert_scim_error(response, 405)
    assert method not in response.headers["Allow"]


def test_a_body_over_the_limit_is_413(identity, health):
    client = client_for(identity, health, max_payload_bytes=256)

    response = client.simulate_post(USERS, json=new_user(displayName="x" * 300))

    body = assert_scim_error(response, 413)
    assert "256" in body["detail"]


@pytest.mark.parametrize("content_type", [
    "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain", "application/xml",
])
def test_a_body_that_is_not_json_is_415(client, identity, content_type):
    body = f"schemas={USER_SCHEMA_URN}&userName=bjensen"

    response = client.simulate_post(USERS, body=body, headers={"Content-Type": content_type})

    assert_scim_error(response, 415)
    assert users_total(identity) == 0


def test_a_refused_request_changes_nothing(client, identity, health):
    client.simulate_post(USERS, json=new_user("bjensen"))
    small = client_for(identity, health, max_payload_bytes=256)
    anonymous = testing.TestClient(create_app(identity, health, HttpSettings(token=TOKEN)))
    before = users_total(identity)

    refused = [
        client.simulate_post(USERS, json=new_user("BJENSEN")),
        client.simulate_post(USERS, json=new_user("other", active="yes")),
        client.simulate_post(USERS, json=new_user("other", favouriteColour="blue")),
        client.simulate_post(USERS, json={"schemas": [USER_SCHEMA_URN, "urn:x"], "userName": "other",
                                          "urn:x": {"colour": "blue"}}),
        client.simulate_post(USERS, json=new_user("other", **{ENTERPRISE_USER_URN: "CC-4130"})),
        client.simulate_post(USERS, body="{", headers={"Content-Type": SCIM_JSON}),
        client.simulate_post(USERS, json=new_user("other"), headers={"Authorization": "Bearer wrong"}),
        anonymous.simulate_post(USERS, json=new_user("other")),
        small.simulate_post(USERS, json=new_user("other", displayName="x" * 300)),
        client.simulate_delete(f"{USERS}/nobody"),
    ]

    assert [r.status_code for r in refused] == [409, 400, 400, 400, 400, 400, 401, 401, 413, 404]
    assert users_total(identity) == before == 1
    listed = client.simulate_get(USERS).json
    assert [r["userName"] for r in listed["Resources"]] == ["bjensen"]


# --- failures on our side ---------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), [
    ("GET", f"{USERS}/u1"), ("GET", USERS), ("POST", USERS), ("DELETE", f"{USERS}/u1"),
])
def test_an_unexpected_exception_is_a_scim_500_without_its_message(health, method, path):
    client = client_for(ExplodingIdentity(), health)

    response = client.simulate_request(method, path, json=new_user(), headers={"X-Request-Id": "req-500"})

    body = assert_scim_error(response, 500)
    assert "boom secret" not in response.text
    assert "Traceback" not in response.text
    assert "req-500" in body["detail"]


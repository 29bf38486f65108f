"""SCIM over HTTP against ``scimsaga up`` on loopback, with the saga running on real Ray actors."""

from __future__ import annotations

import json
import uuid

import ray
import requests

from tests.e2e.conftest import scimsaga
from tests.polling import wait_until

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PROVISIONING = "urn:scimsaga:params:scim:schemas:extension:provisioning:2.0:User"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def new_user(cost_center: str | None = None) -> dict:
    name = f"user-{uuid.uuid4().hex[:8]}@example.com"
    body = {
        "schemas": [CORE, ENTERPRISE],
        "userName": name,
        "externalId": uuid.uuid4().hex,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": name, "type": "work", "primary": True}],
        "active": True,
    }
    if cost_center:
        body[ENTERPRISE] = {"costCenter": cost_center}
    return body


def get_json(http, url):
    response = http.get(url)
    return response.status_code, response.json() if response.content else None


def assert_scim_error(response, status: int, scim_type: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/scim+json")
    body = response.json()
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type
    assert "Traceback" not in response.text
    return body


def test_health_answers_without_a_token(server):
    response = requests.get(f"{server.root}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


def test_a_created_user_is_answered_at_once_then_provisioned_everywhere(server, http):
    response = http.post(f"{server.url}/Users", json=new_user("CC-2024"))

    assert response.status_code == 201, response.text
    user = response.json()
    assert response.headers["Location"] == user["meta"]["location"] == f"{server.url}/Users/{user['id']}"
    assert response.headers["ETag"] == user["meta"]["version"]
    assert user["active"] is False
    assert user[PROVISIONING]["state"] == "pending"
    assert {"created", "lastModified", "location", "version", "resourceType"} <= set(user["meta"])

    def provisioned():
        status, body = get_json(http, response.headers["Location"])
        return body if status == 200 and body["active"] else None

    body = wait_until(provisioned, timeout=60, message="user active")
    assert body[PROVISIONING]["state"] == "active"
    assert {s["name"]: s["state"] for s in body[PROVISIONING]["services"]} == {
        "profile": "done", "access": "done", "billing": "done"}


def test_a_rejected_cost_center_leaves_nothing_anywhere(server, http):
    response = http.post(f"{server.url}/Users", json=new_user("XX-9"))
    assert response.status_code == 201
    user_id = response.json()["id"]

    wait_until(lambda: http.get(f"{server.url}/Users/{user_id}").status_code == 404, timeout=60,
               message="user compensated")

    assert_scim_error(http.get(f"{server.url}/Users/{user_id}"), 404)
    for service in ("billing", "profile", "access"):
        actor = ray.get_actor(service, namespace=server.namespace)
        assert ray.get(actor.state_of.remote(user_id), timeout=30) is None, service


def test_filter_by_username_is_case_insensitive(server, http):
    body = new_user()
    created = http.post(f"{server.url}/Users", json=body).json()

    response = http.get(f"{server.url}/Users", params={"filter": f'userName eq "{body["userName"].upper()}"'})

    assert response.status_code == 200
    listing = response.json()
    assert listing["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
    assert listing["totalResults"] == 1
    assert listing["Resources"][0]["id"] == created["id"]


def test_delete_answers_204_and_the_user_is_gone(server, http):
    created = http.post(f"{server.url}/Users", json=new_user()).json()

    assert http.delete(f"{server.url}/Users/{created['id']}").status_code == 204
    assert_scim_error(http.get(f"{server.url}/Users/{created['id']}"), 404)
    assert_scim_error(http.delete(f"{server.url}/Users/{created['id']}"), 404)


def test_errors_are_scim_errors_and_change_nothing(server, http):
    body = new_user()
    assert http.post(f"{server.url}/Users", json=body).status_code == 201
    before = http.get(f"{server.url}/Users", params={"count": 0}).json()["totalResults"]

    missing = requests.post(f"{server.url}/Users", json=new_user())
    assert_scim_error(missing, 401)
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert_scim_error(requests.get(f"{server.url}/Users", headers={"Authorization": "Bearer nope"}), 401)
    duplicate = dict(new_user(), userName=body["userName"].upper())
    assert_scim_error(http.post(f"{server.url}/Users", json=duplicate), 409, "uniqueness")
    assert_scim_error(http.post(f"{server.url}/Users", data="{not json"), 400, "invalidSyntax")
    assert_scim_error(http.post(f"{server.url}/Users", json={"schemas": [CORE]}), 400, "invalidValue")

    assert http.get(f"{server.url}/Users", params={"count": 0}).json()["totalResults"] == before


def test_a_body_over_the_advertised_maximum_is_refused_chunked_or_not(server, http):
    """RFC 7644 §3.12 (413, with maxPayloadSize from /ServiceProviderConfig); waitress buffers a
    chunked body before the app sees it, so it must stop buffering near the limit too."""
    limit = http.get(f"{server.url}/ServiceProviderConfig").json()["bulk"]["maxPayloadSize"]
    before = http.get(f"{server.url}/Users", params={"count": 0}).json()["totalResults"]
    oversize = dict(new_user(), displayName="x" * (limit + 1))
    text = json.dumps(oversize).encode()

    assert_scim_error(http.post(f"{server.url}/Users", data=text), 413)
    chunked = http.post(f"{server.url}/Users", data=iter([text[:1000], text[1000:]]))  # no Content-Length
    assert_scim_error(chunked, 413)
    past_twice = (b"x" * 65536 for _ in range(2 * limit // 65536 + 2))
    endless = http.post(f"{server.url}/Users", data=past_twice)
    # Waitress itself refused it (plain text): it stopped buffering instead of handing the app 1 GiB.
    assert (endless.status_code, endless.headers["Content-Type"]) == (413, "text/plain; charset=utf-8")

    assert http.get(f"{server.url}/Users", params={"count": 0}).json()["totalResults"] == before


def test_status_reports_services_subscriptions_and_sagas(server, http):
    http.post(f"{server.url}/Users", json=new_user())

    result = scimsaga("status", "--json", "--data-dir", str(server.data_dir))

    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert set(status) == {"services", "subscriptions", "sagas"}
    assert {s["name"] for s in status["services"]} == {"identity", "billing", "profile", "access", "saga"}
    assert all({"name", "lag", "dead_letters"} <= set(s) for s in status["subscriptions"])
    assert sum(status["sagas"].values()) >= 1


def test_billing_down_holds_new_users_pending_until_it_is_back(server, http):
    down = scimsaga("chaos", "billing", "--down", "--data-dir", str(server.data_dir))
    assert down.returncode == 0, down.stderr
    try:
        users = [http.post(f"{server.url}/Users", json=new_user()).json() for _ in range(5)]
        assert all(u["active"] is False for u in users)
        wait_until(lambda: _lag(server, "billing<-billing.commands") >= 5, timeout=30, message="lag grows")
        assert all(not http.get(u["meta"]["location"]).json()["active"] for u in users)
    finally:
        up = scimsaga("chaos", "billing", "--up", "--data-dir", str(server.data_dir))
        assert up.returncode == 0, up.stderr

    wait_until(lambda: all(http.get(u["meta"]["location"]).json()["active"] for u in users), timeout=60,
               message="all active after billing is back")
    assert _lag(server, "billing<-billing.commands") == 0


def _lag(server, subscription: str) -> int:
    status = json.loads(scimsaga("status", "--json", "--data-dir", str(server.data_dir)).stdout)
    return next(s["lag"] for s in status["subscriptions"] if s["name"] == subscription)

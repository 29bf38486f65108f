"""Generated garbage at every endpoint (RFC 7644 §3.12): never a 5xx, never a traceback, never a change.

(The one 5xx allowed is the deliberate 501 of ``/Me``, which this service provider does not implement.)

Every request here is malformed by construction: bodies are random bytes, random JSON, or a valid
resource with one part made invalid (a wrong type, an unknown attribute, data under an unknown schema
URN, a member that does not exist); PATCH requests whose last operation is broken (so the valid ones
before it must not stick either); bulk requests made of such operations; deletes of existing resources
carry a stale or malformed ``If-Match``; some requests have a wrong token or none, some a body over the
limit. Each request goes to a deployment with the IdP tolerances on or to a strict one. After each one,
every table of the identity store, its outbox included, must be exactly as before.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from falcon import testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scimsaga.cluster import LocalCluster
from scimsaga.http.app import HttpSettings, create_app
from tests.polling import wait_until
from tests.unit.http.conftest import BASE, CORE_GROUP, CORE_USER, TOKEN, Ready, post_group, post_user

MAX_BYTES = 4096
TABLES = ("users", "user_emails", "groups", "group_members", "outbox")


@pytest.fixture
def target(local: LocalCluster) -> Iterator[tuple[dict[bool, testing.TestClient], dict[str, str],
                                                  sqlite3.Connection]]:
    clients = {strict: testing.TestClient(create_app(
        local.identity(), Ready(), HttpSettings(token=TOKEN, max_payload_bytes=MAX_BYTES, strict=strict)))
        for strict in (False, True)}
    authorised = testing.TestClient(clients[False].app, headers={"Authorization": f"Bearer {TOKEN}"})
    ada = post_user(authorised, "ada", emails=[{"value": "ada@example.com"}])
    admins = post_group(authorised, "Admins", ada["id"])
    reader = sqlite3.connect(str(local.settings.database("identity")))
    # the relay publishes the set-up's events in the background: let it finish before comparing tables
    wait_until(lambda: reader.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0, timeout=10,
               message="the set-up's events published")
    yield clients, {"user": ada["id"], "group": admins["id"]}, reader
    reader.close()


def snapshot(reader: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {table: sorted(reader.execute(f"SELECT * FROM {table}").fetchall(), key=repr) for table in TABLES}


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
NOT_A_STRING = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.lists(st.text(max_size=3), max_size=2)
    | st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2)
)
NOT_A_BOOLEAN = (st.integers() | st.text(max_size=5).filter(lambda t: t.lower() not in ("true", "false"))
                 | st.lists(st.booleans(), min_size=1, max_size=2))


def broken_user(kind: str, value: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [CORE_USER], "userName": "garbage-user"}
    if kind == "userName":
        body["userName"] = value
    elif kind == "active":
        body["active"] = value
    elif kind == "emails":
        # an empty value would be "unassigned" (RFC 7643 §2.5) and dropped, leaving a valid body
        body["emails"] = "not-a-list" if value in (None, [], {}) else [{"value": value}]
    elif kind == "unknown":
        body[f"x-{value}"] = 1
    elif kind == "schema":  # data under a URN nobody knows: refused with or without the tolerances
        body["schemas"] = [CORE_USER, f"urn:garbage:{value}"]
        body[f"urn:garbage:{value}"] = {"colour": "blue"}
    elif kind == "name":
        body["name"] = "not-an-object" if value in (None, [], {}) else {"givenName": value}
    return body


def broken_group(kind: str, value: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [CORE_GROUP], "displayName": "garbage-group"}
    if kind == "displayName":
        body["displayName"] = value
    elif kind == "member":
        body["members"] = [{"value": f"no-such-member-{value}"}]
    elif kind == "members":
        body["members"] = value if value is not None else "everyone"
    elif kind == "unknown":
        body[f"x-{value}"] = 1
    return body


USER_BODIES = st.one_of(
    st.builds(broken_user, st.sampled_from(["userName", "emails", "name"]), NOT_A_STRING),
    st.builds(broken_user, st.just("active"), NOT_A_BOOLEAN),
    st.builds(broken_user, st.sampled_from(["unknown", "schema"]), st.text(max_size=8)),
)
GROUP_BODIES = st.one_of(
    st.builds(broken_group, st.just("displayName"), NOT_A_STRING),
    st.builds(broken_group, st.sampled_from(["member", "unknown"]), st.text(max_size=8)),
    st.builds(broken_group, st.just("members"), st.none() | st.text(max_size=5) | st.integers()),
)
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def broken_operation(kind: str, value: Any) -> dict[str, Any]:
    """One PATCH operation that cannot be applied, in either mode."""
    operations = {
        "required": {"op": "remove", "path": "userName"},
        "null": {"op": "replace", "path": "userName", "value": None},
        "type": {"op": "replace", "path": "userName", "value": value},
        "active": {"op": "replace", "path": "active", "value": value},
        "unknown": {"op": "add", "path": f"x{value}", "value": 1},
        "no-path": {"op": "remove"},
        "read-only": {"op": "replace", "path": "id", "value": "other"},
        "no-target": {"op": "replace", "path": 'emails[value co "zz-nothing"].display', "value": "x"},
        "op": {"op": f"bogus{value}", "path": "displayName", "value": "x"},
        "member": {"op": "add", "path": "members", "value": [{"value": f"no-such-member-{value}"}]},
        "immutable": {"op": "replace", "path": "members.value", "value": "someone-else"},
        "no-name": {"op": "replace", "path": "displayName", "value": None},
    }
    return operations[kind]


USER_BREAKAGES = ["required", "null", "type", "active", "unknown", "no-path", "read-only", "no-target", "op"]
GROUP_BREAKAGES = ["unknown", "no-path", "read-only", "op", "member", "immutable", "no-name"]


@st.composite
def broken_patches(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    """A PatchOp message whose valid first operations are followed by one that fails: atomically none."""
    breakage = draw(st.sampled_from(USER_BREAKAGES if kind == "Users" else GROUP_BREAKAGES))
    value = draw(NOT_A_BOOLEAN if breakage == "active" else NOT_A_STRING if breakage == "type"
                 else st.text(alphabet="abc", max_size=4))
    valid = [{"op": "replace", "path": "externalId", "value": "changed"},
             {"op": "add", "path": "displayName" if kind == "Users" else "externalId", "value": "also"}]
    operations = [*draw(st.lists(st.sampled_from(valid), max_size=2)), broken_operation(breakage, value)]
    return {"schemas": [PATCH_OP], "Operations": operations}


@st.composite
def broken_bulks(draw: st.DrawFn, ids: dict[str, str]) -> dict[str, Any]:
    """A BulkRequest whose every operation fails, so nothing may change."""
    operations: list[dict[str, Any]] = []
    for number in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["Users", "Groups"]))
        existing = ids["user"] if kind == "Users" else ids["group"]
        choice = draw(st.sampled_from(["POST", "PUT", "PATCH", "DELETE", "ref"]))
        if choice == "POST":
            data = draw(USER_BODIES if kind == "Users" else GROUP_BODIES)
            operations.append({"method": "POST", "path": f"/{kind}", "bulkId": f"b{number}", "data": data})
        elif choice == "PUT":
            data = draw(USER_BODIES if kind == "Users" else GROUP_BODIES)
            operations.append({"method": "PUT", "path": f"/{kind}/{existing}", "data": data})
        elif choice == "PATCH":
            patch = draw(broken_patches(kind))
            operations.append({"method": "PATCH", "path": f"/{kind}/{existing}", "data": patch})
        elif choice == "DELETE":
            operations.append({"method": "DELETE", "path": f"/{kind}/{existing}", "version": 'W/"999"'})
        else:
            operations.append({"method": "PATCH", "path": f"/{kind}/bulkId:nowhere",
                               "data": {"schemas": [PATCH_OP], "Operations": [
                                   {"op": "replace", "path": "externalId", "value": "x"}]}})
    return {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": operations}


SEARCH_BODIES = st.fixed_dictionaries(
    {},
    optional={
        "filter": st.text(max_size=30) | st.integers(),
        "count": st.text(max_size=3) | st.floats(allow_nan=False),
        "sortBy": st.text(max_size=10),
        "attributes": JSON,
        "startIndex": st.text(max_size=3),
    },
).filter(lambda body: len(body) > 0)
RAW = st.binary(max_size=200)
PARAMS = st.dictionaries(
    st.sampled_from(
        ["filter", "count", "startIndex", "sortBy", "sortOrder", "attributes", "excludedAttributes", "FILTER"]
    ),
    st.text(max_size=30),
    max_size=3,
)
STALE_OR_BAD_IF_MATCH = st.one_of(
    st.integers(100, 10**6).map(lambda n: f'W/"{n}"'),
    st.text(alphabet="abcW/ ,", min_size=1, max_size=8).filter(lambda text: text.strip() not in ("", "*")),
)


@st.composite
def requests(draw: st.DrawFn, ids: dict[str, str]) -> dict[str, Any]:
    kind = draw(st.sampled_from(["Users", "Groups"]))
    existing = ids["user"] if kind == "Users" else ids["group"]
    unknown = draw(st.text(alphabet="abcdef0123456789-", min_size=1, max_size=12))
    bodies = USER_BODIES if kind == "Users" else GROUP_BODIES
    item = st.sampled_from([f"{BASE}/{kind}/{existing}", f"{BASE}/{kind}/{unknown}"])
    method, path, body = draw(
        st.one_of(
            st.tuples(st.just("POST"), st.just(f"{BASE}/{kind}"), bodies),
            st.tuples(st.just("PUT"), item, bodies),
            st.tuples(st.sampled_from(["POST", "PUT"]), st.just(f"{BASE}/{kind}"), JSON | RAW),
            st.tuples(st.just("PUT"), item, JSON | RAW),
            st.tuples(st.just("DELETE"), st.just(f"{BASE}/{kind}/{unknown}"), st.none()),
            st.tuples(st.just("PATCH"), item, broken_patches(kind)),
            st.tuples(st.just("POST"), st.just(f"{BASE}/Bulk"), broken_bulks(ids)),
            st.tuples(
                st.sampled_from(["GET", "DELETE", "PATCH", "POST"]),
                st.sampled_from(
                    [
                        f"{BASE}/{kind}",
                        f"{BASE}/{kind}/{existing}",
                        f"{BASE}/{kind}/{unknown}",
                        f"{BASE}/Me",
                        f"{BASE}/Bulk",
                        f"{BASE}/Schemas",
                        f"{BASE}/ResourceTypes/x",
                        f"{BASE}/ServiceProviderConfig",
                        f"/{unknown}",
                    ]
                ),
                JSON | RAW,
            ),
            st.tuples(
                st.just("POST"),
                st.sampled_from([f"{BASE}/.search", f"{BASE}/{kind}/.search"]),
                SEARCH_BODIES | JSON | RAW,
            ),
        )
    )
    headers = {
        "Authorization": draw(st.sampled_from([f"Bearer {TOKEN}"] * 8 + ["Bearer wrong", "Basic x", ""])),
        "Content-Type": draw(
            st.sampled_from(
                ["application/scim+json", "application/json", "application/json; charset=utf-8", "text/plain"]
            )
        ),
    }
    if method in ("DELETE", "PUT", "PATCH") and existing in path:
        headers["If-Match"] = draw(STALE_OR_BAD_IF_MATCH)
    if draw(st.booleans()) and method == "GET":
        headers["If-None-Match"] = draw(st.text(max_size=10))
    if body is None:
        data = b""
    elif isinstance(body, bytes):
        data = body
    else:
        data = json.dumps(body).encode()
    if draw(st.integers(0, 19)) == 0:
        data = b'{"schemas": ["' + b"x" * (MAX_BYTES + 1) + b'"]}'
    return {"method": method, "path": path, "body": data, "headers": headers, "params": draw(PARAMS)}


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_garbage_never_gets_a_5xx_and_changes_nothing(target, data) -> None:
    clients, ids, reader = target
    before = snapshot(reader)
    request = data.draw(requests(ids), label="request")
    client = clients[data.draw(st.booleans(), label="strict")]

    response = client.simulate_request(
        request["method"],
        request["path"],
        body=request["body"],
        headers={k: v for k, v in request["headers"].items() if v},
        params=request["params"],
    )

    unimplemented = request["path"] == f"{BASE}/Me" and response.status_code == 501
    assert response.status_code < 500 or unimplemented, (request, response.text)
    assert "Traceback" not in response.text
    if response.status_code >= 400:
        assert response.headers["Content-Type"] == "application/scim+json"
        assert response.json["status"] == str(response.status_code)
    assert snapshot(reader) == before, (request, response.status_code, response.text)

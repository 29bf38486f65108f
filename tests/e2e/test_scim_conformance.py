"""The external conformance suite (scim2-tester) against ``scimsaga up`` on loopback, and the service
provider's own features end to end over HTTP with the identity store on a real Ray actor.

The suite fills every attribute with random values, the enterprise ``costCenter`` included, which the
default billing rule (``CC-\\d{4}``) refuses: the saga then compensates by deleting the user, as it
should, while the suite is still patching it. The deployment here accepts any cost center, so what the
suite sees is the SCIM protocol, not that business rule.
"""

from __future__ import annotations

import collections
import uuid
from collections.abc import Iterator

import httpx2
import pytest
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

from tests.e2e.conftest import Running, start_up

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
PASSED = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}


@pytest.fixture(scope="module")
def server(ray_address: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    running = start_up("--address", ray_address, "--namespace", f"conformance-{uuid.uuid4().hex[:8]}",
                       "--data-dir", str(tmp_path_factory.mktemp("conformance")), "--token", "e2e-token",
                       "--cost-center-rule", ".*")
    try:
        yield running
    finally:
        assert running.stop() == 0, running.lines


PROVISIONING = "urn:scimsaga:params:scim:schemas:extension:provisioning:2.0:User"
SERVER_COMPUTED = {
    ("check_add_attribute", PROVISIONING),
    ("check_replace_attribute", PROVISIONING),
    ("check_remove_attribute", PROVISIONING),
    ("check_remove_attribute", "active"),
}
"""The PATCH checks that expect a client-written value where scimsaga serves state it computes: the
read-only provisioning extension (the suite reads any extension as writable and expects it to equal the
empty value it sends, or to be gone after a remove), and ``active``, which a user always has (effective:
false while pending), so a remove cannot make it unassigned. Passing them means changing what a user
looks like, which is the lead's call (see the issue 4 report); every other check must pass."""

RACES_THE_SAGA = ("check_add_attribute", "active")
"""The suite creates a user and at once PATCHes ``active`` to a random value: when that is true and the
saga has not finished yet, the PATCH answers ``active: false`` (pending), as it should. Whether the
saga wins depends on the machine's load, so that one outcome is allowed, and only that one."""


def test_scim2_tester_runs_every_check_and_only_server_computed_state_differs(server, capsys):
    with httpx2.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {server.token}"}, timeout=60
    ) as http:
        client = SyncSCIMClient(http)
        results = check_server(client, raise_exceptions=False)

    counts = collections.Counter(result.status.name for result in results)
    passed = [r for r in results if r.status in PASSED]
    with capsys.disabled():  # the count belongs in the test output, captured or not
        print(f"\nscim2-tester: {len(results)} checks: "
              + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
              + f"; {len(passed)} passed")
        for result in results:
            urn = (result.data or {}).get("urn", "") if isinstance(result.data, dict) else ""
            print(f"  {result.status.name:<8} {result.resource_type or '-':<6} {result.title} {urn}")
    skipped = [(r.title, r.reason) for r in results if r.status == Status.SKIPPED]
    assert skipped == []  # PATCH is advertised and checked
    pending = [r for r in results if r.status not in PASSED
               and (r.title, (r.data or {}).get("urn")) == RACES_THE_SAGA]
    for result in pending:  # patched to true while the saga was still running: answered pending
        assert (result.data["expected"], result.data["modify_actual"]) == (True, False), result.reason
    not_passed = {(r.title, (r.data or {}).get("urn")) for r in results if r.status not in PASSED}
    assert not_passed - {RACES_THE_SAGA} == SERVER_COMPUTED, [
        (r.title, r.reason) for r in results if r.status not in PASSED]
    patch_checks = [
        r for r in passed
        if r.title in ("check_add_attribute", "check_remove_attribute", "check_replace_attribute")
    ]
    assert {r.resource_type for r in patch_checks} == {"User", "Group"}
    assert len(passed) == len(results) - len(SERVER_COMPUTED) - len(pending)


def test_users_and_groups_end_to_end(server, http):
    tag = uuid.uuid4().hex[:8]
    ada = http.post(
        f"{server.url}/Users",
        json={
            "schemas": [CORE_USER, ENTERPRISE],
            "userName": f"ada-{tag}@example.com",
            "externalId": f"ext-{tag}",
            "emails": [{"value": f"ada-{tag}@example.com", "type": "work"}],
            ENTERPRISE: {"department": f"dept-{tag}"},
        },
    ).json()
    group = http.post(
        f"{server.url}/Groups",
        params={"attributes": "displayName,members"},
        json={
            "schemas": [CORE_GROUP],
            "displayName": f"Admins {tag}",
            "externalId": f"ext-{tag}",
            "members": [{"value": ada["id"]}],
        },
    )
    assert group.status_code == 201, group.text
    group_id = group.json()["id"]
    assert group.json()["members"][0]["$ref"] == f"{server.url}/Users/{ada['id']}"

    user = http.get(f"{server.url}/Users/{ada['id']}").json()
    assert [g["value"] for g in user["groups"]] == [group_id]

    found = http.get(
        f"{server.url}/Users",
        params={
            "filter": f'emails[type eq "work" and value co "{tag}"] '
            f'and {ENTERPRISE}:department eq "DEPT-{tag}"'
        },
    )
    assert [r["id"] for r in found.json()["Resources"]] == [ada["id"]]

    searched = http.post(
        f"{server.url}/.search",
        json={
            "schemas": [SEARCH],
            "filter": f'externalId eq "ext-{tag}"',
            "attributes": ["id"],
        },
    ).json()
    assert {r["id"] for r in searched["Resources"]} == {ada["id"], group_id}

    etag = http.get(f"{server.url}/Groups/{group_id}").headers["ETag"]
    assert http.get(f"{server.url}/Groups/{group_id}", headers={"If-None-Match": etag}).status_code == 304
    assert http.delete(f"{server.url}/Users/{ada['id']}").status_code == 204
    after = http.get(f"{server.url}/Groups/{group_id}")
    assert "members" not in after.json()
    assert after.headers["ETag"] != etag
    stale = http.delete(f"{server.url}/Groups/{group_id}", headers={"If-Match": etag})
    assert stale.status_code == 412
    assert (
        http.delete(
            f"{server.url}/Groups/{group_id}", headers={"If-Match": after.headers["ETag"]}
        ).status_code
        == 204
    )


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/Me", 501),
        ("DELETE", "/ServiceProviderConfig", 405),
        ("GET", "/Users/no-such-id", 404),
        ("GET", "/Schemas/urn:no", 404),
    ],
)
def test_errors_over_http(server, http, method, path, status):
    response = http.request(method, f"{server.url}{path}")

    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/scim+json")
    assert response.json()["status"] == str(status)

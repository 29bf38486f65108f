"""Property, end to end through the front door and the store: a resource PATCHed and the same resource
PUT with the equivalent body serve the same representation (RFC 7644 §3.5.2 against §3.5.1).

The cases are those of the protocol-level property (``tests/unit/scim/patch_strategies.py``); here
they travel as HTTP requests and are stored by the identity host, so uniqueness, the email index,
memberships and the stored form all take part.
"""

from __future__ import annotations

import re
from typing import Any

from hypothesis import HealthCheck, given, settings

from scimsaga.scim.patch_request import PATCH_OP_SCHEMA
from tests.unit.http.conftest import BASE
from tests.unit.scim.patch_strategies import MEMBER_IDS, Case, group_cases, user_cases

PLACEHOLDER = re.compile(r"\bm(\d{1,2})\b")


def served(api, path: str) -> dict[str, Any]:
    body: dict[str, Any] = api.simulate_get(f"{BASE}/{path}").json
    return {key: value for key, value in body.items() if key not in ("id", "meta")}


def with_ids(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda match: ids.get(match.group(0), match.group(0)), value)
    if isinstance(value, list):
        return [with_ids(item, ids) for item in value]
    if isinstance(value, dict):
        return {key: with_ids(item, ids) for key, item in value.items()}
    return value


def patched_and_put(api, endpoint: str, case: Case) -> tuple[dict[str, Any], dict[str, Any]]:
    created = api.simulate_post(f"{BASE}/{endpoint}", json=case.start)
    assert created.status_code == 201, created.text
    first = created.json["id"]
    response = api.simulate_patch(
        f"{BASE}/{endpoint}/{first}", json={"schemas": [PATCH_OP_SCHEMA], "Operations": case.operations}
    )
    assert response.status_code == 200, (case.operations, response.text)
    after_patch = served(api, f"{endpoint}/{first}")
    assert api.simulate_delete(f"{BASE}/{endpoint}/{first}").status_code == 204

    second = api.simulate_post(f"{BASE}/{endpoint}", json=case.start).json["id"]
    replaced = api.simulate_put(f"{BASE}/{endpoint}/{second}", json=case.target)
    assert replaced.status_code == 200, replaced.text
    after_put = served(api, f"{endpoint}/{second}")
    assert api.simulate_delete(f"{BASE}/{endpoint}/{second}").status_code == 204
    return after_patch, after_put


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=user_cases().filter(lambda case: case.operations))
def test_a_user_patched_serves_as_the_user_put(api, case):
    after_patch, after_put = patched_and_put(api, "Users", case)

    assert after_patch == after_put, case.operations


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=group_cases().filter(lambda case: case.operations))
def test_a_group_patched_serves_as_the_group_put(api, case):
    ids = {
        placeholder: api.simulate_post(
            f"{BASE}/Users",
            json={
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": f"{placeholder}-{n}",
            },
        ).json["id"]
        for n, placeholder in enumerate(MEMBER_IDS)
    }
    real = Case(with_ids(case.start, ids), with_ids(case.target, ids), with_ids(case.operations, ids))

    after_patch, after_put = patched_and_put(api, "Groups", real)

    assert after_patch == after_put, real.operations
    for user_id in ids.values():
        api.simulate_delete(f"{BASE}/Users/{user_id}")

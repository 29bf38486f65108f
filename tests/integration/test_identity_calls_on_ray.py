"""The front door's calls to identity over Ray: made at the same time, they travel together, and each
still gets its own answer (actors/coalescing.py)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from scimsaga.scim.errors import NotFound, Uniqueness
from scimsaga.scim.resource import parse_resource
from scimsaga.scim.schema import USER, USER_SCHEMA_URN
from tests.polling import wait_until


def _user(name: str, **more: Any) -> dict[str, Any]:
    return parse_resource(USER, {"schemas": [USER_SCHEMA_URN], "userName": name, **more})


def test_calls_made_while_one_is_in_flight_share_a_ray_call_and_keep_their_own_outcomes(deployment):
    identity = deployment.identity
    coalescer = identity.coalescer
    slow = threading.Thread(  # a password is hashed with scrypt: a call that keeps identity busy a while
        target=identity.create_user, args=(_user("slow@example.com", password="correct horse"), "slow"))
    before = (coalescer.batches, coalescer.calls)
    slow.start()
    wait_until(lambda: coalescer._sending, message="the slow call in flight")

    names = [f"user{n}@example.com" for n in range(8)] + ["user0@example.com"]
    outcomes: list[Any] = [None] * len(names)

    def create(index: int) -> None:
        try:
            outcomes[index] = identity.create_user(_user(names[index]), f"test-{index}")
        except Exception as exc:
            outcomes[index] = exc

    threads = [threading.Thread(target=create, args=(index,)) for index in range(len(names))]
    for thread in threads:
        thread.start()
    for thread in [slow, *threads]:
        thread.join(60)

    batches, calls = coalescer.batches - before[0], coalescer.calls - before[1]
    assert calls == 10
    assert batches < calls
    created = [r for r in outcomes if not isinstance(r, Exception)]
    assert sorted(r.attributes["userName"] for r in created) == sorted(set(names))
    assert sum(isinstance(r, Uniqueness) for r in outcomes) == 1  # the second user0, whichever ran last
    for resource in created:
        stored = deployment.identity.get_user(resource.id)
        assert stored.attributes["userName"] == resource.attributes["userName"]


def test_a_scim_error_of_one_call_reaches_its_caller_as_itself(deployment):
    deployment.identity.create_user(_user("taken@example.com"), "first")

    with pytest.raises(Uniqueness):
        deployment.identity.create_user(_user("taken@example.com"), "second")
    with pytest.raises(NotFound):
        deployment.identity.get_user("no-such-user")

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
    real_send, line_formed = coalescer._send, threading.Event()

    def send_once_the_line_formed(calls):  # holds the first call until the others wait behind it
        line_formed.wait(30)
        return real_send(calls)

    coalescer._send = send_once_the_line_formed
    before = (coalescer.batches, coalescer.calls)
    first = threading.Thread(target=identity.create_user, args=(_user("first@example.com"), "first"))
    first.start()
    wait_until(lambda: coalescer._sending, message="the first call in flight")

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
    wait_until(lambda: len(coalescer._line) == len(names), message="every call in line")
    line_formed.set()
    for thread in [first, *threads]:
        thread.join(60)

    assert (coalescer.batches - before[0], coalescer.calls - before[1]) == (2, 10)
    assert sum(isinstance(r, Uniqueness) for r in (outcomes[0], outcomes[8])) == 1  # whichever ran last
    for index, outcome in enumerate(outcomes):
        if not isinstance(outcome, Exception):
            assert outcome.attributes["userName"] == names[index]
            assert identity.get_user(outcome.id).attributes["userName"] == names[index]
    assert all(not isinstance(r, Exception) for r in outcomes[1:8])


def test_a_scim_error_of_one_call_reaches_its_caller_as_itself(deployment):
    deployment.identity.create_user(_user("taken@example.com"), "first")

    with pytest.raises(Uniqueness):
        deployment.identity.create_user(_user("taken@example.com"), "second")
    with pytest.raises(NotFound):
        deployment.identity.get_user("no-such-user")

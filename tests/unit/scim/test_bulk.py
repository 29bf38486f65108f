"""Bulk (RFC 7644 §3.7), the protocol part: the BulkRequest message, run order, bulkId references, the
BulkResponse message. Running operations against the store is tested in tests/unit/http/test_bulk_api.py."""

from __future__ import annotations

import pytest

from scimsaga.scim.bulk import (
    BULK_REQUEST_SCHEMA,
    BULK_RESPONSE_SCHEMA,
    BulkResult,
    bulk_response,
    parse_bulk_request,
    plan,
    resolve,
    resolve_path,
    target,
)
from scimsaga.scim.errors import InvalidSyntax, InvalidValue, NotFound, PayloadTooLarge, PreconditionFailed
from scimsaga.scim.schema import GROUP, USER
from scimsaga.scim.tolerance import LENIENT, STRICT

USER_BODY = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "Alice"}

# RFC 7644 §3.7.2: a group that references, by bulkId, a user created in the same request.
RFC7644_3_7_2_USER_AND_GROUP = {
    "schemas": [BULK_REQUEST_SCHEMA],
    "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "qwerty", "data": USER_BODY},
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "ytrewq",
            "data": {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Tour Guides",
                "members": [{"type": "User", "value": "bulkId:qwerty"}],
            },
        },
    ],
}
# RFC 7644 §3.7.1: two new groups that name each other (a circle of references).
RFC7644_3_7_1_CIRCULAR = {
    "schemas": [BULK_REQUEST_SCHEMA],
    "Operations": [
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "qwerty",
            "data": {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Group A",
                "members": [{"type": "Group", "value": "bulkId:ytrewq"}],
            },
        },
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "ytrewq",
            "data": {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Group B",
                "members": [{"type": "Group", "value": "bulkId:qwerty"}],
            },
        },
    ],
}


def parsed(body, max_operations=1000, tolerances=STRICT):
    return parse_bulk_request(body, max_operations, tolerances)


def test_rfc7644_3_7_2_references_are_found_and_the_creator_runs_first():
    request = parsed(RFC7644_3_7_2_USER_AND_GROUP)

    assert request.operations[1].references == ("qwerty",)
    assert plan(request).order == (0, 1)


def test_a_reference_to_an_operation_further_down_runs_it_first():
    body = {
        "schemas": [BULK_REQUEST_SCHEMA],
        "Operations": list(reversed(RFC7644_3_7_2_USER_AND_GROUP["Operations"])),
    }

    assert plan(parsed(body)).order == (1, 0)


def test_independent_operations_keep_the_request_order():
    operations = [
        {"method": "POST", "path": "/Users", "bulkId": f"u{n}", "data": USER_BODY} for n in range(5)
    ]
    operations.insert(0, {"method": "PATCH", "path": "/Users/bulkId:u4", "data": {"Operations": []}})

    assert plan(parsed({"schemas": [BULK_REQUEST_SCHEMA], "Operations": operations})).order == (
        1,
        2,
        3,
        4,
        5,
        0,
    )


def test_rfc7644_3_7_1_a_circle_of_references_is_set_apart_with_what_waits_on_it():
    body = {
        **RFC7644_3_7_1_CIRCULAR,
        "Operations": [
            *RFC7644_3_7_1_CIRCULAR["Operations"],
            {"method": "POST", "path": "/Users", "bulkId": "free", "data": USER_BODY},
            {"method": "PATCH", "path": "/Groups/bulkId:qwerty", "data": {"Operations": []}},
        ],
    }

    order = plan(parsed(body))

    assert order.order == (2,)
    assert order.circular == frozenset({0, 1, 3})


def test_a_group_naming_itself_is_a_circle():
    body = {
        "schemas": [BULK_REQUEST_SCHEMA],
        "Operations": [
            {
                "method": "POST",
                "path": "/Groups",
                "bulkId": "me",
                "data": {"displayName": "x", "members": [{"value": "bulkId:me"}]},
            }
        ],
    }

    assert plan(parsed(body)).circular == frozenset({0})


def test_a_reference_to_no_operation_is_a_problem_of_that_operation():
    body = {
        "schemas": [BULK_REQUEST_SCHEMA],
        "Operations": [{"method": "PATCH", "path": "/Users/bulkId:nowhere", "data": {}}],
    }

    [operation] = parsed(body).operations

    assert isinstance(operation.problem, InvalidValue)
    assert "nowhere" in operation.problem.detail


@pytest.mark.parametrize(
    ("operation", "problem"),
    [
        ({"method": "GET", "path": "/Users"}, "'method'"),
        ({"method": "POST", "path": "/Users", "data": USER_BODY}, "needs a 'bulkId'"),
        ({"method": "POST", "path": "Users", "bulkId": "x", "data": USER_BODY}, "'path'"),
        ({"method": "PUT", "path": "/Users/1"}, "needs 'data'"),
        ({"method": "DELETE", "path": "/Users/1", "version": 3}, "'version'"),
        ({"method": "DELETE", "path": "/Users/1", "bulkId": ""}, "'bulkId'"),
        ({"method": "DELETE", "path": "/Users/1", "colour": "blue"}, "unknown member"),
    ],
)
def test_a_malformed_operation_fails_alone(operation, problem):
    [parsed_operation] = parsed({"schemas": [BULK_REQUEST_SCHEMA], "Operations": [operation]}).operations

    assert parsed_operation.problem is not None
    assert problem in parsed_operation.problem.detail


def test_methods_and_member_names_are_read_in_any_letter_case():
    [operation] = parsed(
        {
            "schemas": [BULK_REQUEST_SCHEMA],
            "operations": [{"METHOD": "delete", "Path": "/Users/1", "VERSION": 'W/"2"'}],
        }
    ).operations

    assert (operation.method, operation.path, operation.version, operation.problem) == (
        "DELETE",
        "/Users/1",
        'W/"2"',
        None,
    )


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ([], InvalidSyntax),
        ({"schemas": ["urn:nope"], "Operations": []}, InvalidValue),
        ({"schemas": [BULK_REQUEST_SCHEMA]}, InvalidValue),
        ({"schemas": [BULK_REQUEST_SCHEMA], "Operations": ["x"]}, InvalidSyntax),
        ({"schemas": [BULK_REQUEST_SCHEMA], "Operations": [], "failOnErrors": 0}, InvalidValue),
        ({"schemas": [BULK_REQUEST_SCHEMA], "Operations": [], "failOnErrors": True}, InvalidValue),
        ({"schemas": [BULK_REQUEST_SCHEMA], "Operations": [], "colour": "blue"}, InvalidSyntax),
        (
            {
                "schemas": [BULK_REQUEST_SCHEMA],
                "Operations": [
                    {"method": "POST", "path": "/Users", "bulkId": "a", "data": USER_BODY},
                    {"method": "POST", "path": "/Users", "bulkId": "a", "data": USER_BODY},
                ],
            },
            InvalidValue,
        ),
    ],
)
def test_a_malformed_request_fails_as_a_whole(body, error):
    with pytest.raises(error):
        parsed(body)


def test_more_operations_than_advertised_is_413():
    body = {
        "schemas": [BULK_REQUEST_SCHEMA],
        "Operations": [{"method": "DELETE", "path": f"/Users/{n}"} for n in range(4)],
    }

    with pytest.raises(PayloadTooLarge, match="maximum is 3"):
        parsed(body, max_operations=3)
    assert len(parsed(body, max_operations=4).operations) == 4


def test_the_message_schema_may_be_left_out_with_the_tolerance():
    body = {"Operations": [{"method": "DELETE", "path": "/Users/1"}]}

    assert len(parse_bulk_request(body, 10, LENIENT).operations) == 1
    with pytest.raises(InvalidValue):
        parse_bulk_request(body, 10, STRICT)


def test_references_are_replaced_wherever_they_are_whole_strings():
    data = {"members": [{"value": "bulkId:a"}, {"value": "bulkId:b"}, {"value": "xbulkId:a"}], "n": 1}

    assert resolve(data, {"a": "id-a", "b": "id-b"}) == {
        "members": [{"value": "id-a"}, {"value": "id-b"}, {"value": "xbulkId:a"}],
        "n": 1,
    }
    assert resolve_path("/Groups/bulkId:a", {"a": "id-a"}) == "/Groups/id-a"
    assert resolve_path("/Groups/bulkId:c", {"a": "id-a"}) == "/Groups/bulkId:c"


@pytest.mark.parametrize(
    ("path", "method", "expected"),
    [
        ("/Users", "POST", (USER, None)),
        ("/groups/g1", "PATCH", (GROUP, "g1")),
        ("/Users/u1/", "DELETE", (USER, "u1")),
    ],
)
def test_a_path_names_an_endpoint_and_maybe_a_resource(path, method, expected):
    assert target(path, (USER, GROUP), method) == expected


@pytest.mark.parametrize(
    ("path", "method", "error"),
    [
        ("/Printers", "POST", NotFound),
        ("/Users/u1/x", "PUT", NotFound),
        ("/Users/u1", "POST", InvalidValue),
        ("/Users", "PUT", InvalidValue),
    ],
)
def test_a_path_that_does_not_fit_the_method_fails(path, method, error):
    with pytest.raises(error):
        target(path, (USER, GROUP), method)


def test_the_response_lists_results_in_request_order_with_string_statuses():
    results = [
        BulkResult(1, "PUT", 412, error=PreconditionFailed("stale")),
        BulkResult(0, "POST", 201, "qwerty", "https://h/Users/1", 'W/"1"'),
    ]

    assert bulk_response(results) == {
        "schemas": [BULK_RESPONSE_SCHEMA],
        "Operations": [
            {
                "method": "POST",
                "bulkId": "qwerty",
                "location": "https://h/Users/1",
                "version": 'W/"1"',
                "status": "201",
            },
            {
                "method": "PUT",
                "status": "412",
                "response": {
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                    "status": "412",
                    "detail": "stale",
                },
            },
        ],
    }

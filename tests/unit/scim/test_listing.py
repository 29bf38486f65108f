"""List query parameters and the ListResponse message (RFC 7644 §3.4.2)."""

from __future__ import annotations

import pytest

from scimsaga.scim.errors import InvalidValue
from scimsaga.scim.listing import (
    DEFAULT_COUNT,
    LIST_RESPONSE_SCHEMA,
    MAX_RESULTS,
    ListQuery,
    list_response,
    parse_list_query,
)


def test_no_parameters_mean_the_first_page_of_the_default_size():
    assert parse_list_query({}) == ListQuery(filter=None, start_index=1, count=DEFAULT_COUNT,
                                             sort_by=None, sort_order="ascending")


@pytest.mark.parametrize(("raw", "start_index"), [("1", 1), ("7", 7), ("0", 1), ("-3", 1), ("", 1)])
def test_a_start_index_below_one_is_read_as_one(raw, start_index):
    """RFC 7644 §3.4.2.4: 'A value less than 1 SHALL be interpreted as 1.'"""
    assert parse_list_query({"startIndex": raw}).start_index == start_index


@pytest.mark.parametrize(("raw", "count"), [("10", 10), ("0", 0), ("-1", 0), ("-500", 0)])
def test_a_negative_count_is_read_as_zero(raw, count):
    """RFC 7644 §3.4.2.4: 'A negative value SHALL be interpreted as 0.'"""
    assert parse_list_query({"count": raw}).count == count


def test_count_is_capped_at_the_maximum():
    assert parse_list_query({"count": str(MAX_RESULTS + 1)}).count == MAX_RESULTS
    assert parse_list_query({"count": "1000000"}).count == MAX_RESULTS
    assert parse_list_query({"count": "60"}, max_results=50).count == 50
    assert parse_list_query({}, max_results=50).count == 50


@pytest.mark.parametrize(("name", "raw"), [
    ("count", "ten"), ("count", "1.5"), ("startIndex", "first"), ("startIndex", "0x10"),
])
def test_a_parameter_that_is_not_an_integer_is_invalid_value(name, raw):
    with pytest.raises(InvalidValue) as raised:
        parse_list_query({name: raw})

    assert name in raised.value.detail
    assert raw in raised.value.detail


def test_parameter_names_are_read_in_any_case():
    query = parse_list_query({"FILTER": 'userName eq "bjensen"', "STARTINDEX": "3", "Count": "5",
                              "sortby": "userName", "SortOrder": "DESCENDING"})

    assert query == ListQuery(filter='userName eq "bjensen"', start_index=3, count=5,
                              sort_by="userName", sort_order="descending")


def test_an_empty_filter_means_no_filter():
    assert parse_list_query({"filter": ""}).filter is None


def test_an_unknown_sort_order_is_invalid_value():
    with pytest.raises(InvalidValue) as raised:
        parse_list_query({"sortOrder": "sideways"})

    assert "sortOrder" in raised.value.detail


def test_list_response_has_the_shape_of_rfc7644_3_4_2():
    resources = [{"id": "a"}, {"id": "b"}]

    assert list_response(total=12, start_index=3, resources=resources) == {
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": 12,
        "startIndex": 3,
        "itemsPerPage": 2,
        "Resources": resources,
    }


def test_a_count_only_list_response_has_no_resources():
    body = list_response(total=5, start_index=1, resources=[])

    assert body["totalResults"] == 5
    assert body["itemsPerPage"] == 0
    assert body["Resources"] == []
    assert LIST_RESPONSE_SCHEMA == "urn:ietf:params:scim:api:messages:2.0:ListResponse"


@pytest.mark.parametrize("name", ["count", "startIndex", "filter", "sortOrder", "sortBy"])
def test_a_parameter_given_twice_is_invalid_value(name):
    """A web framework hands ``?count=1&count=2`` over as a list; it is refused, not a crash."""
    with pytest.raises(InvalidValue) as raised:
        parse_list_query({name: ["1", "2"]})

    assert name in raised.value.detail

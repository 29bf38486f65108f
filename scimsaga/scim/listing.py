"""Query parameters and list responses (RFC 7644 §3.4.2).

``startIndex`` is 1-based; a value below 1 is read as 1 (§3.4.2.4). A negative ``count`` is read as 0
and ``count=0`` asks for ``totalResults`` only. A page never holds more than the advertised maximum.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import InvalidSyntax, InvalidValue
from .projection import Selection, parse_selection
from .resource import StoredResource

LIST_RESPONSE_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SEARCH_REQUEST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
DEFAULT_COUNT = 100
MAX_RESULTS = 1000


@dataclass(frozen=True)
class ListQuery:
    """What a client asked of a list: filter text, paging, sorting."""

    filter: str | None = None
    start_index: int = 1
    count: int = DEFAULT_COUNT
    sort_by: str | None = None
    sort_order: str = "ascending"


@dataclass(frozen=True)
class Page:
    """One page of results and the number of all results."""

    total: int
    start_index: int
    resources: Sequence[StoredResource]


def _integer(params: Mapping[str, str], name: str, default: int) -> int:
    raw = params.get(name.lower())
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidValue(f"'{name}' must be an integer, not '{raw}'") from None


def _single_values(params: Mapping[str, str | Sequence[str]]) -> dict[str, str]:
    """Parameter names lower-cased; a parameter given more than once is refused, not guessed at."""
    lowered: dict[str, str] = {}
    for name, value in params.items():
        if not isinstance(value, str):
            raise InvalidValue(f"the query parameter '{name}' may be given only once")
        lowered[name.lower()] = value
    return lowered


def parse_list_query(params: Mapping[str, str | Sequence[str]], max_results: int = MAX_RESULTS) -> ListQuery:
    """Read RFC 7644 §3.4.2 query parameters (names are case-insensitive here, as IdPs vary).

    A web framework hands a repeated parameter over as a list of values; that is an invalid value.
    """
    lowered = _single_values(params)
    sort_order = (lowered.get("sortorder") or "ascending").lower()
    if sort_order not in {"ascending", "descending"}:
        raise InvalidValue(f"'sortOrder' must be 'ascending' or 'descending', not '{sort_order}'")
    return ListQuery(
        filter=lowered.get("filter") or None,
        start_index=max(1, _integer(lowered, "startIndex", 1)),
        count=min(max(0, _integer(lowered, "count", DEFAULT_COUNT)), max_results),
        sort_by=lowered.get("sortby") or None,
        sort_order=sort_order,
    )


def selection_parameters(params: Mapping[str, str | Sequence[str]]) -> Selection:
    """``attributes`` / ``excludedAttributes`` of a GET (RFC 7644 §3.4.2.5, §3.9)."""
    lowered = _single_values(params)
    return parse_selection(lowered.get("attributes"), lowered.get("excludedattributes"))


_SEARCH_FIELDS = {"schemas", "filter", "startindex", "count", "sortby", "sortorder", "attributes",
                  "excludedattributes"}


def parse_search_request(body: object, max_results: int = MAX_RESULTS) -> tuple[ListQuery, Selection]:
    """A ``POST .search`` body (RFC 7644 §3.4.3): the SearchRequest message, names in any letter case."""
    if not isinstance(body, dict):
        raise InvalidSyntax("a search request must be a JSON object (a SearchRequest message)")
    lowered = {str(key).lower(): value for key, value in body.items()}
    unknown = sorted(str(key) for key in body if str(key).lower() not in _SEARCH_FIELDS)
    if unknown:
        raise InvalidSyntax(f"unknown field(s) {', '.join(unknown)} in the search request")
    schemas = lowered.get("schemas")
    if schemas is not None and (not isinstance(schemas, list) or SEARCH_REQUEST_SCHEMA not in schemas):
        raise InvalidValue(f"'schemas' of a search request must be [\"{SEARCH_REQUEST_SCHEMA}\"]")
    params: dict[str, str] = {}
    for name in ("filter", "sortby", "sortorder"):
        value = lowered.get(name)
        if value is not None and not isinstance(value, str):
            raise InvalidValue(f"'{name}' must be a string")
        if value is not None:
            params[name] = value
    for name in ("startindex", "count"):
        value = lowered.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidValue(f"'{name}' must be an integer")
        if value is not None:
            params[name] = str(value)
    query = parse_list_query(params, max_results)
    return query, parse_selection(lowered.get("attributes"), lowered.get("excludedattributes"))


def list_response(total: int, start_index: int, resources: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The ListResponse message of RFC 7644 §3.4.2."""
    return {
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": len(resources),
        "Resources": list(resources),
    }

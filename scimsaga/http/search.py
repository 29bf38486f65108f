"""``POST /.search`` at the service provider's root: one query over every resource type (RFC 7644 §3.4.3).

Where the RFC is silent this decides: a filter applies to each resource type it can be read against
(``userName eq "x"`` names nothing in a Group, so Groups contribute no results), and is 400
``invalidFilter`` when it fits none; ``sortBy`` sorts each resource type that has the attribute and
the others keep their stable order; the results are the Users, then the Groups, paged as one list.
Names in ``attributes``/``excludedAttributes`` that a resource type lacks are ignored for it.
"""

from __future__ import annotations

from dataclasses import replace

import falcon

from ..ports import IdentityPort
from ..scim.errors import InvalidValue, ScimError
from ..scim.filter import parse_filter
from ..scim.listing import ListQuery, list_response, parse_search_request
from ..scim.resource import StoredResource
from ..scim.schema import ResourceType
from ..scim.sort import resolve_sort
from .resources import Representation, read_body


def _applicable(resource_types: tuple[ResourceType, ...],
                query: ListQuery) -> list[tuple[ResourceType, ListQuery]]:
    """Each resource type the query can run against, with the query it runs there."""
    plans: list[tuple[ResourceType, ListQuery]] = []
    first_error: ScimError | None = None
    for resource_type in resource_types:
        try:
            if query.filter:
                parse_filter(query.filter, resource_type)
        except ScimError as error:
            first_error = first_error or error
            continue
        plan = query
        if query.sort_by:
            try:
                resolve_sort(resource_type, query.sort_by)
            except InvalidValue:
                plan = replace(query, sort_by=None)
        plans.append((resource_type, plan))
    if not plans and first_error is not None:
        raise first_error
    if query.sort_by and all(plan.sort_by is None for _, plan in plans):
        raise InvalidValue(f"'sortBy': no resource type has the attribute '{query.sort_by}'")
    return plans


class RootSearch:
    def __init__(self, resource_types: tuple[ResourceType, ...], identity: IdentityPort,
                 representation: Representation) -> None:
        self._types = resource_types
        self._identity = identity
        self._representation = representation

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        query, selection = parse_search_request(read_body(req), self._representation.max_results)
        plans = _applicable(self._types, query)
        skip, wanted = query.start_index - 1, query.count
        total = 0
        found: list[tuple[ResourceType, StoredResource]] = []
        for resource_type, plan in plans:
            # Ask each type for what is left of the page; with nothing left, for its count alone.
            start = max(1, skip + 1 - total)
            page = self._identity.query(resource_type.name, replace(plan, start_index=start,
                                                                    count=max(0, wanted - len(found))))
            if skip >= total + page.total:
                page_resources: list[StoredResource] = []
            else:
                page_resources = list(page.resources)
            found.extend((resource_type, resource) for resource in page_resources)
            total += page.total
        resp.media = list_response(total, query.start_index, [
            self._representation.render(req, resource_type, resource, selection)
            for resource_type, resource in found])

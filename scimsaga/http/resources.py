"""``/Users`` and ``/Groups``: create (RFC 7644 §3.3), retrieve and query (§3.4.1, §3.4.2), search
(§3.4.3), replace (§3.5.1), modify (§3.5.2) and delete (§3.6), with ETags (§3.14) and ``attributes``
(§3.9).

One set of resources serves every resource type; the type decides validation, the store's kind and
the representation. Request bodies are read with the deployment's tolerances (``scim/tolerance.py``).
"""

from __future__ import annotations

from typing import Any

import falcon

from ..ports import IdentityPort
from ..scim.errors import InvalidSyntax
from ..scim.etag import representation_matches
from ..scim.listing import (
    ListQuery,
    list_response,
    parse_list_query,
    parse_search_request,
    selection_parameters,
)
from ..scim.patch_request import parse_patch
from ..scim.projection import DEFAULT, Selection, check_selection, select
from ..scim.resource import StoredResource, parse_resource, render
from ..scim.schema import ResourceType
from ..scim.tolerance import LENIENT, Tolerances


def base_url(req: falcon.Request, base_path: str) -> str:
    return f"{req.prefix}{base_path}"


def read_body(req: falcon.Request) -> Any:
    body = req.get_media(default_when_empty=None)
    if body is None:
        raise InvalidSyntax("the request body is empty; send a JSON object")
    return body


class Representation:
    """Renders stored resources for one request: absolute locations need the URL the client used."""

    def __init__(self, base_path: str, max_results: int) -> None:
        self.base_path = base_path
        self.max_results = max_results

    def render(self, req: falcon.Request, resource_type: ResourceType, resource: StoredResource,
               selection: Selection = DEFAULT) -> dict[str, Any]:
        base = base_url(req, self.base_path)
        meta = resource.meta(resource_type, base)
        body = render(resource_type, resource.id, resource.attributes, meta, base)
        return body if selection.is_default else select(resource_type, body, selection)

    def send(self, req: falcon.Request, resp: falcon.Response, resource_type: ResourceType,
             resource: StoredResource, selection: Selection = DEFAULT) -> dict[str, Any]:
        body = self.render(req, resource_type, resource, selection)
        resp.media = body
        resp.etag = resource.meta(resource_type, "").etag
        return body

    def send_page(self, req: falcon.Request, resp: falcon.Response, resource_type: ResourceType,
                  query: ListQuery, selection: Selection, identity: IdentityPort) -> None:
        page = identity.query(resource_type.name, query)
        resp.media = list_response(page.total, page.start_index,
                                   [self.render(req, resource_type, r, selection) for r in page.resources])


class _OfOneType:
    """An endpoint of one resource type, answering through the identity port."""

    def __init__(self, resource_type: ResourceType, identity: IdentityPort,
                 representation: Representation, tolerances: Tolerances = LENIENT) -> None:
        self._type = resource_type
        self._identity = identity
        self._representation = representation
        self._tolerances = tolerances


class Collection(_OfOneType):
    """``/Users``, ``/Groups``: POST creates, GET lists."""

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        selection = selection_parameters(req.params)
        check_selection(self._type, selection)
        attributes = parse_resource(self._type, read_body(req), self._tolerances)
        resource = self._identity.create(self._type.name, attributes, req.context.request_id)
        self._representation.send(req, resp, self._type, resource, selection)
        resp.status = falcon.HTTP_201
        resp.location = resource.meta(self._type, base_url(req, self._representation.base_path)).location

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        query = parse_list_query(req.params, self._representation.max_results)
        selection = selection_parameters(req.params)
        check_selection(self._type, selection)
        self._representation.send_page(req, resp, self._type, query, selection, self._identity)


class Search(_OfOneType):
    """``POST /Users/.search``, ``POST /Groups/.search`` (RFC 7644 §3.4.3)."""

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        query, selection = parse_search_request(read_body(req), self._representation.max_results)
        check_selection(self._type, selection)
        self._representation.send_page(req, resp, self._type, query, selection, self._identity)


class Item(_OfOneType):
    """``/Users/{id}``, ``/Groups/{id}``: GET, PUT, PATCH, DELETE, each under the resource's ETag."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, resource_id: str) -> None:
        selection = selection_parameters(req.params)
        check_selection(self._type, selection)
        resource = self._identity.get(self._type.name, resource_id)
        if_none_match = req.get_header("If-None-Match")
        if if_none_match is not None and representation_matches(if_none_match, resource.version,
                                                                 resource.revision):
            resp.status = falcon.HTTP_304
            resp.etag = resource.meta(self._type, "").etag
            return
        self._representation.send(req, resp, self._type, resource, selection)

    def on_put(self, req: falcon.Request, resp: falcon.Response, resource_id: str) -> None:
        selection = selection_parameters(req.params)
        check_selection(self._type, selection)
        attributes = parse_resource(self._type, read_body(req), self._tolerances)
        resource = self._identity.replace(self._type.name, resource_id, attributes, req.context.request_id,
                                          req.get_header("If-Match"))
        self._representation.send(req, resp, self._type, resource, selection)

    def on_patch(self, req: falcon.Request, resp: falcon.Response, resource_id: str) -> None:
        """RFC 7644 §3.5.2: 200 with the whole resource after the operations, as ``attributes`` asks.

        The identity store applies the operations and stores the result in one transaction, under
        ``If-Match`` when given, so concurrent writers never interleave with a PATCH.
        """
        selection = selection_parameters(req.params)
        check_selection(self._type, selection)
        request = parse_patch(self._type, read_body(req), self._tolerances)
        resource = self._identity.patch(self._type.name, resource_id, request, req.context.request_id,
                                        req.get_header("If-Match"))
        self._representation.send(req, resp, self._type, resource, selection)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, resource_id: str) -> None:
        self._identity.delete(self._type.name, resource_id, req.context.request_id,
                              req.get_header("If-Match"))
        resp.status = falcon.HTTP_204

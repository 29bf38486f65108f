"""``/Users`` (RFC 7644 §3.3 create, §3.4.1 retrieve, §3.4.2 query, §3.6 delete)."""

from __future__ import annotations

from typing import Any

import falcon

from ..ports import IdentityPort
from ..scim.errors import InvalidSyntax
from ..scim.listing import list_response, parse_list_query
from ..scim.resource import StoredResource, parse_resource, render
from ..scim.schema import USER


def base_url(req: falcon.Request, base_path: str) -> str:
    return f"{req.prefix}{base_path}"


def read_body(req: falcon.Request) -> Any:
    body = req.get_media(default_when_empty=None)
    if body is None:
        raise InvalidSyntax("the request body is empty; send a JSON object")
    return body


class Representation:
    """Renders stored users for one request: absolute locations need the URL the client used."""

    def __init__(self, base_path: str) -> None:
        self.base_path = base_path

    def render(self, req: falcon.Request, user: StoredResource) -> dict[str, Any]:
        return render(USER, user.id, user.attributes, user.meta(USER, base_url(req, self.base_path)))

    def send(self, req: falcon.Request, resp: falcon.Response, user: StoredResource) -> dict[str, Any]:
        body = self.render(req, user)
        resp.media = body
        resp.etag = body["meta"]["version"]
        return body


class UsersCollection:
    def __init__(self, identity: IdentityPort, representation: Representation) -> None:
        self._identity = identity
        self._representation = representation

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        attributes = parse_resource(USER, read_body(req))
        user = self._identity.create_user(attributes, req.context.request_id)
        body = self._representation.send(req, resp, user)
        resp.status = falcon.HTTP_201
        resp.location = body["meta"]["location"]

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        query = parse_list_query(req.params)
        page = self._identity.query_users(query)
        resp.media = list_response(page.total, page.start_index,
                                   [self._representation.render(req, u) for u in page.resources])


class UserItem:
    def __init__(self, identity: IdentityPort, representation: Representation) -> None:
        self._identity = identity
        self._representation = representation

    def on_get(self, req: falcon.Request, resp: falcon.Response, user_id: str) -> None:
        self._representation.send(req, resp, self._identity.get_user(user_id))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, user_id: str) -> None:
        self._identity.delete_user(user_id, req.context.request_id)
        resp.status = falcon.HTTP_204

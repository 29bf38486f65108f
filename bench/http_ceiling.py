"""The HTTP ceiling: a bare Falcon app that answers ``POST /scim/v2/Users`` as the front door does,
with nothing behind it.

It authenticates the bearer token, reads the JSON body, parses and validates the user with
scimsaga's protocol layer (``parse_resource``, RFC 7643 §4.1, the front door's tolerances), and
answers 201 with the rendered resource, ``Location`` and ``ETag`` (RFC 7644 §3.3). No store, no Ray:
what HTTP, Falcon, waitress and validation cost on this machine, the floor under our acknowledgement.
"""

from __future__ import annotations

import uuid
from typing import Any

import falcon

from scimsaga.http import errors, media
from scimsaga.http.middleware import BearerAuth, BodyLimit
from scimsaga.scim.resource import Meta, parse_resource, render
from scimsaga.scim.schema import USER
from scimsaga.scim.tolerance import LENIENT
from scimsaga.settings import utc_now

BASE = "/scim/v2"


class Users:
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body: Any = req.get_media(default_when_empty=None)
        attributes = parse_resource(USER, body, LENIENT)
        user_id, now = str(uuid.uuid4()), utc_now()
        location = f"{req.prefix}{BASE}/Users/{user_id}"
        meta = Meta("User", now, now, location, 1)
        resp.media = render(USER, user_id, attributes, meta, f"{req.prefix}{BASE}")
        resp.status = falcon.HTTP_201
        resp.location = location
        resp.etag = meta.etag


def create_app(token: str) -> falcon.App[falcon.Request, falcon.Response]:
    middleware: list[Any] = [BearerAuth(token, frozenset({"/healthz"})), BodyLimit(1_048_576)]
    app = falcon.App(media_type=media.SCIM_JSON, middleware=middleware)
    app.req_options.media_handlers = falcon.media.Handlers(media.handlers())
    app.resp_options.media_handlers = falcon.media.Handlers(media.handlers())
    app.req_options.default_media_type = media.SCIM_JSON
    errors.install(app)
    app.add_route(f"{BASE}/Users", Users())
    app.add_route("/healthz", Health())
    return app


class Health:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "ok"}

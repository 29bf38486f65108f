"""``create_app``: wiring only. Resources get their ports in the constructor and are shared by
waitress's worker threads, so they hold no per-request state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import falcon

from ..ports import HealthPort, IdentityPort
from . import errors, media
from .health import Health
from .middleware import BearerAuth, BodyLimit, RequestId
from .users import Representation, UserItem, UsersCollection

HEALTH_PATH = "/healthz"


@dataclass(frozen=True)
class HttpSettings:
    token: str
    base_path: str = "/scim/v2"
    max_payload_bytes: int = 1_048_576


def create_app(identity: IdentityPort, health: HealthPort,
               settings: HttpSettings) -> falcon.App[falcon.Request, falcon.Response]:
    middleware: list[Any] = [RequestId(), BearerAuth(settings.token, frozenset({HEALTH_PATH})),
                             BodyLimit(settings.max_payload_bytes)]
    app = falcon.App(media_type=media.SCIM_JSON, middleware=middleware)
    # Only JSON: Falcon's default form and multipart handlers would turn a form post into attributes.
    app.req_options.media_handlers = falcon.media.Handlers(media.handlers())
    app.resp_options.media_handlers = falcon.media.Handlers(media.handlers())
    app.req_options.default_media_type = media.SCIM_JSON
    app.req_options.strip_url_path_trailing_slash = True
    errors.install(app)

    representation = Representation(settings.base_path)
    base = settings.base_path
    app.add_route(HEALTH_PATH, Health(health))
    app.add_route(f"{base}/Users", UsersCollection(identity, representation))
    app.add_route(f"{base}/Users/{{user_id}}", UserItem(identity, representation))
    return app

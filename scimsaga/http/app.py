"""``create_app``: wiring only. Resources get their ports in the constructor and are shared by
waitress's worker threads, so they hold no per-request state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import falcon

from ..ports import HealthPort, IdentityPort, OperationsPort
from ..scim.discovery import RESOURCE_TYPES, Capabilities
from ..scim.listing import MAX_RESULTS
from ..scim.tolerance import LENIENT, STRICT, Tolerances
from . import errors, media
from .bulk import Bulk
from .dashboard_wiring import OperatorPages
from .discovery import Me, ResourceTypeItem, ResourceTypes, SchemaItem, Schemas, ServiceProviderConfig
from .health import Health
from .middleware import BearerAuth, BodyLimit, RequestId
from .resources import Collection, Item, Representation, Search
from .search import RootSearch

HEALTH_PATH = "/healthz"


@dataclass(frozen=True)
class HttpSettings:
    token: str
    base_path: str = "/scim/v2"
    max_payload_bytes: int = 1_048_576
    max_results: int = MAX_RESULTS
    bulk_max_operations: int = 1000
    strict: bool = False
    """RFC behaviour only: refuse what real IdPs send beyond the RFCs (docs/idp-compatibility.md)."""

    @property
    def tolerances(self) -> Tolerances:
        return STRICT if self.strict else LENIENT

    @property
    def capabilities(self) -> Capabilities:
        """What ServiceProviderConfig advertises: exactly what this app enforces."""
        return Capabilities(max_results=self.max_results, max_payload_bytes=self.max_payload_bytes,
                            patch=True, bulk=True, bulk_max_operations=self.bulk_max_operations)


def create_app(identity: IdentityPort, health: HealthPort, settings: HttpSettings,
               operations: OperationsPort | None = None) -> falcon.App[falcon.Request, falcon.Response]:
    operator = OperatorPages(settings.token, settings.base_path, operations)  # /metrics and /dashboard
    middleware: list[Any] = [*operator.middleware, RequestId(),
                             BearerAuth(settings.token, frozenset({HEALTH_PATH}) | operator.open_paths),
                             BodyLimit(settings.max_payload_bytes)]
    app = falcon.App(media_type=media.SCIM_JSON, middleware=middleware)
    # Only JSON: Falcon's default form and multipart handlers would turn a form post into attributes.
    app.req_options.media_handlers = falcon.media.Handlers(media.handlers())
    app.resp_options.media_handlers = falcon.media.Handlers(media.handlers())
    app.req_options.default_media_type = media.SCIM_JSON
    app.req_options.strip_url_path_trailing_slash = True
    errors.install(app)

    base = settings.base_path
    representation = Representation(base, settings.max_results)
    app.add_route(HEALTH_PATH, Health(health))
    for resource_type in RESOURCE_TYPES:
        endpoint = f"{base}{resource_type.endpoint}"
        app.add_route(endpoint, Collection(resource_type, identity, representation, settings.tolerances))
        app.add_route(f"{endpoint}/.search", Search(resource_type, identity, representation))
        app.add_route(f"{endpoint}/{{resource_id}}",
                      Item(resource_type, identity, representation, settings.tolerances))
    app.add_route(f"{base}/.search", RootSearch(RESOURCE_TYPES, identity, representation))
    app.add_route(f"{base}/ServiceProviderConfig", ServiceProviderConfig(settings.capabilities, base))
    app.add_route(f"{base}/Schemas", Schemas(RESOURCE_TYPES, base))
    app.add_route(f"{base}/Schemas/{{schema_id}}", SchemaItem(RESOURCE_TYPES, base))
    app.add_route(f"{base}/ResourceTypes", ResourceTypes(RESOURCE_TYPES, base))
    app.add_route(f"{base}/ResourceTypes/{{type_id}}", ResourceTypeItem(RESOURCE_TYPES, base))
    app.add_route(f"{base}/Me", Me())
    app.add_route(f"{base}/Bulk", Bulk(RESOURCE_TYPES, identity, representation, settings.bulk_max_operations,
                                       settings.tolerances))
    operator.add_routes(app)
    return app

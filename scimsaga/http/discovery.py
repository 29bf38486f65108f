"""``/ServiceProviderConfig``, ``/ResourceTypes``, ``/Schemas`` (RFC 7644 §4) and the endpoints this
service provider answers without implementing (``/Me``: 501, RFC 7644 §3.11).

Discovery answers GET only (other methods are 405). A ``filter`` on these endpoints is 403, as
RFC 7644 §4 asks.
"""

from __future__ import annotations

import falcon

from ..scim.discovery import (
    Capabilities,
    all_schemas,
    find_resource_type,
    find_schema,
    resource_type_document,
    schema_document,
    service_provider_config,
)
from ..scim.errors import Forbidden, NotFound, NotImplementedFeature
from ..scim.listing import list_response
from ..scim.schema import ResourceType
from .resources import base_url


def _refuse_filter(req: falcon.Request) -> None:
    if any(name.lower() == "filter" for name in req.params):
        raise Forbidden("discovery endpoints cannot be filtered (RFC 7644 §4)")


class ServiceProviderConfig:
    def __init__(self, capabilities: Capabilities, base_path: str) -> None:
        self._capabilities = capabilities
        self._base_path = base_path

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = service_provider_config(self._capabilities, base_url(req, self._base_path))


class _Described:
    """A discovery endpoint: what it describes comes from the resource types it is given."""

    def __init__(self, resource_types: tuple[ResourceType, ...], base_path: str) -> None:
        self._types = resource_types
        self._base_path = base_path


class Schemas(_Described):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        _refuse_filter(req)
        base = base_url(req, self._base_path)
        documents = [schema_document(schema, base) for schema in all_schemas(self._types)]
        resp.media = list_response(len(documents), 1, documents)


class SchemaItem(_Described):
    def on_get(self, req: falcon.Request, resp: falcon.Response, schema_id: str) -> None:
        schema = find_schema(schema_id, self._types)
        if schema is None:
            raise NotFound(f"no schema '{schema_id}'; GET /Schemas lists them")
        resp.media = schema_document(schema, base_url(req, self._base_path))


class ResourceTypes(_Described):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        _refuse_filter(req)
        base = base_url(req, self._base_path)
        documents = [resource_type_document(resource_type, base) for resource_type in self._types]
        resp.media = list_response(len(documents), 1, documents)


class ResourceTypeItem(_Described):
    def on_get(self, req: falcon.Request, resp: falcon.Response, type_id: str) -> None:
        resource_type = find_resource_type(type_id, self._types)
        if resource_type is None:
            raise NotFound(f"no resource type '{type_id}'; GET /ResourceTypes lists them")
        resp.media = resource_type_document(resource_type, base_url(req, self._base_path))


class Me:
    """``/Me`` (RFC 7644 §3.11): a bearer token here names no user, so there is no "me" to alias."""

    def _refuse(self, req: falcon.Request, resp: falcon.Response) -> None:
        raise NotImplementedFeature("/Me is not implemented: the bearer token identifies a provisioning "
                                    "client, not a user; use /Users/{id}")

    on_get = on_post = on_put = on_patch = on_delete = _refuse


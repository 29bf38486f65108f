"""Discovery documents (RFC 7644 §4, RFC 7643 §5-§7), generated from the schema definitions.

``/Schemas`` and ``/ResourceTypes`` print the very ``Schema`` and ``ResourceType`` objects the
validator, the filter and the store read, so what is advertised is what is enforced.
``ServiceProviderConfig`` says what this service provider implements, from :class:`Capabilities`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .schema import GROUP, USER, ResourceType, Schema

SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SERVICE_PROVIDER_CONFIG_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
DOCUMENTATION_URI = "https://datatracker.ietf.org/doc/html/rfc7644"

RESOURCE_TYPES: tuple[ResourceType, ...] = (USER, GROUP)


@dataclass(frozen=True)
class Capabilities:
    """What the service provider implements (RFC 7643 §5); each field is advertised as it is."""

    max_results: int
    max_payload_bytes: int
    patch: bool = False
    bulk: bool = False
    bulk_max_operations: int = 0
    change_password: bool = True
    sort: bool = True
    etag: bool = True


def all_schemas(resource_types: Sequence[ResourceType] = RESOURCE_TYPES) -> list[Schema]:
    """Every schema of the resource types, each once, core schemas first."""
    seen: dict[str, Schema] = {}
    for resource_type in resource_types:
        for schema in resource_type.schemas():
            seen.setdefault(schema.id, schema)
    return list(seen.values())


def schema_document(schema: Schema, base_url: str) -> dict[str, Any]:
    """A ``Schema`` resource (RFC 7643 §7); the common attributes are not listed, as §7 says."""
    return {
        "schemas": [SCHEMA_SCHEMA],
        "id": schema.id,
        "name": schema.name,
        "description": schema.description,
        "attributes": [attribute.to_dict() for attribute in schema.attributes],
        "meta": {"resourceType": "Schema", "location": f"{base_url}/Schemas/{schema.id}"},
    }


def resource_type_document(resource_type: ResourceType, base_url: str) -> dict[str, Any]:
    """A ``ResourceType`` resource (RFC 7643 §6)."""
    return {
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": resource_type.id,
        "name": resource_type.name,
        "endpoint": resource_type.endpoint,
        "description": resource_type.description,
        "schema": resource_type.schema.id,
        "schemaExtensions": [{"schema": ext.schema.id, "required": ext.required}
                             for ext in resource_type.extensions],
        "meta": {"resourceType": "ResourceType", "location": f"{base_url}/ResourceTypes/{resource_type.id}"},
    }


def service_provider_config(capabilities: Capabilities, base_url: str) -> dict[str, Any]:
    """The ``ServiceProviderConfig`` resource (RFC 7643 §5)."""
    return {
        "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA],
        "documentationUri": DOCUMENTATION_URI,
        "patch": {"supported": capabilities.patch},
        "bulk": {"supported": capabilities.bulk, "maxOperations": capabilities.bulk_max_operations,
                 "maxPayloadSize": capabilities.max_payload_bytes},
        "filter": {"supported": True, "maxResults": capabilities.max_results},
        "changePassword": {"supported": capabilities.change_password},
        "sort": {"supported": capabilities.sort},
        "etag": {"supported": capabilities.etag},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with a bearer token (RFC 6750): "
                           "'Authorization: Bearer <token>' on every request.",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": True,
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": f"{base_url}/ServiceProviderConfig"},
    }


def find_schema(schema_id: str, resource_types: Sequence[ResourceType] = RESOURCE_TYPES) -> Schema | None:
    """The schema whose URN is ``schema_id`` (case-insensitive), or None."""
    return next((s for s in all_schemas(resource_types) if s.id.lower() == schema_id.lower()), None)


def find_resource_type(type_id: str,
                       resource_types: Sequence[ResourceType] = RESOURCE_TYPES) -> ResourceType | None:
    """The resource type whose id is ``type_id`` (case-insensitive), or None."""
    return next((r for r in resource_types if r.id.lower() == type_id.lower()), None)

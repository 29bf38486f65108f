"""Schema definitions as data: the one source of truth for validation, filtering and discovery.

The attribute characteristics follow RFC 7643 §2.2 and §7; the User, EnterpriseUser and Group schemas
follow RFC 7643 §4 and §8.7.1. The provisioning extension is scimsaga's own read-only view of a user's
saga.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from enum import Enum
from functools import cached_property


class AttributeType(str, Enum):
    """Data types of RFC 7643 §2.3."""

    STRING = "string"
    BOOLEAN = "boolean"
    DECIMAL = "decimal"
    INTEGER = "integer"
    DATETIME = "dateTime"
    BINARY = "binary"
    REFERENCE = "reference"
    COMPLEX = "complex"


class Mutability(str, Enum):
    """RFC 7643 §7 ``mutability``."""

    READ_ONLY = "readOnly"
    READ_WRITE = "readWrite"
    IMMUTABLE = "immutable"
    WRITE_ONLY = "writeOnly"


class Returned(str, Enum):
    """RFC 7643 §7 ``returned``."""

    ALWAYS = "always"
    NEVER = "never"
    DEFAULT = "default"
    REQUEST = "request"


class Uniqueness(str, Enum):
    """RFC 7643 §7 ``uniqueness``."""

    NONE = "none"
    SERVER = "server"
    GLOBAL = "global"


class _CachedHash:
    """Frozen definitions are dictionary keys on every request: hash the tree once, not each time."""

    def __hash__(self) -> int:
        cached: int | None = self.__dict__.get("_hash")
        if cached is None:
            cached = hash(tuple(getattr(self, f.name) for f in fields(self)))  # type: ignore[arg-type]
            self.__dict__["_hash"] = cached
        return cached


@dataclass(frozen=True)
class Attribute(_CachedHash):
    """One attribute definition with the characteristics of RFC 7643 §2.2."""

    __hash__ = _CachedHash.__hash__

    name: str
    type: AttributeType = AttributeType.STRING
    multi_valued: bool = False
    description: str = ""
    required: bool = False
    case_exact: bool = False
    mutability: Mutability = Mutability.READ_WRITE
    returned: Returned = Returned.DEFAULT
    uniqueness: Uniqueness = Uniqueness.NONE
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()
    sub_attributes: tuple[Attribute, ...] = ()

    @cached_property
    def sub_attributes_by_key(self) -> dict[str, Attribute]:
        """Sub-attributes keyed by lower-cased name: attribute names are case-insensitive (§2.1)."""
        return {sub.name.lower(): sub for sub in self.sub_attributes}

    def sub_attribute(self, name: str) -> Attribute | None:
        """The sub-attribute called ``name`` in any letter case, or None."""
        return self.sub_attributes_by_key.get(name.lower())

    def to_dict(self) -> dict[str, object]:
        """The attribute as it appears in a ``Schemas`` resource (RFC 7643 §7)."""
        out: dict[str, object] = {
            "name": self.name,
            "type": self.type.value,
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
        }
        if self.type == AttributeType.COMPLEX:
            out["subAttributes"] = [sub.to_dict() for sub in self.sub_attributes]
        else:
            out["caseExact"] = self.case_exact
        if self.canonical_values:
            out["canonicalValues"] = list(self.canonical_values)
        if self.reference_types:
            out["referenceTypes"] = list(self.reference_types)
        out["mutability"] = self.mutability.value
        out["returned"] = self.returned.value
        out["uniqueness"] = self.uniqueness.value
        return out


@dataclass(frozen=True)
class Schema(_CachedHash):
    """A schema (RFC 7643 §7): its URN id and attributes."""

    __hash__ = _CachedHash.__hash__

    id: str
    name: str
    description: str
    attributes: tuple[Attribute, ...]

    @cached_property
    def attributes_by_key(self) -> dict[str, Attribute]:
        return {attribute.name.lower(): attribute for attribute in self.attributes}

    def attribute(self, name: str) -> Attribute | None:
        """The top-level attribute called ``name`` in any letter case, or None."""
        return self.attributes_by_key.get(name.lower())


@dataclass(frozen=True)
class SchemaExtension:
    """An extension schema attached to a resource type, and whether resources must carry it."""

    schema: Schema
    required: bool = False


@dataclass(frozen=True)
class ResourceType(_CachedHash):
    """A resource type (RFC 7643 §6): endpoint, core schema and extensions."""

    __hash__ = _CachedHash.__hash__

    id: str
    name: str
    endpoint: str
    description: str
    schema: Schema
    extensions: tuple[SchemaExtension, ...] = field(default_factory=tuple)

    @cached_property
    def extensions_by_urn(self) -> dict[str, Schema]:
        return {ext.schema.id.lower(): ext.schema for ext in self.extensions}

    @cached_property
    def urn_names(self) -> dict[str, str]:
        """Lower-cased URN to canonical URN, for every schema a resource of this type may list."""
        return {schema.id.lower(): schema.id for schema in self.schemas()}

    @cached_property
    def schema_urns(self) -> frozenset[str]:
        """Every schema URN a resource of this type may list, lower-cased."""
        return frozenset({self.schema.id.lower(), *self.extensions_by_urn})

    def extension(self, urn: str) -> Schema | None:
        """The extension schema whose URN is ``urn`` (case-insensitive), or None."""
        return self.extensions_by_urn.get(urn.lower())

    def schemas(self) -> Iterator[Schema]:
        """The core schema, then each extension."""
        yield self.schema
        for ext in self.extensions:
            yield ext.schema


# --- building blocks -----------------------------------------------------------------------------

_S = AttributeType.STRING
_B = AttributeType.BOOLEAN
_REF = AttributeType.REFERENCE
_RO = Mutability.READ_ONLY


def _multi_valued(
    name: str,
    description: str,
    *,
    value_type: AttributeType = _S,
    canonical_types: tuple[str, ...] = (),
    reference_types: tuple[str, ...] = (),
    mutability: Mutability = Mutability.READ_WRITE,
) -> Attribute:
    """A multi-valued complex attribute with the sub-attributes of RFC 7643 §2.4."""
    return Attribute(
        name,
        AttributeType.COMPLEX,
        multi_valued=True,
        description=description,
        mutability=mutability,
        sub_attributes=(
            Attribute("value", value_type, description="The value.", mutability=mutability,
                      reference_types=reference_types),
            Attribute("display", description="A human-readable name, primarily for display.",
                      mutability=mutability),
            Attribute("type", description="A label indicating the attribute's function.",
                      canonical_values=canonical_types, mutability=mutability),
            Attribute("primary", _B, description="Whether this is the primary value.",
                      mutability=mutability),
        ),
    )


ID = Attribute(
    "id", description="Unique identifier of the resource, assigned by the service provider.",
    case_exact=True, mutability=_RO, returned=Returned.ALWAYS, uniqueness=Uniqueness.SERVER,
)
EXTERNAL_ID = Attribute(
    "externalId", description="Identifier of the resource as defined by the provisioning client.",
    case_exact=True,
)
META = Attribute(
    "meta", AttributeType.COMPLEX, description="Resource metadata.", mutability=_RO,
    sub_attributes=(
        Attribute("resourceType", description="The name of the resource type.", case_exact=True,
                  mutability=_RO),
        Attribute("created", AttributeType.DATETIME, description="When the resource was added.",
                  mutability=_RO),
        Attribute("lastModified", AttributeType.DATETIME,
                  description="When the resource was last changed.", mutability=_RO),
        Attribute("location", _REF, description="The URI of the resource.", case_exact=True,
                  mutability=_RO, reference_types=("uri",)),
        Attribute("version", description="The version (ETag) of the resource.", case_exact=True,
                  mutability=_RO),
    ),
)
COMMON_ATTRIBUTES = (ID, EXTERNAL_ID, META)
"""The common attributes of RFC 7643 §3.1, part of every resource."""


# --- RFC 7643 §4.1: User -----------------------------------------------------------------------

USER_SCHEMA_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PROVISIONING_URN = "urn:scimsaga:params:scim:schemas:extension:provisioning:2.0:User"
GROUP_SCHEMA_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"

USER_SCHEMA = Schema(
    id=USER_SCHEMA_URN,
    name="User",
    description="User Account",
    attributes=(
        Attribute("userName", required=True, uniqueness=Uniqueness.SERVER,
                  description="Unique identifier for the User, used to authenticate."),
        Attribute("name", AttributeType.COMPLEX, description="The components of the user's name.",
                  sub_attributes=(
                      Attribute("formatted", description="The full name, formatted for display."),
                      Attribute("familyName", description="The family name."),
                      Attribute("givenName", description="The given name."),
                      Attribute("middleName", description="The middle name(s)."),
                      Attribute("honorificPrefix", description="Honorific prefix, e.g. 'Ms.'."),
                      Attribute("honorificSuffix", description="Honorific suffix, e.g. 'III'."),
                  )),
        Attribute("displayName", description="The name of the User, suitable for display."),
        Attribute("nickName", description="The casual way to address the user."),
        Attribute("profileUrl", _REF, reference_types=("external",),
                  description="A URI of the user's online profile."),
        Attribute("title", description="The user's title, such as 'Vice President'."),
        Attribute("userType", description="The relationship between organization and user."),
        Attribute("preferredLanguage", description="Preferred written or spoken language."),
        Attribute("locale", description="Default location, for localizing items such as currency."),
        Attribute("timezone", description="Time zone in the IANA 'Olson' format."),
        Attribute("active", _B, description="The user's administrative status."),
        Attribute("password", mutability=Mutability.WRITE_ONLY, returned=Returned.NEVER,
                  description="The user's cleartext password; never returned."),
        _multi_valued("emails", "Email addresses for the user.",
                      canonical_types=("work", "home", "other")),
        _multi_valued("phoneNumbers", "Phone numbers for the user.",
                      canonical_types=("work", "home", "mobile", "fax", "pager", "other")),
        _multi_valued("ims", "Instant messaging addresses for the user.",
                      canonical_types=("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo")),
        _multi_valued("photos", "URLs of photos of the user.", value_type=_REF,
                      canonical_types=("photo", "thumbnail"), reference_types=("external",)),
        Attribute("addresses", AttributeType.COMPLEX, multi_valued=True,
                  description="A physical mailing address for this user.",
                  sub_attributes=(
                      Attribute("formatted", description="The full mailing address."),
                      Attribute("streetAddress", description="The full street address."),
                      Attribute("locality", description="The city or locality."),
                      Attribute("region", description="The state or region."),
                      Attribute("postalCode", description="The zip code or postal code."),
                      Attribute("country", description="The country name (ISO 3166-1 alpha-2)."),
                      Attribute("type", description="A label indicating the address's function.",
                                canonical_values=("work", "home", "other")),
                      Attribute("primary", _B, description="Whether this is the primary address."),
                  )),
        Attribute("groups", AttributeType.COMPLEX, multi_valued=True, mutability=_RO,
                  description="Groups the user belongs to, computed from group memberships.",
                  sub_attributes=(
                      Attribute("value", description="The id of the group.", mutability=_RO),
                      Attribute("$ref", _REF, reference_types=("User", "Group"), mutability=_RO,
                                description="The URI of the group."),
                      Attribute("display", description="The group's display name.", mutability=_RO),
                      Attribute("type", canonical_values=("direct", "indirect"), mutability=_RO,
                                description="Direct or indirect membership."),
                  )),
        _multi_valued("entitlements", "Entitlements of the user."),
        _multi_valued("roles", "Roles of the user."),
        _multi_valued("x509Certificates", "X.509 certificates of the user.",
                      value_type=AttributeType.BINARY),
    ),
)

ENTERPRISE_USER_SCHEMA = Schema(
    id=ENTERPRISE_USER_URN,
    name="EnterpriseUser",
    description="Enterprise User",
    attributes=(
        Attribute("employeeNumber", description="Identifier assigned by the organization."),
        Attribute("costCenter", description="The name of a cost center."),
        Attribute("organization", description="The name of an organization."),
        Attribute("division", description="The name of a division."),
        Attribute("department", description="The name of a department."),
        Attribute("manager", AttributeType.COMPLEX, description="The user's manager.",
                  sub_attributes=(
                      Attribute("value", description="The id of the manager's User resource."),
                      Attribute("$ref", _REF, reference_types=("User",),
                                description="The URI of the manager's User resource."),
                      Attribute("displayName", mutability=_RO,
                                description="The manager's display name."),
                  )),
    ),
)

PROVISIONING_SCHEMA = Schema(
    id=PROVISIONING_URN,
    name="Provisioning",
    description="How far the user's provisioning saga has got across the services (read-only).",
    attributes=(
        Attribute("state", mutability=_RO, case_exact=True,
                  canonical_values=("pending", "active", "failed", "compensated"),
                  description="pending until every service is provisioned, then active; failed or "
                              "compensated when a step failed for good."),
        Attribute("services", AttributeType.COMPLEX, multi_valued=True, mutability=_RO,
                  description="One entry per service the user is provisioned to.",
                  sub_attributes=(
                      Attribute("name", mutability=_RO, case_exact=True,
                                description="The service."),
                      Attribute("state", mutability=_RO, case_exact=True,
                                canonical_values=("pending", "done", "failed", "compensated"),
                                description="The state of this service's step."),
                      Attribute("reference", mutability=_RO, case_exact=True,
                                description="The service's own identifier, e.g. a customer id."),
                      Attribute("error", mutability=_RO, description="Why the step failed."),
                  )),
    ),
)

GROUP_SCHEMA = Schema(
    id=GROUP_SCHEMA_URN,
    name="Group",
    description="Group",
    attributes=(
        Attribute("displayName", required=True, uniqueness=Uniqueness.SERVER,
                  description="A human-readable name for the Group."),
        Attribute("members", AttributeType.COMPLEX, multi_valued=True, description="Members of the Group.",
                  sub_attributes=(
                      Attribute("value", mutability=Mutability.IMMUTABLE, case_exact=True,
                                description="The id of the member resource."),
                      Attribute("$ref", _REF, reference_types=("User", "Group"),
                                mutability=Mutability.IMMUTABLE, description="The URI of the member."),
                      Attribute("display", description="The member's display name."),
                      Attribute("type", canonical_values=("User", "Group"),
                                mutability=Mutability.IMMUTABLE, description="The type of member."),
                  )),
    ),
)

USER = ResourceType(
    id="User",
    name="User",
    endpoint="/Users",
    description="User Account",
    schema=USER_SCHEMA,
    extensions=(SchemaExtension(ENTERPRISE_USER_SCHEMA), SchemaExtension(PROVISIONING_SCHEMA)),
)

GROUP = ResourceType(
    id="Group",
    name="Group",
    endpoint="/Groups",
    description="Group",
    schema=GROUP_SCHEMA,
)


def find_attribute(resource_type: ResourceType, path: str) -> tuple[Schema, Attribute, Attribute | None]:
    """Resolve an attribute path like ``name.givenName`` or a URN-qualified one (RFC 7644 §3.10).

    Returns the schema, the top-level attribute and the sub-attribute (or None). Raises KeyError
    when the path names nothing in this resource type.
    """
    schema = resource_type.schema
    rest = path
    lowered = path.lower()
    for candidate in resource_type.schemas():
        urn = candidate.id.lower()
        if lowered.startswith(urn + ":"):
            schema, rest = candidate, path[len(urn) + 1:]
            break
    head, _, tail = rest.partition(".")
    attribute = schema.attribute(head)
    if attribute is None and schema is resource_type.schema:
        attribute = next((a for a in COMMON_ATTRIBUTES if a.name.lower() == head.lower()), None)
    if attribute is None:
        raise KeyError(path)
    if not tail:
        return schema, attribute, None
    sub = attribute.sub_attribute(tail)
    if sub is None:
        raise KeyError(path)
    return schema, attribute, sub

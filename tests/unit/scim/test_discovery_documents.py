"""Discovery documents from the schema definitions (RFC 7643 §5-§7), and PUT's immutability rule
(RFC 7644 §3.5.1) checked against a schema made for the purpose."""

from __future__ import annotations

import pytest

from scimsaga.scim.discovery import (
    Capabilities,
    all_schemas,
    find_resource_type,
    find_schema,
    resource_type_document,
    schema_document,
    service_provider_config,
)
from scimsaga.scim.errors import Mutability as MutabilityError
from scimsaga.scim.resource import keep_immutable, parse_resource
from scimsaga.scim.schema import (
    GROUP,
    USER,
    Attribute,
    AttributeType,
    Mutability,
    ResourceType,
    Schema,
    SchemaExtension,
)


def test_every_schema_of_every_resource_type_is_listed_once():
    assert [s.name for s in all_schemas()] == ["User", "EnterpriseUser", "Provisioning", "Group"]
    assert find_schema(USER.schema.id.upper()) is USER.schema
    assert find_resource_type("group") is GROUP
    assert find_schema("urn:nope") is None


def test_a_schema_document_carries_every_characteristic():
    document = schema_document(GROUP.schema, "https://h/scim/v2")
    members = next(a for a in document["attributes"] if a["name"] == "members")

    assert document["meta"] == {
        "resourceType": "Schema",
        "location": f"https://h/scim/v2/Schemas/{GROUP.schema.id}",
    }
    assert {sub["name"]: sub["mutability"] for sub in members["subAttributes"]} == {
        "value": "immutable",
        "$ref": "immutable",
        "display": "readWrite",
        "type": "immutable",
    }
    assert members["multiValued"] is True


def test_the_config_says_what_the_capabilities_say():
    config = service_provider_config(
        Capabilities(max_results=50, max_payload_bytes=10, patch=True), "https://h"
    )

    assert config["filter"]["maxResults"] == 50
    assert config["patch"]["supported"] is True
    assert config["bulk"]["maxPayloadSize"] == 10
    assert resource_type_document(USER, "https://h")["schemaExtensions"][0]["required"] is False


THING = Schema(
    "urn:test:Thing",
    "Thing",
    "",
    (
        Attribute("serial", mutability=Mutability.IMMUTABLE),
        Attribute("label"),
        Attribute(
            "origin",
            AttributeType.COMPLEX,
            sub_attributes=(Attribute("country", mutability=Mutability.IMMUTABLE), Attribute("city")),
        ),
    ),
)
TAGS = Schema("urn:test:Tags", "Tags", "", (Attribute("batch", mutability=Mutability.IMMUTABLE),))
THINGS = ResourceType("Thing", "Thing", "/Things", "", THING, (SchemaExtension(TAGS),))


def thing(**attributes):
    return parse_resource(THINGS, {"schemas": ["urn:test:Thing", "urn:test:Tags"], **attributes})


def test_an_immutable_value_may_be_repeated_or_left_out_but_not_changed():
    current = thing(
        serial="S1", origin={"country": "NZ", "city": "Nelson"}, **{"urn:test:Tags": {"batch": "B"}}
    )

    kept = keep_immutable(THINGS, current, thing(label="new", origin={"city": "Napier"}))

    assert kept["serial"] == "S1"
    assert kept["origin"] == {"city": "Napier", "country": "NZ"}
    assert kept["urn:test:Tags"] == {"batch": "B"}
    assert keep_immutable(THINGS, current, thing(serial="S1"))["serial"] == "S1"
    for changed in (
        thing(serial="S2"),
        thing(origin={"country": "AU"}),
        thing(**{"urn:test:Tags": {"batch": "C"}}),
    ):
        with pytest.raises(MutabilityError):
            keep_immutable(THINGS, current, changed)


def test_an_immutable_value_not_yet_set_may_be_set_by_a_replacement():
    assert keep_immutable(THINGS, thing(label="x"), thing(serial="S9"))["serial"] == "S9"

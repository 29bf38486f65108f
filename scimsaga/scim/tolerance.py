"""What real identity providers send that RFC 7643/7644 do not quite describe, and which of it we accept.

Each field of :class:`Tolerances` is one documented IdP habit (``docs/idp-compatibility.md`` gives the
case, the source and the decision). ``LENIENT`` (every tolerance on) is the default of a deployment;
``STRICT`` (every tolerance off) is RFC behaviour only, for ``scimsaga up --strict``. A tolerance widens
what is accepted and never what is dropped: a request it accepts is applied in full, and one it cannot
apply in full is still an error.

The helpers here are the value-level coercions the tolerances allow; the request parsers
(``resource.py``, ``patch_request.py``, ``bulk.py``) call them where a value does not fit as sent.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from .schema import Attribute, AttributeType


@dataclass(frozen=True)
class Tolerances:
    """Which IdP habits to accept; every field names one, and ``True`` accepts it."""

    op_name_case: bool = True
    """Entra ID: PATCH ``op`` as ``"Add"``, ``"Replace"``, ``"Remove"`` (RFC 7644 §3.5.2 spells them
    in lower case)."""

    string_booleans: bool = True
    """Entra ID: a boolean attribute sent as the string ``"True"``/``"False"`` (any letter case)."""

    filtered_path_creates: bool = True
    """Entra ID: ``add``/``replace`` on ``emails[type eq "work"].value`` when no work email exists yet
    creates it (``type`` from the filter, ``value`` from the operation) instead of 400 ``noTarget``."""

    remove_by_value: bool = True
    """Entra ID: ``remove`` on ``members`` with a ``value`` list of the members to remove, instead of
    a ``members[value eq "..."]`` filter."""

    absent_removal_is_noop: bool = True
    """Entra ID and Okta: removing a value that is already gone (a member removed meanwhile) succeeds
    and changes nothing, instead of 400 ``noTarget``."""

    bare_reference: bool = True
    """Entra ID: ``manager`` (a complex attribute with a ``value``) given as the bare id string."""

    unknown_schema_urns: bool = True
    """Entra ID: ``schemas`` listing a URN this server does not know (Entra's ADSCIM Group schema) while
    the body carries no attribute under it."""

    read_only_echo: bool = True
    """Okta: a PATCH value carrying read-only attributes (the group's own ``id``, ``meta``): ignored as a
    PUT ignores them, as long as ``id`` names the resource being patched."""

    single_value_as_list: bool = True
    """Other clients: one complex value (an object) where a multi-valued attribute expects a list."""

    message_schema_optional: bool = True
    """Other clients: a PatchOp or BulkRequest message without its ``schemas`` member."""


LENIENT = Tolerances()
STRICT = Tolerances(**{f.name: False for f in fields(Tolerances)})

_BOOLEAN_WORDS = {"true": True, "false": False}


def coerce_boolean(value: Any, tolerances: Tolerances) -> Any:
    """``"True"``/``"false"`` as the boolean it spells, when allowed; any other value as it is."""
    if tolerances.string_booleans and isinstance(value, str):
        found = _BOOLEAN_WORDS.get(value.lower())
        if found is not None:
            return found
    return value


def wraps_single_value(attribute: Attribute, value: Any, tolerances: Tolerances) -> bool:
    """Whether ``value`` is one complex value sent for a multi-valued complex attribute, to be read as a
    list of that one value."""
    return (tolerances.single_value_as_list and attribute.multi_valued
            and attribute.type == AttributeType.COMPLEX and isinstance(value, dict))


def bare_reference(attribute: Attribute, value: Any, tolerances: Tolerances) -> dict[str, Any] | None:
    """A bare id string sent for a single-valued complex attribute with a ``value`` sub-attribute
    (``manager``), as the complex value it means; None when that reading does not apply."""
    if (tolerances.bare_reference and isinstance(value, str) and not attribute.multi_valued
            and attribute.type == AttributeType.COMPLEX and attribute.sub_attribute("value") is not None):
        return {"value": value}
    return None

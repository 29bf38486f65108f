"""Bulk operations (RFC 7644 §3.7), the protocol part: the BulkRequest message, the order to run its
operations in, ``bulkId`` references, and the BulkResponse message.

Running the operations needs the store and belongs to the front door (``http/bulk.py``); everything
here is pure. Where RFC 7644 leaves room, this module decides:

* Operations run in request order, except that an operation naming ``bulkId:x`` runs after the one
  that creates ``x`` (§3.7.2), wherever that one stands in the request. A circle of references (two
  new groups naming each other, a group naming itself) is refused: each operation on it answers 409
  (§3.7.1 allows a provider to stop there), and so does an operation whose reference names a
  resource that was not created because its operation failed.
* A reference to a ``bulkId`` that no operation defines is 400 ``invalidValue`` for that operation;
  two operations with the same ``bulkId`` make the whole request 400 ``invalidValue``.
* ``bulkId:x`` is replaced wherever it is a whole JSON string in ``data`` (member values, a manager's
  value) and where it is the resource id in ``path`` (``/Groups/bulkId:x``).
* ``method`` is read in any letter case; ``POST`` needs a ``bulkId`` (§3.7: REQUIRED) and ``data``.
* More operations than ``maxOperations`` is 413 for the whole request (§3.7.4). ``failOnErrors``
  must be a positive integer; once that many operations failed, the rest are not run and are left
  out of the response (§3.7.3).
* The response lists the operations that ran in request order, each with ``status`` as a string
  (as in §3.7's examples), ``location`` and ``version`` when there is a resource, and the SCIM error
  as ``response`` when it failed.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidSyntax, InvalidValue, NotFound, PayloadTooLarge, ScimError
from .schema import ResourceType
from .tolerance import STRICT, Tolerances

BULK_REQUEST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
METHODS = ("POST", "PUT", "PATCH", "DELETE")
REFERENCE = "bulkId:"
_MESSAGE_MEMBERS = frozenset({"schemas", "operations", "failonerrors"})
_OPERATION_MEMBERS = frozenset({"method", "path", "bulkid", "version", "data"})


@dataclass(frozen=True)
class BulkOperation:
    """One operation of a BulkRequest; ``problem`` is why it cannot run, found while reading it."""

    index: int
    method: str
    path: str
    bulk_id: str | None = None
    version: str | None = None
    data: Any = None
    references: tuple[str, ...] = ()
    problem: ScimError | None = None


@dataclass(frozen=True)
class BulkRequest:
    operations: tuple[BulkOperation, ...]
    fail_on_errors: int | None = None


@dataclass(frozen=True)
class BulkPlan:
    """``order``: the operations that can run, each after those it references; ``circular``: those in
    (or behind) a circle of references, which cannot."""

    order: tuple[int, ...]
    circular: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True)
class BulkResult:
    """What one operation came to (RFC 7644 §3.7.3)."""

    index: int
    method: str
    status: int
    bulk_id: str | None = None
    location: str | None = None
    version: str | None = None
    error: ScimError | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method}
        if self.bulk_id is not None:
            out["bulkId"] = self.bulk_id
        if self.location is not None:
            out["location"] = self.location
        if self.version is not None:
            out["version"] = self.version
        out["status"] = str(self.status)
        if self.error is not None:
            out["response"] = self.error.to_dict()
        return out


# --- reading the request ---------------------------------------------------------------------------


def parse_bulk_request(body: object, max_operations: int, tolerances: Tolerances = STRICT) -> BulkRequest:
    """Read a BulkRequest message (RFC 7644 §3.7); 413 beyond ``max_operations``."""
    if not isinstance(body, dict):
        raise InvalidSyntax("a bulk request must be a JSON object: a BulkRequest message with 'Operations'")
    members = _lowered(body, _MESSAGE_MEMBERS, "the BulkRequest message")
    schemas = members.get("schemas")
    if not (schemas is None and tolerances.message_schema_optional) and (
            not isinstance(schemas, list) or BULK_REQUEST_SCHEMA not in schemas):
        raise InvalidValue(f"'schemas' of a bulk request must be [\"{BULK_REQUEST_SCHEMA}\"]")
    operations = members.get("operations")
    if not isinstance(operations, list):
        raise InvalidValue("'Operations' must be a list of operations (RFC 7644 §3.7)")
    if len(operations) > max_operations:
        raise PayloadTooLarge(f"the bulk request has {len(operations)} operations; the maximum is "
                              f"{max_operations} (see maxOperations in /ServiceProviderConfig)")
    fail_on_errors = members.get("failonerrors")
    if fail_on_errors is not None and (isinstance(fail_on_errors, bool) or not isinstance(fail_on_errors, int)
                                       or fail_on_errors < 1):
        raise InvalidValue(f"'failOnErrors' must be a positive integer, not {fail_on_errors!r}")
    parsed = [_operation(index, operation) for index, operation in enumerate(operations)]
    defined: dict[str, int] = {}
    for operation in parsed:
        if operation.bulk_id is not None:
            if operation.bulk_id in defined:
                first = defined[operation.bulk_id] + 1
                raise InvalidValue(f"bulkId '{operation.bulk_id}' is used by operations {first} and "
                                   f"{operation.index + 1}; each must be unique in a request")
            defined[operation.bulk_id] = operation.index
    return BulkRequest(tuple(_check_references(operation, defined) for operation in parsed), fail_on_errors)


def _lowered(body: Mapping[Any, Any], known: frozenset[str], what: str) -> dict[str, Any]:
    lowered: dict[str, Any] = {}
    for key, value in body.items():
        name = str(key).lower()
        if name not in known:
            raise InvalidSyntax(f"unknown member '{key}' in {what}")
        lowered[name] = value
    return lowered


def _operation(index: int, raw: object) -> BulkOperation:
    if not isinstance(raw, dict):
        raise InvalidSyntax(f"operation {index + 1} of the bulk request must be a JSON object")
    try:
        members = _lowered(raw, _OPERATION_MEMBERS, f"operation {index + 1}")
    except InvalidSyntax as error:
        return BulkOperation(index, str(raw.get("method", "")), "", problem=error)
    method = members.get("method")
    path = members.get("path")
    bulk_id = members.get("bulkid")
    version = members.get("version")
    data = members.get("data")
    method_name = method.upper() if isinstance(method, str) else ""
    bulk_text = bulk_id if isinstance(bulk_id, str) else None
    problem: ScimError | None = None
    if method_name not in METHODS:
        problem = InvalidSyntax(f"'method' must be one of {', '.join(METHODS)}, not {method!r}")
    elif not isinstance(path, str) or not path.startswith("/"):
        problem = InvalidSyntax(f"'path' must be relative to the SCIM root, like '/Users', not {path!r}")
    elif bulk_id is not None and (not isinstance(bulk_id, str) or not bulk_id):
        problem = InvalidSyntax(f"'bulkId' must be a non-empty string, not {bulk_id!r}")
    elif method_name == "POST" and bulk_text is None:
        problem = InvalidSyntax("a POST operation needs a 'bulkId' (RFC 7644 §3.7)")
    elif version is not None and not isinstance(version, str):
        problem = InvalidSyntax(f"'version' must be an entity tag string like W/\"3\", not {version!r}")
    elif method_name != "DELETE" and data is None:
        problem = InvalidSyntax(f"a {method_name} operation needs 'data'")
    path_text = path if isinstance(path, str) else ""
    references = tuple(dict.fromkeys([*_path_reference(path_text), *references_in(data)]))
    return BulkOperation(index, method_name or str(method), path if isinstance(path, str) else "", bulk_text,
                         version if isinstance(version, str) else None, data, references, problem)


def _check_references(operation: BulkOperation, defined: Mapping[str, int]) -> BulkOperation:
    unknown = [name for name in operation.references if name not in defined]
    if operation.problem is not None or not unknown:
        return operation
    return BulkOperation(operation.index, operation.method, operation.path, operation.bulk_id,
                         operation.version, operation.data, operation.references,
                         InvalidValue(f"'bulkId:{unknown[0]}' names no operation of this request"))


def references_in(value: Any) -> Iterable[str]:
    """Every ``bulkId`` named by a whole string ``"bulkId:x"`` anywhere in ``value``."""
    if isinstance(value, str):
        if value.startswith(REFERENCE) and len(value) > len(REFERENCE):
            yield value[len(REFERENCE):]
    elif isinstance(value, list):
        for item in value:
            yield from references_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from references_in(item)


def _path_reference(path: str) -> list[str]:
    resource_id = path.partition("?")[0].rstrip("/").rpartition("/")[2]
    return [resource_id[len(REFERENCE):]] if resource_id.startswith(REFERENCE) and path.count("/") > 1 else []


def resolve_path(path: str, ids: Mapping[str, str]) -> str:
    """``path`` with a ``bulkId:x`` resource id replaced by the id of the resource ``x`` created."""
    head, _, resource_id = path.partition("?")[0].rstrip("/").rpartition("/")
    if head and resource_id.startswith(REFERENCE) and resource_id[len(REFERENCE):] in ids:
        return f"{head}/{ids[resource_id[len(REFERENCE):]]}"
    return path


def resolve(value: Any, ids: Mapping[str, str]) -> Any:
    """``value`` with each ``"bulkId:x"`` string replaced by the id of the resource ``x`` created."""
    if isinstance(value, str):
        if value.startswith(REFERENCE) and value[len(REFERENCE):] in ids:
            return ids[value[len(REFERENCE):]]
        return value
    if isinstance(value, list):
        return [resolve(item, ids) for item in value]
    if isinstance(value, dict):
        return {key: resolve(item, ids) for key, item in value.items()}
    return value


def target(path: str, resource_types: Sequence[ResourceType], method: str) -> tuple[ResourceType, str | None]:
    """The resource type and id a bulk operation's ``path`` names (§3.7: ``/Users`` for POST,
    ``/Users/{id}`` otherwise)."""
    endpoint, _, resource_id = path.partition("?")[0].rstrip("/")[1:].partition("/")
    resource_type = next((r for r in resource_types if r.endpoint[1:].lower() == endpoint.lower()), None)
    if resource_type is None:
        raise NotFound(f"'{path}' names no endpoint; this provider has "
                       f"{', '.join(r.endpoint for r in resource_types)}")
    if "/" in resource_id:
        raise NotFound(f"'{path}' names nothing here")
    if method == "POST" and resource_id:
        raise InvalidValue(f"a POST goes to the endpoint ('{resource_type.endpoint}'), not to '{path}'")
    if method != "POST" and not resource_id:
        raise InvalidValue(f"a {method} needs the path of one resource: '{resource_type.endpoint}/{{id}}'")
    return resource_type, resource_id or None


# --- order ---------------------------------------------------------------------------------------------


def plan(request: BulkRequest) -> BulkPlan:
    """Run order: request order, but every operation after the operations whose ``bulkId`` it names
    (RFC 7644 §3.7.2). Operations in or behind a circle of references are set apart."""
    creator = {op.bulk_id: op.index for op in request.operations if op.bulk_id is not None}
    waits_for: dict[int, set[int]] = {}
    needed_by: dict[int, list[int]] = {}
    for op in request.operations:
        needs = {creator[name] for name in op.references if name in creator} if op.problem is None else set()
        waits_for[op.index] = needs
        for other in needs:
            needed_by.setdefault(other, []).append(op.index)
    ready = [index for index, needs in waits_for.items() if not needs]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        index = heapq.heappop(ready)
        order.append(index)
        for waiting in needed_by.get(index, ()):
            waits_for[waiting].discard(index)
            if not waits_for[waiting]:
                heapq.heappush(ready, waiting)
    scheduled = set(order)
    circular = frozenset(op.index for op in request.operations if op.index not in scheduled)
    return BulkPlan(tuple(order), circular)


def bulk_response(results: Iterable[BulkResult]) -> dict[str, Any]:
    """The BulkResponse message (RFC 7644 §3.7.3), operations in request order."""
    return {"schemas": [BULK_RESPONSE_SCHEMA],
            "Operations": [result.to_dict() for result in sorted(results, key=lambda r: r.index)]}

"""``POST /Bulk`` (RFC 7644 §3.7): many operations in one request, each run as its own endpoint would.

Each operation goes through the identity port on its own, exactly like the single-resource request it
stands for (its own transaction, its own events, its own ETag check against ``version``); the bulk is
not atomic, as §3.7 says. The order, ``bulkId`` references and the response message come from
``scim/bulk.py``; this module runs the operations and collects what each came to.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import falcon

from ..ports import IdentityPort
from ..scim.bulk import (
    BulkOperation,
    BulkResult,
    bulk_response,
    parse_bulk_request,
    plan,
    resolve,
    resolve_path,
    target,
)
from ..scim.errors import Conflict, InternalError, ScimError
from ..scim.patch_request import parse_patch
from ..scim.resource import StoredResource, parse_resource
from ..scim.schema import ResourceType
from ..scim.tolerance import LENIENT, Tolerances
from .resources import Representation, base_url, read_body

log = logging.getLogger(__name__)

_SUCCESS = {"POST": 201, "PUT": 200, "PATCH": 200, "DELETE": 204}


class Bulk:
    def __init__(self, resource_types: Sequence[ResourceType], identity: IdentityPort,
                 representation: Representation, max_operations: int,
                 tolerances: Tolerances = LENIENT) -> None:
        self._types = tuple(resource_types)
        self._identity = identity
        self._representation = representation
        self._max_operations = max_operations
        self._tolerances = tolerances

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        request = parse_bulk_request(read_body(req), self._max_operations, self._tolerances)
        order = plan(request)
        base = base_url(req, self._representation.base_path)
        created: dict[str, str] = {}
        results: list[BulkResult] = []
        failed = 0
        for index in (*order.order, *sorted(order.circular)):
            if request.fail_on_errors is not None and failed >= request.fail_on_errors:
                break
            operation = request.operations[index]
            if index in order.circular:
                result = _failed(operation, Conflict(
                    "the operation is part of a circle of bulkId references (or waits on one), which this "
                    "service provider does not resolve; create the resources first, then link them"))
            else:
                result = self._run(operation, created, base, f"{req.context.request_id}/{index + 1}")
            failed += result.error is not None
            results.append(result)
        resp.media = bulk_response(results)

    def _run(self, operation: BulkOperation, created: dict[str, str], base: str,
             correlation_id: str) -> BulkResult:
        if operation.problem is not None:
            return _failed(operation, operation.problem)
        missing = [name for name in operation.references if name not in created]
        if missing:
            return _failed(operation, Conflict(f"'bulkId:{missing[0]}' names no resource: the operation "
                                               f"that was to create it failed"))
        try:
            path = resolve_path(operation.path, created)
            resource_type, resource_id = target(path, self._types, operation.method)
            resource = self._call(operation, resource_type, resource_id, resolve(operation.data, created),
                                  correlation_id)
        except ScimError as error:
            return _failed(operation, error)
        except Exception as error:  # one broken operation must not lose the outcome of the others
            log.error("bulk operation %s failed: %s", correlation_id, error, exc_info=error)
            return _failed(operation,
                           InternalError(f"internal error; quote {correlation_id} when reporting it"))
        if resource is None:
            assert resource_id is not None
            return BulkResult(operation.index, operation.method, 204, operation.bulk_id,
                              f"{base}{resource_type.endpoint}/{resource_id}")
        if operation.method == "POST" and operation.bulk_id is not None:
            created[operation.bulk_id] = resource.id
        meta = resource.meta(resource_type, base)
        return BulkResult(operation.index, operation.method, _SUCCESS[operation.method], operation.bulk_id,
                          meta.location, meta.etag)

    def _call(self, operation: BulkOperation, resource_type: ResourceType, resource_id: str | None,
              data: object, correlation_id: str) -> StoredResource | None:
        kind = resource_type.name
        if operation.method == "POST":
            return self._identity.create(kind, parse_resource(resource_type, data, self._tolerances),
                                         correlation_id)
        assert resource_id is not None
        if operation.method == "PUT":
            attributes = parse_resource(resource_type, data, self._tolerances)
            return self._identity.replace(kind, resource_id, attributes, correlation_id, operation.version)
        if operation.method == "PATCH":
            request = parse_patch(resource_type, data, self._tolerances)
            return self._identity.patch(kind, resource_id, request, correlation_id, operation.version)
        self._identity.delete(kind, resource_id, correlation_id, operation.version)
        return None


def _failed(operation: BulkOperation, error: ScimError) -> BulkResult:
    return BulkResult(operation.index, operation.method, error.status, operation.bulk_id, error=error)

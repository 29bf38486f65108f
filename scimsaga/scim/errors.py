"""SCIM error responses (RFC 7644 §3.12).

Every error the service answers with is one of these classes. Each carries its HTTP ``status`` and,
where RFC 7644 Table 9 defines one, its ``scimType``; the ``detail`` is for the human reading it.
"""

from __future__ import annotations

from typing import Any, ClassVar

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


class ScimError(Exception):
    """Base of all SCIM errors: ``status``, optional ``scimType`` and a human ``detail``."""

    status: ClassVar[int] = 400
    scim_type: ClassVar[str | None] = None

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def to_dict(self) -> dict[str, Any]:
        """The error body of RFC 7644 §3.12: ``status`` is a string there."""
        body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(self.status)}
        if self.scim_type is not None:
            body["scimType"] = self.scim_type
        body["detail"] = self.detail
        return body

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.detail!r})"


class InvalidSyntax(ScimError):
    """The body could not be parsed or does not follow the request schema."""

    scim_type = "invalidSyntax"


class InvalidFilter(ScimError):
    """The filter syntax was invalid or the attribute and comparison combination is not supported."""

    scim_type = "invalidFilter"


class InvalidValue(ScimError):
    """A required value is missing, or a value is not compatible with the attribute's type."""

    scim_type = "invalidValue"


class InvalidPath(ScimError):
    """The ``path`` of a PATCH operation is invalid (RFC 7644 §3.5.2)."""

    scim_type = "invalidPath"


class NoTarget(ScimError):
    """The path did not yield an attribute or value that could be operated on."""

    scim_type = "noTarget"


class Mutability(ScimError):
    """The change is incompatible with an attribute's mutability."""

    scim_type = "mutability"


class TooMany(ScimError):
    """The query would return more results than the service provider allows."""

    scim_type = "tooMany"


class InvalidVersion(ScimError):
    """The protocol version in the request is not supported."""

    scim_type = "invalidVers"


class Uniqueness(ScimError):
    """A value that must be unique is already taken (409)."""

    status = 409
    scim_type = "uniqueness"


class Unauthorized(ScimError):
    """Authentication is missing or wrong (401)."""

    status = 401


class Forbidden(ScimError):
    """The client may not perform the operation (403)."""

    status = 403


class NotFound(ScimError):
    """The resource or endpoint does not exist (404)."""

    status = 404


class MethodNotAllowed(ScimError):
    """The endpoint does not support the HTTP method (405)."""

    status = 405


class Conflict(ScimError):
    """The request conflicts with another part of it or with the resource's state (409), e.g. a bulk
    operation whose ``bulkId`` reference cannot be resolved (RFC 7644 §3.7.1)."""

    status = 409


class PreconditionFailed(ScimError):
    """``If-Match`` named a version that is no longer current (412)."""

    status = 412


class PayloadTooLarge(ScimError):
    """The request body is larger than the advertised maximum (413)."""

    status = 413


class UnsupportedMediaType(ScimError):
    """The request body is not JSON (415)."""

    status = 415


class InternalError(ScimError):
    """Something failed on our side; the detail never carries a traceback (500)."""

    status = 500


class NotImplementedFeature(ScimError):
    """The endpoint exists in the RFC but this service provider does not implement it (501)."""

    status = 501


class ServiceUnavailable(ScimError):
    """A service behind the front door cannot answer right now; the client may retry (503)."""

    status = 503


_BY_STATUS: dict[int, type[ScimError]] = {
    400: InvalidSyntax,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    412: PreconditionFailed,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    501: NotImplementedFeature,
    503: ServiceUnavailable,
}


def error_for_status(status: int, detail: str) -> ScimError:
    """The SCIM error that an HTTP status means (for errors raised by the web framework)."""
    return _BY_STATUS.get(status, InternalError)(detail)

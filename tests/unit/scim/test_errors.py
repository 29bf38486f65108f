"""SCIM error bodies (RFC 7644 §3.12): ``status`` is a string, ``scimType`` only where Table 9 has one."""

from __future__ import annotations

import pytest

from scimsaga.scim import errors
from scimsaga.scim.errors import ERROR_SCHEMA, ScimError, error_for_status

WITH_SCIM_TYPE = [
    (errors.InvalidSyntax, 400, "invalidSyntax"),
    (errors.InvalidFilter, 400, "invalidFilter"),
    (errors.InvalidValue, 400, "invalidValue"),
    (errors.InvalidPath, 400, "invalidPath"),
    (errors.NoTarget, 400, "noTarget"),
    (errors.Mutability, 400, "mutability"),
    (errors.TooMany, 400, "tooMany"),
    (errors.InvalidVersion, 400, "invalidVers"),
    (errors.Uniqueness, 409, "uniqueness"),
]
WITHOUT_SCIM_TYPE = [
    (errors.Unauthorized, 401),
    (errors.Forbidden, 403),
    (errors.NotFound, 404),
    (errors.MethodNotAllowed, 405),
    (errors.Conflict, 409),
    (errors.PreconditionFailed, 412),
    (errors.PayloadTooLarge, 413),
    (errors.UnsupportedMediaType, 415),
    (errors.InternalError, 500),
    (errors.NotImplementedFeature, 501),
    (errors.ServiceUnavailable, 503),
]


@pytest.mark.parametrize(("error_class", "status", "scim_type"), WITH_SCIM_TYPE)
def test_errors_with_a_scim_type_carry_it(error_class, status, scim_type):
    body = error_class("what went wrong").to_dict()

    assert body == {
        "schemas": [ERROR_SCHEMA],
        "status": str(status),
        "scimType": scim_type,
        "detail": "what went wrong",
    }


@pytest.mark.parametrize(("error_class", "status"), WITHOUT_SCIM_TYPE)
def test_errors_without_a_scim_type_leave_it_out(error_class, status):
    body = error_class("what went wrong").to_dict()

    assert body == {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": "what went wrong"}
    assert "scimType" not in body


def test_every_error_class_is_covered_here():
    def subclasses(cls: type[ScimError]) -> set[type[ScimError]]:
        found = set(cls.__subclasses__())
        for sub in list(found):
            found |= subclasses(sub)
        return found

    covered = {c for c, *_ in WITH_SCIM_TYPE} | {c for c, _ in WITHOUT_SCIM_TYPE}
    assert subclasses(ScimError) <= covered


@pytest.mark.parametrize("error_class", [c for c, *_ in WITH_SCIM_TYPE + WITHOUT_SCIM_TYPE])
def test_status_is_a_string_of_the_http_status(error_class):
    body = error_class("x").to_dict()

    assert isinstance(body["status"], str)
    assert body["status"] == str(error_class.status)
    assert body["schemas"] == [ERROR_SCHEMA]


def test_an_error_is_an_exception_whose_message_is_its_detail():
    error = errors.NotFound("User 'abc' not found")

    assert str(error) == "User 'abc' not found"
    assert error.detail == "User 'abc' not found"
    assert repr(error) == "NotFound(\"User 'abc' not found\")"


@pytest.mark.parametrize(("status", "error_class"), [
    (400, errors.InvalidSyntax),
    (401, errors.Unauthorized),
    (404, errors.NotFound),
    (405, errors.MethodNotAllowed),
    (413, errors.PayloadTooLarge),
    (415, errors.UnsupportedMediaType),
    (503, errors.ServiceUnavailable),
    (418, errors.InternalError),
    (502, errors.InternalError),
])
def test_error_for_status_maps_framework_errors_to_scim_errors(status, error_class):
    error = error_for_status(status, "from the framework")

    assert type(error) is error_class
    assert error.detail == "from the framework"

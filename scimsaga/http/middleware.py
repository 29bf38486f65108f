"""Request ids, bearer-token authentication and body-size limits."""

from __future__ import annotations

import hmac
import uuid

import falcon

from ..scim.errors import PayloadTooLarge, Unauthorized

REQUEST_ID_HEADER = "X-Request-Id"


class RequestId:
    """Every request gets an id (the client's, if it sent one); it is the correlation id of the saga."""

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        request_id = req.get_header(REQUEST_ID_HEADER) or str(uuid.uuid4())
        req.context.request_id = request_id[:128]
        resp.set_header(REQUEST_ID_HEADER, req.context.request_id)


class BearerAuth:
    """RFC 6750 bearer tokens (RFC 7644 §2): every path under the SCIM base needs the token."""

    def __init__(self, token: str, open_paths: frozenset[str]) -> None:
        self._token = token.encode()
        self._open = open_paths

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.path in self._open:
            return
        header = req.get_header("Authorization") or ""
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "bearer" or not credentials:
            raise Unauthorized("a bearer token is required: send 'Authorization: Bearer <token>'")
        if not hmac.compare_digest(credentials.strip().encode(), self._token):
            raise Unauthorized("the bearer token is not valid")


class BodyLimit:
    """Refuse bodies over the advertised maximum before reading them (413)."""

    def __init__(self, max_bytes: int) -> None:
        self._max = max_bytes

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        length = req.content_length
        if length is not None and length > self._max:
            raise PayloadTooLarge(f"the request body is {length} bytes; the maximum is {self._max}")

"""The demo's two hands on a deployment, both over real HTTP: a SCIM client (the IdP) and the
OperationsPort of the dashboard's API (the operator).

Standard library only (``http.client`` with one kept-alive connection per base URL), so that the demo
measures the deployment, not a client library.
"""

from __future__ import annotations

import http.client
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from .scim.schema import ENTERPRISE_USER_URN, PROVISIONING_URN, USER_SCHEMA_URN


class DeploymentError(Exception):
    """The deployment answered something the demo cannot go on with; the message says what."""


@dataclass(frozen=True)
class Answer:
    """One HTTP exchange: status, JSON body, and when it left and came back (wall clock, seconds)."""

    status: int
    body: Any
    sent: float
    received: float

    @property
    def ms(self) -> float:
        return (self.received - self.sent) * 1000


class Http:
    """JSON over one persistent connection to ``root`` (``http://host:port``)."""

    def __init__(self, root: str, token: str, timeout: float = 30.0) -> None:
        parts = urlsplit(root)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DeploymentError(f"not an http(s) URL: {root}")
        self.root = f"{parts.scheme}://{parts.netloc}"
        self._parts = parts
        self._token = token
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            https = self._parts.scheme == "https"
            kind = http.client.HTTPSConnection if https else http.client.HTTPConnection
            self._conn = kind(self._parts.hostname or "", self._parts.port, timeout=self._timeout)
        return self._conn

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                content_type: str = "application/scim+json") -> Answer:
        data = None if body is None else json.dumps(body).encode()
        sent_headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/scim+json, */*"}
        if data is not None:
            sent_headers["Content-Type"] = content_type
        sent_headers.update(headers or {})
        for attempt in (1, 2):  # a kept-alive connection the server closed is retried once, fresh
            conn = self._connection()
            sent = time.time()
            try:
                conn.request(method, path, body=data, headers=sent_headers)
                response = conn.getresponse()
                raw = response.read()
            except (ConnectionError, http.client.HTTPException, OSError) as exc:
                self.close()
                if attempt == 2:
                    raise DeploymentError(f"{method} {self.root}{path} failed: {exc}") from None
                continue
            received = time.time()
            parsed: Any = None
            if raw:
                try:
                    parsed = json.loads(raw)
                except ValueError:
                    parsed = raw.decode("utf-8", "replace")
            return Answer(response.status, parsed, sent, received)
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def new_user(user_name: str, cost_center: str | None = None,
             display_name: str | None = None) -> dict[str, Any]:
    """A SCIM user as an IdP would send it (RFC 7643 §4.1), with the enterprise extension if asked."""
    user: dict[str, Any] = {"schemas": [USER_SCHEMA_URN], "userName": user_name,
                            "displayName": display_name or user_name.split("@")[0],
                            "emails": [{"value": user_name, "type": "work", "primary": True}]}
    if cost_center is not None:
        user["schemas"].append(ENTERPRISE_USER_URN)
        user[ENTERPRISE_USER_URN] = {"costCenter": cost_center}
    return user


def provisioning(user: Any) -> dict[str, Any]:
    """The user's provisioning extension: ``{"state": ..., "services": [{"name", "state", ...}]}``."""
    if not isinstance(user, dict):
        return {}
    extension = user.get(PROVISIONING_URN)
    return extension if isinstance(extension, dict) else {}


def service_states(user: Any) -> dict[str, str]:
    """Each service's state as the provisioning extension shows it, e.g. ``{"billing": "pending"}``."""
    return {str(s.get("name")): str(s.get("state")) for s in provisioning(user).get("services") or []
            if isinstance(s, dict)}


class ScimClient:
    """The IdP's side: users over SCIM, under the deployment's base URL (``.../scim/v2``)."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._base_path = urlsplit(self.base_url).path
        self.http = Http(self.base_url, token)

    def create_user(self, attributes: dict[str, Any], request_id: str | None = None) -> Answer:
        """POST /Users (RFC 7644 §3.3); the request id becomes the saga's correlation id."""
        return self.http.request("POST", f"{self._base_path}/Users", attributes,
                                 {"X-Request-Id": request_id or f"demo-{uuid.uuid4().hex[:12]}"})

    def get_user(self, user_id: str) -> Answer:
        """GET /Users/{id} (RFC 7644 §3.4.1)."""
        return self.http.request("GET", f"{self._base_path}/Users/{quote(user_id, safe='')}")

    def list_users(self, filter: str | None = None, start_index: int = 1, count: int | None = None,
                   attributes: str | None = None) -> Answer:
        """GET /Users with a filter, a page and the attributes to return (RFC 7644 §3.4.2)."""
        params = {"filter": filter, "startIndex": str(start_index) if start_index != 1 else None,
                  "count": None if count is None else str(count), "attributes": attributes}
        query = "&".join(f"{name}={quote(value, safe='')}" for name, value in params.items()
                         if value is not None)
        return self.http.request("GET", f"{self._base_path}/Users" + (f"?{query}" if query else ""))

    def healthy(self) -> bool:
        try:
            return self.http.request("GET", "/healthz").status == 200
        except DeploymentError:
            return False


class HttpOperations:
    """The OperationsPort over the dashboard's JSON API (bearer token), as an operator's script uses it."""

    def __init__(self, root: str, token: str) -> None:
        self.http = Http(root, token)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        answer = self.http.request(method, path, body, content_type="application/json")
        if answer.status == 401:
            raise DeploymentError("the deployment refused the token; pass the one `scimsaga up` printed "
                                  "with --token")
        if answer.status != 200:
            detail = answer.body.get("detail") if isinstance(answer.body, dict) else answer.body
            raise DeploymentError(f"{method} {path} answered {answer.status}: {detail}")
        return answer.body

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = self._call("GET", "/dashboard/api/status")
        return status

    def recent_sagas(self, limit: int) -> list[dict[str, Any]]:
        sagas: list[dict[str, Any]] = self._call("GET", f"/dashboard/api/sagas?limit={int(limit)}")
        return sagas

    def chaos(self, name: str, **changes: Any) -> dict[str, Any]:
        answer = self._call("POST", "/dashboard/api/chaos", {"service": name, **changes})
        faults: dict[str, Any] = answer["faults"]
        return faults

    def kill(self, name: str) -> None:
        self._call("POST", "/dashboard/api/chaos", {"service": name, "kill": True})

    # --- helpers the scenarios share -------------------------------------------------------------

    def service(self, name: str, status: dict[str, Any] | None = None) -> dict[str, Any]:
        status = status or self.status()
        return next((s for s in status.get("services") or [] if s.get("name") == name), {})

    def lag_of(self, subscriber: str, status: dict[str, Any] | None = None) -> int:
        """The lag of every subscription the subscriber reads, added up."""
        status = status or self.status()
        return sum(int(s.get("lag") or 0) for s in status.get("subscriptions") or []
                   if s.get("subscriber") == subscriber)

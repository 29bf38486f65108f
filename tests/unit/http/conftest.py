"""The front door over falcon.testing with the real identity host of a LocalCluster (no Ray, no bus)."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from falcon import testing

from scimsaga.actors.topology import TOPOLOGY
from scimsaga.cluster import LocalCluster
from scimsaga.http.app import HttpSettings, create_app
from scimsaga.scim.errors import ERROR_SCHEMA
from scimsaga.settings import Settings

TOKEN = "t"
BASE = "/scim/v2"
SCIM_JSON = "application/scim+json"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


class Ready:
    def ready(self) -> bool:
        return True


class TickingClock:
    """Each write one millisecond after the last, so lists come back in the order the test wrote them.

    Lists are sorted by creation instant and then by id (random); writes within one real millisecond
    would otherwise come back in an order that changes from run to run.
    """

    def __init__(self, start: datetime = datetime(2026, 1, 31, 9, 30, tzinfo=timezone.utc)) -> None:
        self._ticks = itertools.count()
        self._start = start

    def __call__(self) -> str:
        instant = self._start + timedelta(milliseconds=next(self._ticks))
        return instant.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ticking(spec: Any) -> Any:
    if spec.name != "identity":
        return spec
    return dataclasses.replace(spec, build=lambda settings: spec.build(settings, clock=TickingClock()))


@pytest.fixture
def local(tmp_path: Path) -> Iterator[LocalCluster]:
    cluster = LocalCluster(Settings(data_dir=tmp_path / "data"), [_ticking(spec) for spec in TOPOLOGY])
    yield cluster
    cluster.stop()


@pytest.fixture
def api(local: LocalCluster) -> testing.TestClient:
    """A client sending the right token, against the real identity host."""
    app = create_app(local.identity(), Ready(), HttpSettings(token=TOKEN))
    return testing.TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"})


def scim_error(response: testing.Result, status: int, scim_type: str | None = None) -> dict[str, Any]:
    """Assert a SCIM error (RFC 7644 §3.12) and return its body."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == SCIM_JSON
    body: dict[str, Any] = response.json
    assert body["schemas"] == [ERROR_SCHEMA]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type
    assert "Traceback" not in response.text
    return body


def post_user(api: testing.TestClient, user_name: str, **attributes: Any) -> dict[str, Any]:
    response = api.simulate_post(
        f"{BASE}/Users", json={"schemas": [CORE_USER], "userName": user_name, **attributes}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json
    return body


def post_group(
    api: testing.TestClient, display_name: str, *member_ids: str, **attributes: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [CORE_GROUP], "displayName": display_name, **attributes}
    if member_ids:
        body["members"] = [{"value": member_id} for member_id in member_ids]
    response = api.simulate_post(f"{BASE}/Groups", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json
    return created

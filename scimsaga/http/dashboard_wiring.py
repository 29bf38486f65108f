"""The operator's side of the front door, wired in one piece: ``/metrics`` and ``/dashboard``.

``create_app`` asks this for the middleware to put first (request latencies, recent writes), for the
paths that authenticate for themselves, and to add the routes.
"""

from __future__ import annotations

from typing import Any

import falcon

from ..ports import OperationsPort
from . import dashboard
from .dashboard_auth import Sessions
from .dashboard_state import ViewSource
from .dashboard_timeline import RecentWrites
from .metrics import METRICS_PATH, MetricsResource, build_registry


class OperatorPages:
    """Metrics and dashboard of one app; ``operations`` None shows only what the front door saw."""

    def __init__(self, token: str, base_path: str, operations: OperationsPort | None) -> None:
        self.registry, self.requests = build_registry(operations)
        self.writes = RecentWrites(base_path)
        self.sessions = Sessions(token)
        self.source = ViewSource(operations, self.requests.totals, self.writes, base_path)
        self.operations = operations

    @property
    def middleware(self) -> list[Any]:
        """First in the chain, so that the latency covers everything the app does."""
        return [self.requests, self.writes]

    @property
    def open_paths(self) -> frozenset[str]:
        """The dashboard signs in with a cookie or the bearer token; ``/metrics`` keeps the bearer rule."""
        return dashboard.open_paths()

    def add_routes(self, app: falcon.App[falcon.Request, falcon.Response]) -> None:
        app.add_route(METRICS_PATH, MetricsResource(self.registry))
        dashboard.add_routes(app, self.sessions, self.source, self.operations)

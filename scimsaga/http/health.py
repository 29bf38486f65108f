"""``/healthz``: 200 once every actor answers, 503 before (no token needed)."""

from __future__ import annotations

import falcon

from ..ports import HealthPort


class Health:
    def __init__(self, health: HealthPort) -> None:
        self._health = health

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        ready = self._health.ready()
        resp.status = falcon.HTTP_200 if ready else falcon.HTTP_503
        resp.media = {"status": "ready" if ready else "starting"}

"""The anti-pattern: a front door that provisions synchronously before it answers.

``POST /scim/v2/Users`` parses the user as our front door does, then, one blocking Ray call after
the other: identity stores it (the same ``IdentityHost`` actor and SQLite file), profile, access and
billing each run their provisioning command (the same service actors and handlers, in the saga's
order), identity activates the user, and only then the IdP gets its 201. No bus, no outbox relay,
no coordinator: what "just call every service" costs, measured on the same actors as ours.
"""

from __future__ import annotations

import itertools
import logging
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

import falcon
import ray

from scimsaga.actors.definitions import PROVISIONING
from scimsaga.actors.runtime import ACTOR_OPTIONS
from scimsaga.actors.topology import TOPOLOGY
from scimsaga.bus.consumer import DeliveryReport
from scimsaga.bus.envelope import new_message
from scimsaga.bus.packing import pack_deliveries
from scimsaga.http import errors, media
from scimsaga.http.middleware import BearerAuth, BodyLimit
from scimsaga.scim.errors import ServiceUnavailable
from scimsaga.scim.resource import StoredResource, parse_resource, render
from scimsaga.scim.schema import USER
from scimsaga.scim.tolerance import LENIENT
from scimsaga.settings import Settings, utc_now

BASE = "/scim/v2"
SERVICES = ("identity", *(step.service for step in PROVISIONING.steps))
TIMEOUT = 30.0


def start_actors(namespace: str, data_dir: Path) -> dict[str, Any]:
    """Identity and the provisioning services as named actors, with no relay (nothing to publish to)."""
    settings = Settings(data_dir=data_dir, namespace=namespace)
    specs = {spec.name: spec for spec in TOPOLOGY}
    handles: dict[str, Any] = {}
    for name in SERVICES:
        spec = specs[name]
        actor = ray.remote(spec.host).options(name=name, namespace=namespace, **ACTOR_OPTIONS)
        handles[name] = actor.remote(spec.build(settings), settings, None)
    ray.get([handle.ping.remote() for handle in handles.values()], timeout=120)
    return handles


class Users:
    """Create, then provision in every service, then activate: all before the answer."""

    def __init__(self, handles: dict[str, Any]) -> None:
        self._handles = handles
        self._offsets = itertools.count(1)
        self._lock = threading.Lock()

    def _deliver(self, service: str, type_: str, key: str, payload: dict[str, Any], correlation: str) -> None:
        envelope = new_message(type_, key, payload, at=utc_now(), correlation_id=correlation)
        with self._lock:
            offset = next(self._offsets)
        batch = pack_deliveries([(offset, envelope.to_json())])
        report = DeliveryReport.from_wire(
            ray.get(self._handles[service].deliver_packed.remote(batch), timeout=TIMEOUT))
        if offset not in report.acked:
            raise ServiceUnavailable(f"{service} did not take {type_}: {report.failed.get(offset)}")

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        attributes = parse_resource(USER, req.get_media(default_when_empty=None), LENIENT)
        correlation = req.get_header("X-Request-Id") or str(uuid.uuid4())
        identity = self._handles["identity"]
        user: StoredResource = ray.get(
            identity.create.remote("User", attributes, correlation), timeout=TIMEOUT
        )
        snapshot = {"id": user.id, **user.attributes}
        saga_id = f"sync-{uuid.uuid4()}"
        for index, step in enumerate(PROVISIONING.steps):
            self._deliver(
                step.service,
                step.action,
                user.id,
                {
                    "saga_id": saga_id,
                    "step": index,
                    "phase": "action",
                    "user": snapshot,
                    "idempotency_key": f"{saga_id}/{index}/action",
                    "attempt": 1,
                },
                correlation,
            )
        services = [{"name": step.service, "state": "done"} for step in PROVISIONING.steps]
        self._deliver(
            "identity",
            "identity.ActivateUser",
            user.id,
            {"saga_id": saga_id, "services": services, "idempotency_key": f"{saga_id}/activate"},
            correlation,
        )
        base = f"{req.prefix}{BASE}"
        meta = user.meta(USER, base)
        resp.media = render(USER, user.id, {**user.attributes, "active": True}, meta, base)
        resp.status = falcon.HTTP_201
        resp.location = meta.location
        resp.etag = meta.etag


class Health:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "ok"}


def create_app(token: str, handles: dict[str, Any]) -> falcon.App[falcon.Request, falcon.Response]:
    middleware: list[Any] = [BearerAuth(token, frozenset({"/healthz"})), BodyLimit(1_048_576)]
    app = falcon.App(media_type=media.SCIM_JSON, middleware=middleware)
    app.req_options.media_handlers = falcon.media.Handlers(media.handlers())
    app.resp_options.media_handlers = falcon.media.Handlers(media.handlers())
    errors.install(app)
    app.add_route(f"{BASE}/Users", Users(handles))
    app.add_route("/healthz", Health())
    return app


def start(token: str) -> tuple[falcon.App[falcon.Request, falcon.Response], Path]:
    """Start a local Ray cluster and the actors; returns the app and the data directory."""
    data_dir = Path(tempfile.mkdtemp(prefix="scimsaga-antipattern-"))
    namespace = f"antipattern-{uuid.uuid4().hex[:8]}"
    ray.init(
        address="local",
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
        object_store_memory=256 * 1024 * 1024,
        namespace=namespace,
    )
    return create_app(token, start_actors(namespace, data_dir)), data_dir

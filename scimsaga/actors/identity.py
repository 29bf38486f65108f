"""The identity service: the authoritative store of users, and the only writer of identity events.

A SCIM write changes the ``users`` table and adds its event to the outbox in one transaction, then the
request is answered; the rest of the system learns of it through the bus. A new user is ``pending``
(it reads ``active: false``) until the provisioning saga asks identity to activate it, or to
compensate it when a step failed for good.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from ..bus import outbox
from ..bus.consumer import Handler
from ..bus.envelope import Envelope, Outgoing, new_message
from ..bus.outbox import Publish
from ..scim.errors import NotFound, Uniqueness
from ..scim.filter import parse_filter
from ..scim.filter_sql import MultiValueIndex, SqlLayout, register_functions, scim_fold, to_sql
from ..scim.listing import ListQuery, Page
from ..scim.resource import StoredResource
from ..scim.schema import PROVISIONING_URN, USER
from ..settings import Clock, IdGenerator, Settings, new_uuid, utc_now
from ..storage import transaction
from .host import ServiceHost
from .service import Service

TOPIC = "identity"
COMMANDS = "identity.commands"

PENDING, ACTIVE, FAILED = "pending", "active", "failed"

USER_LAYOUT = SqlLayout(
    json_column="resource",
    id_column="id",
    expressions={
        "id": "id",
        "externalid": "external_id",
        "meta.created": "created",
        "meta.lastmodified": "last_modified",
        "meta.version": "version_tag",
        "meta.resourcetype": "'User'",
        "active": "(coalesce(json_extract(resource, '$.active'), 1) = 1 AND state = 'active')",
    },
    folded_columns={"username": "user_name_key"},
    value_indexes={"emails.value": MultiValueIndex("user_emails", "user_id", "value_key")},
)


class IdentityService(Service):
    """Users, their events, and the provisioning state the saga reports back."""

    name = "identity"
    tables = """
    CREATE TABLE IF NOT EXISTS users (
        id TEXT PRIMARY KEY,
        user_name_key TEXT NOT NULL UNIQUE,
        external_id TEXT,
        resource TEXT NOT NULL,
        state TEXT NOT NULL,
        created TEXT NOT NULL,
        last_modified TEXT NOT NULL,
        version INTEGER NOT NULL,
        version_tag TEXT GENERATED ALWAYS AS ('W/"' || version || '"') VIRTUAL,
        password_hash TEXT
    );
    CREATE INDEX IF NOT EXISTS users_external_id ON users (external_id);
    CREATE INDEX IF NOT EXISTS users_created ON users (created, id);
    CREATE TABLE IF NOT EXISTS user_emails (
        user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        value_key TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS user_emails_value ON user_emails (value_key);
    CREATE INDEX IF NOT EXISTS user_emails_user ON user_emails (user_id);
    """

    def __init__(self, settings: Settings, clock: Clock = utc_now, ids: IdGenerator = new_uuid,
                 provisioned_by: Sequence[str] = ()) -> None:
        super().__init__(settings, clock, ids)
        self.provisioned_by = tuple(provisioned_by)

    def install(self, conn: sqlite3.Connection) -> None:
        register_functions(conn, USER_LAYOUT)
        super().install(conn)

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "identity.RecordProvisioning": self.record_provisioning,
            "identity.ActivateUser": self.activate,
            "identity.CompensateUser": self.compensate,
        }

    # --- SCIM writes and reads -------------------------------------------------------------------

    def create_user(self, conn: sqlite3.Connection, attributes: dict[str, Any],
                    correlation_id: str) -> tuple[StoredResource, list[Outgoing]]:
        """RFC 7644 §3.3: store the user as pending; ``userName`` is unique case-insensitively."""
        attributes = dict(attributes)
        password = attributes.pop("password", None)
        key = scim_fold(attributes["userName"])
        if conn.execute("SELECT 1 FROM users WHERE user_name_key = ?", (key,)).fetchone():
            raise Uniqueness(f"userName '{attributes['userName']}' is already taken")
        attributes[PROVISIONING_URN] = {
            "state": PENDING,
            "services": [{"name": name, "state": "pending"} for name in self.provisioned_by],
        }
        if PROVISIONING_URN not in attributes["schemas"]:  # the client may list it; it is listed once
            attributes["schemas"] = [*attributes["schemas"], PROVISIONING_URN]
        user_id, now = self.ids(), self.clock()
        conn.execute(
            "INSERT INTO users (id, user_name_key, external_id, resource, state, created, last_modified, "
            "version, password_hash) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)",
            (user_id, key, attributes.get("externalId"), json.dumps(attributes), PENDING, now, now,
             _hash_password(password) if isinstance(password, str) else None),
        )
        self._index_emails(conn, user_id, attributes)
        user = self._load(conn, user_id)
        event = new_message("identity.UserCreated", user_id, {"user": _snapshot(user)},
                            at=now, correlation_id=correlation_id)
        return user, [Outgoing(TOPIC, event)]

    def get_user(self, conn: sqlite3.Connection, user_id: str) -> StoredResource:
        return self._load(conn, user_id)

    def query_users(self, conn: sqlite3.Connection, query: ListQuery) -> Page:
        """RFC 7644 §3.4.2: the filter runs in SQL; pages are in a stable order (created, id)."""
        where, params = "1", list[object]()
        if query.filter:
            where, params = to_sql(parse_filter(query.filter, USER), USER_LAYOUT)
        total = conn.execute(f"SELECT count(*) FROM users WHERE {where}", params).fetchone()[0]
        resources: list[StoredResource] = []
        if query.count > 0:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM users WHERE {where} ORDER BY created, id LIMIT ? OFFSET ?",
                [*params, query.count, query.start_index - 1],
            ).fetchall()
            resources = [_row_to_resource(row) for row in rows]
        return Page(total, query.start_index, resources)

    def delete_user(self, conn: sqlite3.Connection, user_id: str,
                    correlation_id: str) -> list[Outgoing]:
        """RFC 7644 §3.6: remove the user; the deprovisioning saga follows ``UserDeleted``."""
        user = self._load(conn, user_id)
        conn.execute("DELETE FROM users WHERE id = ?", (user_id,))
        event = new_message("identity.UserDeleted", user_id, {"user": _snapshot(user)},
                            at=self.clock(), correlation_id=correlation_id)
        return [Outgoing(TOPIC, event)]

    # --- what the saga tells identity ------------------------------------------------------------

    def record_provisioning(self, envelope: Envelope, conn: sqlite3.Connection) -> Sequence[Outgoing]:
        """Show a saga's progress in the user's provisioning extension."""
        self._set_provisioning(conn, envelope.key, envelope.payload["services"], state=None)
        return ()

    def activate(self, envelope: Envelope, conn: sqlite3.Connection) -> Sequence[Outgoing]:
        """Every step succeeded: the user takes the ``active`` value the IdP asked for."""
        found = self._set_provisioning(conn, envelope.key, envelope.payload["services"], state=ACTIVE)
        return [Outgoing(TOPIC, envelope.caused(
            "identity.UserActivated", {"saga_id": envelope.payload["saga_id"], "found": found},
            at=self.clock()))]

    def compensate(self, envelope: Envelope, conn: sqlite3.Connection) -> Sequence[Outgoing]:
        """A step failed for good: delete the user, or keep it deactivated with ``state: failed``."""
        user_id = envelope.key
        deleted = self.settings.on_failure == "delete"
        if deleted:
            conn.execute("DELETE FROM users WHERE id = ?", (user_id,))
        else:
            self._set_provisioning(conn, user_id, envelope.payload["services"], state=FAILED)
        return [Outgoing(TOPIC, envelope.caused(
            "identity.UserCompensated",
            {"saga_id": envelope.payload["saga_id"], "deleted": deleted,
             "reason": envelope.payload.get("reason")},
            at=self.clock()))]

    # --- observation -----------------------------------------------------------------------------

    def describe(self, conn: sqlite3.Connection) -> dict[str, Any]:
        rows = conn.execute("SELECT state, count(*) FROM users GROUP BY state").fetchall()
        return {"users": dict(rows)}

    def state_of(self, conn: sqlite3.Connection, user_id: str) -> dict[str, Any] | None:
        try:
            return _snapshot(self._load(conn, user_id))
        except NotFound:
            return None

    # --- helpers ---------------------------------------------------------------------------------

    def _load(self, conn: sqlite3.Connection, user_id: str) -> StoredResource:
        row = conn.execute(f"SELECT {_COLUMNS} FROM users WHERE id = ?", (user_id,)).fetchone()
        if row is None:
            raise NotFound(f"User '{user_id}' not found")
        return _row_to_resource(row)

    def _index_emails(self, conn: sqlite3.Connection, user_id: str, attributes: Mapping[str, Any]) -> None:
        conn.execute("DELETE FROM user_emails WHERE user_id = ?", (user_id,))
        emails = attributes.get("emails", ())
        values = {str(scim_fold(e["value"])) for e in emails if isinstance(e.get("value"), str)}
        conn.executemany("INSERT INTO user_emails (user_id, value_key) VALUES (?, ?)",
                         [(user_id, v) for v in sorted(values)])

    def _set_provisioning(self, conn: sqlite3.Connection, user_id: str, services: list[dict[str, Any]],
                          state: str | None) -> bool:
        row = conn.execute("SELECT resource, state FROM users WHERE id = ?", (user_id,)).fetchone()
        if row is None:
            return False
        attributes = json.loads(row[0])
        new_state = state or row[1]
        attributes[PROVISIONING_URN] = {"state": new_state, "services": services}
        conn.execute(
            "UPDATE users SET resource = ?, state = ?, last_modified = ?, version = version + 1 WHERE id = ?",
            (json.dumps(attributes), new_state, self.clock(), user_id),
        )
        return True


_COLUMNS = "id, resource, state, created, last_modified, version"


def _row_to_resource(row: tuple[Any, ...]) -> StoredResource:
    user_id, resource, state, created, last_modified, version = row
    attributes = json.loads(resource)
    attributes["active"] = state == ACTIVE and attributes.get("active", True) is True
    return StoredResource(user_id, attributes, created, last_modified, version)


def _snapshot(user: StoredResource) -> dict[str, Any]:
    return {"id": user.id, **user.attributes, "meta": {"version": user.version}}


def _hash_password(password: str) -> str:
    """scrypt (RFC 7914) with a random salt: the cleartext is never stored (RFC 7643 §4.1.1)."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return "scrypt$16384$8$1$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


class IdentityHost(ServiceHost):
    """The identity actor: SCIM reads and writes, plus the saga's commands from the bus."""

    service: IdentityService

    def __init__(self, service: IdentityService, settings: Settings, publish: Publish | None) -> None:
        super().__init__(service, settings, publish)

    def create_user(self, attributes: dict[str, Any], correlation_id: str) -> StoredResource:
        with transaction(self.conn):
            user, messages = self.service.create_user(self.conn, attributes, correlation_id)
            outbox.add(self.conn, messages)
        self.notify_relay()
        return user

    def get_user(self, user_id: str) -> StoredResource:
        return self.service.get_user(self.conn, user_id)

    def query_users(self, query: ListQuery) -> Page:
        return self.service.query_users(self.conn, query)

    def delete_user(self, user_id: str, correlation_id: str) -> None:
        with transaction(self.conn):
            outbox.add(self.conn, self.service.delete_user(self.conn, user_id, correlation_id))
        self.notify_relay()

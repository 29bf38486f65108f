"""The identity service: the authoritative store of users and groups, and the only writer of their events.

A SCIM write changes its table and adds its events to the outbox in one transaction, then the request is
answered; the rest of the system learns of it through the bus (``UserCreated/Updated/Deleted``,
``GroupCreated/Updated/Deleted``, ``GroupMembershipChanged``). A new user is ``pending`` (it reads
``active: false``) until the provisioning saga asks identity to activate it, or to compensate it when a
step failed for good.

Memberships live in ``group_members``, one row per (group, member): a user's ``groups`` attribute is
read from there (RFC 7643 §4.1.2: read-only, direct memberships), a filter on ``members.value`` uses its
index, and removing a user or a group removes its memberships (and says so with
``GroupMembershipChanged``). Versions are counters: ``If-Match`` is checked in the same transaction as
the write it guards (RFC 7644 §3.14).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..bus import codec, outbox
from ..bus.consumer import Handler
from ..bus.envelope import Envelope, Outgoing, new_message
from ..bus.outbox import Publish
from ..scim.errors import InvalidValue, NotFound, ScimError, Uniqueness
from ..scim.etag import require_match
from ..scim.filter import parse_filter
from ..scim.filter_sql import MultiValueIndex, SqlLayout, order_by, register_functions, scim_fold, to_sql
from ..scim.listing import ListQuery, Page
from ..scim.patch import apply_patch
from ..scim.patch_request import PatchRequest
from ..scim.resource import StoredResource, keep_immutable
from ..scim.schema import GROUP, PROVISIONING_URN, USER, ResourceType
from ..scim.sort import resolve_sort
from ..settings import Clock, IdGenerator, Settings, new_uuid, utc_now
from ..storage import transaction
from .choreography import Outcomes, choose, saga_id_for
from .coalescing import Call, Outcome, pack, run_calls, unpack
from .definitions import DEFINITIONS
from .host import ServiceHost
from .service import ANY_MESSAGE, Service

log = logging.getLogger(__name__)

TOPIC = "identity"
COMMANDS = "identity.commands"

PENDING, ACTIVE, FAILED, DEACTIVATED = "pending", "active", "failed", "deactivated"

USER_GROUPS_SQL = (
    "(SELECT json_group_array(json_object('value', gm.group_id, "
    "'display', json_extract(g.resource, '$.displayName'), 'type', 'direct')) "
    "FROM group_members AS gm JOIN groups AS g ON g.id = gm.group_id WHERE gm.member_id = users.id)"
)

USER_LAYOUT = SqlLayout(
    json_column="resource",
    id_column="users.id",
    expressions={
        "id": "users.id",
        "externalid": "external_id",
        "meta.created": "created",
        "meta.lastmodified": "last_modified",
        "meta.version": "('W/\"' || version || CASE WHEN revision > 0 THEN '.' || revision ELSE '' END "
                        "|| '\"')",
        "meta.resourcetype": "'User'",
        "active": "(coalesce(json_extract(resource, '$.active'), 1) = 1 AND state = 'active')",
    },
    folded_columns={"username": "user_name_key"},
    value_indexes={"emails.value": MultiValueIndex("user_emails", "user_id", "value_key")},
    computed_values={"groups": USER_GROUPS_SQL},
)

GROUP_LAYOUT = SqlLayout(
    json_column="resource",
    id_column="groups.id",
    expressions={
        "id": "groups.id",
        "externalid": "external_id",
        "meta.created": "created",
        "meta.lastmodified": "last_modified",
        "meta.version": "version_tag",
        "meta.resourcetype": "'Group'",
    },
    folded_columns={"displayname": "display_name_key"},
    value_indexes={"members.value": MultiValueIndex("group_members", "group_id", "value_key")},
)


@dataclass(frozen=True)
class Kind:
    """Where one resource type lives in the store and what its unique attribute is."""

    resource_type: ResourceType
    table: str
    layout: SqlLayout
    unique_attribute: str
    unique_column: str

    @property
    def name(self) -> str:
        return self.resource_type.name


KINDS: dict[str, Kind] = {
    "User": Kind(USER, "users", USER_LAYOUT, "userName", "user_name_key"),
    "Group": Kind(GROUP, "groups", GROUP_LAYOUT, "displayName", "display_name_key"),
}


def kind_of(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise NotFound(f"no resource type '{name}'") from None


class IdentityService(Service):
    """Users and groups, their events, and the provisioning state the saga reports back."""

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
        password_hash TEXT,
        revision INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX IF NOT EXISTS users_external_id ON users (external_id);
    CREATE INDEX IF NOT EXISTS users_created ON users (created, id);
    CREATE TABLE IF NOT EXISTS user_emails (
        user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        value_key TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS user_emails_value ON user_emails (value_key);
    CREATE INDEX IF NOT EXISTS user_emails_user ON user_emails (user_id);
    CREATE TABLE IF NOT EXISTS groups (
        id TEXT PRIMARY KEY,
        display_name_key TEXT NOT NULL UNIQUE,
        external_id TEXT,
        resource TEXT NOT NULL,
        created TEXT NOT NULL,
        last_modified TEXT NOT NULL,
        version INTEGER NOT NULL,
        version_tag TEXT GENERATED ALWAYS AS ('W/"' || version || '"') VIRTUAL
    );
    CREATE INDEX IF NOT EXISTS groups_external_id ON groups (external_id);
    CREATE INDEX IF NOT EXISTS groups_created ON groups (created, id);
    CREATE TABLE IF NOT EXISTS group_members (
        group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
        member_id TEXT NOT NULL,
        member_type TEXT NOT NULL,
        value_key TEXT NOT NULL,
        PRIMARY KEY (group_id, member_id)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS group_members_member ON group_members (member_id);
    CREATE INDEX IF NOT EXISTS group_members_value ON group_members (value_key);
    """

    def __init__(self, settings: Settings, clock: Clock = utc_now, ids: IdGenerator = new_uuid,
                 provisioned_by: Sequence[str] = ()) -> None:
        super().__init__(settings, clock, ids)
        self.provisioned_by = tuple(provisioned_by)
        self.definitions = {d.name: d for d in DEFINITIONS}
        self.outcomes = Outcomes(DEFINITIONS) if settings.mode == "choreography" else None

    def install(self, conn: sqlite3.Connection) -> None:
        register_functions(conn, USER_LAYOUT)
        super().install(conn)
        if self.outcomes is not None:
            self.outcomes.install(conn)
        columns = {row[1] for row in conn.execute("PRAGMA table_info(users)")}
        if "revision" not in columns:  # a data directory from before revisions were kept
            conn.execute("ALTER TABLE users ADD COLUMN revision INTEGER NOT NULL DEFAULT 0")

    def handlers(self) -> Mapping[str, Handler]:
        table: dict[str, Handler] = {
            "identity.RecordProvisioning": self.record_provisioning,
            "identity.ActivateUser": self.activate,
            "identity.CompensateUser": self.compensate,
            "identity.FailUser": self.fail,
            "identity.DeactivateUser": self.deactivate,
        }
        if self.outcomes is not None:
            table[ANY_MESSAGE] = self.outcome_reported
        return table

    # --- SCIM writes and reads, any resource type --------------------------------------------

    def create(self, conn: sqlite3.Connection, kind_name: str, attributes: dict[str, Any],
               correlation_id: str) -> tuple[StoredResource, list[Outgoing]]:
        """RFC 7644 §3.3: store a new resource; its unique name is unique case-insensitively."""
        if kind_of(kind_name).name == "User":
            return self.create_user(conn, attributes, correlation_id)
        return self.create_group(conn, attributes, correlation_id)

    def get(self, conn: sqlite3.Connection, kind_name: str, resource_id: str) -> StoredResource:
        """RFC 7644 §3.4.1; raises NotFound."""
        return self._load(conn, kind_of(kind_name), resource_id)

    def query(self, conn: sqlite3.Connection, kind_name: str, query: ListQuery) -> Page:
        """RFC 7644 §3.4.2: the filter and the sort run in SQL; ties keep a stable order (created, id)."""
        kind = kind_of(kind_name)
        where, params = "1", list[object]()
        if query.filter:
            where, params = to_sql(parse_filter(query.filter, kind.resource_type), kind.layout)
        order = f"{kind.table}.created, {kind.table}.id"
        if query.sort_by:
            path = resolve_sort(kind.resource_type, query.sort_by)
            order = f"{order_by(path, kind.layout, query.sort_order == 'descending')}, {order}"
        table = kind.table
        total = conn.execute(f"SELECT count(*) FROM {table} WHERE {where}", params).fetchone()[0]
        resources: list[StoredResource] = []
        if query.count > 0:
            rows = conn.execute(
                f"SELECT {_columns(kind)} FROM {table} WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
                [*params, query.count, query.start_index - 1],
            ).fetchall()
            resources = self._resources(conn, kind, rows)
        return Page(total, query.start_index, resources)

    def replace(self, conn: sqlite3.Connection, kind_name: str, resource_id: str,
                attributes: dict[str, Any], correlation_id: str,
                if_match: str | None = None) -> tuple[StoredResource, list[Outgoing]]:
        """RFC 7644 §3.5.1: replace every writable attribute; read-only ones stay as they are."""
        kind = kind_of(kind_name)
        current = self._load(conn, kind, resource_id)
        require_match(if_match, current.version, f"{kind.name} '{resource_id}'", current.revision)
        attributes = keep_immutable(kind.resource_type, current.attributes, attributes)
        if kind_name == "User":
            return self._replace_user(conn, current, attributes, correlation_id)
        return self._replace_group(conn, current, attributes, correlation_id)

    def patch(self, conn: sqlite3.Connection, kind_name: str, resource_id: str, request: PatchRequest,
              correlation_id: str, if_match: str | None = None) -> tuple[StoredResource, list[Outgoing]]:
        """RFC 7644 §3.5.2: apply the operations to the stored resource and store the result the way a
        replacement is stored (same checks, same events), all in the caller's transaction.

        The operations see what the IdP wrote (a user's requested ``active``, not the effective one);
        the read-only provisioning extension is kept by the replacement. A PATCH that changes nothing
        writes nothing: no new version, no event (§3.5.2.1: "no changes SHOULD be made").
        """
        kind = kind_of(kind_name)
        current = self._load(conn, kind, resource_id)
        require_match(if_match, current.version, f"{kind.name} '{resource_id}'", current.revision)
        row = conn.execute(f"SELECT resource FROM {kind.table} WHERE id = ?", (resource_id,)).fetchone()
        written = {k: v for k, v in codec.loads(row[0]).items() if k != PROVISIONING_URN}
        patched = apply_patch(kind.resource_type, written, request, resource_id)
        if patched == written:
            return current, []
        attributes = keep_immutable(kind.resource_type, current.attributes, patched)
        if kind_name == "User":
            return self._replace_user(conn, current, attributes, correlation_id)
        return self._replace_group(conn, current, attributes, correlation_id)

    def delete(self, conn: sqlite3.Connection, kind_name: str, resource_id: str, correlation_id: str,
               if_match: str | None = None) -> list[Outgoing]:
        """RFC 7644 §3.6: remove the resource and its memberships."""
        kind = kind_of(kind_name)
        current = self._load(conn, kind, resource_id)
        require_match(if_match, current.version, f"{kind.name} '{resource_id}'", current.revision)
        now = self.clock()
        messages = self._leave_groups(conn, resource_id, correlation_id, now)
        conn.execute(f"DELETE FROM {kind.table} WHERE id = ?", (resource_id,))
        messages.append(self._event(f"{kind.name}Deleted", resource_id, kind, current, correlation_id, now))
        return messages

    # --- users ---------------------------------------------------------------------------------

    def create_user(self, conn: sqlite3.Connection, attributes: dict[str, Any],
                    correlation_id: str) -> tuple[StoredResource, list[Outgoing]]:
        """RFC 7644 §3.3: store the user as pending; ``userName`` is unique case-insensitively."""
        attributes = dict(attributes)
        password = attributes.pop("password", None)
        key = self._unique_key(conn, KINDS["User"], attributes, None)
        attributes[PROVISIONING_URN] = {
            "state": PENDING,
            "services": [{"name": name, "state": "pending"} for name in self.provisioned_by],
        }
        attributes["schemas"] = _with_schema(attributes["schemas"], PROVISIONING_URN)
        user_id, now = self.ids(), self.clock()
        conn.execute(
            "INSERT INTO users (id, user_name_key, external_id, resource, state, created, last_modified, "
            "version, password_hash) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)",
            (user_id, key, attributes.get("externalId"), codec.dumps(attributes), PENDING, now, now,
             _hash_password(password) if isinstance(password, str) else None),
        )
        self._index_emails(conn, user_id, attributes)
        user = self._load(conn, KINDS["User"], user_id)
        event = new_message("identity.UserCreated", user_id,
                            {"user": _snapshot(user), "requested_active": _requested(attributes)},
                            at=now, correlation_id=correlation_id)
        self._watch(conn, event)
        return user, [Outgoing(TOPIC, event)]

    def _replace_user(self, conn: sqlite3.Connection, current: StoredResource, attributes: dict[str, Any],
                      correlation_id: str) -> tuple[StoredResource, list[Outgoing]]:
        kind = KINDS["User"]
        attributes = dict(attributes)
        password = attributes.pop("password", None)
        key = self._unique_key(conn, kind, attributes, current.id)
        row = conn.execute("SELECT resource, state FROM users WHERE id = ?", (current.id,)).fetchone()
        stored = codec.loads(row[0])
        if PROVISIONING_URN in stored:  # read-only, kept by identity for the saga
            attributes[PROVISIONING_URN] = stored[PROVISIONING_URN]
            attributes["schemas"] = _with_schema(attributes["schemas"], PROVISIONING_URN)
        now = self.clock()
        conn.execute(
            "UPDATE users SET user_name_key = ?, external_id = ?, resource = ?, last_modified = ?, "
            "version = version + 1, password_hash = coalesce(?, password_hash) WHERE id = ?",
            (key, attributes.get("externalId"), codec.dumps(attributes), now,
             _hash_password(password) if isinstance(password, str) else None, current.id),
        )
        self._index_emails(conn, current.id, attributes)
        user = self._load(conn, kind, current.id)
        event = self._event("UserUpdated", current.id, kind, user, correlation_id, now,
                            previous_version=current.version, requested_active=_requested(attributes),
                            previous_requested_active=_requested(stored), previous_state=row[1])
        self._watch(conn, event.envelope)
        return user, [event]

    def get_user(self, conn: sqlite3.Connection, user_id: str) -> StoredResource:
        return self.get(conn, "User", user_id)

    def query_users(self, conn: sqlite3.Connection, query: ListQuery) -> Page:
        return self.query(conn, "User", query)

    def delete_user(self, conn: sqlite3.Connection, user_id: str,
                    correlation_id: str) -> list[Outgoing]:
        """RFC 7644 §3.6: remove the user; the deprovisioning saga follows ``UserDeleted``."""
        return self.delete(conn, "User", user_id, correlation_id)

    # --- groups --------------------------------------------------------------------------------

    def create_group(self, conn: sqlite3.Connection, attributes: dict[str, Any],
                     correlation_id: str) -> tuple[StoredResource, list[Outgoing]]:
        """RFC 7643 §4.2: a group with a unique ``displayName`` and members that exist here."""
        kind = KINDS["Group"]
        attributes = dict(attributes)
        key = self._unique_key(conn, kind, attributes, None)
        group_id, now = self.ids(), self.clock()
        members = self._checked_members(conn, attributes, group_id)
        conn.execute(
            "INSERT INTO groups (id, display_name_key, external_id, resource, created, last_modified, "
            "version) VALUES (?, ?, ?, ?, ?, ?, 1)",
            (group_id, key, attributes.get("externalId"), codec.dumps(attributes), now, now),
        )
        added = self._set_members(conn, group_id, members)
        group = self._load(conn, kind, group_id)
        messages = [self._event("GroupCreated", group_id, kind, group, correlation_id, now)]
        if added:
            messages.append(_membership_changed(conn, group_id, added, [], correlation_id, now))
        return group, messages

    def _replace_group(self, conn: sqlite3.Connection, current: StoredResource, attributes: dict[str, Any],
                       correlation_id: str) -> tuple[StoredResource, list[Outgoing]]:
        """Store a group's new attributes; its membership rows change by the difference only, so a
        change of a few members in a group of thousands writes a few rows."""
        kind = KINDS["Group"]
        attributes = dict(attributes)
        key = self._unique_key(conn, kind, attributes, current.id)
        before = dict(conn.execute("SELECT member_id, member_type FROM group_members WHERE group_id = ?",
                                   (current.id,)).fetchall())
        members = dict(self._checked_members(conn, attributes, current.id, before))
        now = self.clock()
        conn.execute(
            "UPDATE groups SET display_name_key = ?, external_id = ?, resource = ?, last_modified = ?, "
            "version = version + 1 WHERE id = ?",
            (key, attributes.get("externalId"), codec.dumps(attributes), now, current.id),
        )
        added = sorted(member for member in members if member not in before)
        removed = sorted(member for member in before if member not in members)
        conn.executemany("DELETE FROM group_members WHERE group_id = ? AND member_id = ?",
                         [(current.id, member) for member in removed])
        self._set_members(conn, current.id, [(member, members[member]) for member in added])
        group = self._load(conn, kind, current.id)
        messages = [self._event("GroupUpdated", current.id, kind, group, correlation_id, now)]
        if added or removed:
            messages.append(_membership_changed(conn, current.id, added, removed, correlation_id, now))
        return group, messages

    def _checked_members(self, conn: sqlite3.Connection, attributes: dict[str, Any], group_id: str,
                         known: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
        """Each member's (id, type); every member must be a user or a group of this store.

        A member sent twice is kept once; ``type`` is filled in where the client left it out. Members
        in ``known`` (id to type: the group's members already) are not looked up again; the others are
        looked up in batches, so the work grows with the number of members, not its square.
        """
        known = known or {}
        members: list[dict[str, Any]] = attributes.get("members") or []
        for index, member in enumerate(members):
            if not isinstance(member.get("value"), str):
                raise InvalidValue(f"'members[{index}].value' is required: the id of a User or a Group")
        found = _member_types(conn, [m["value"] for m in members if m["value"] not in known])
        seen: dict[str, str] = {}
        kept: list[dict[str, Any]] = []
        for index, member in enumerate(members):
            value = member["value"]
            kind = known.get(value) or found.get(value)
            sent = member.get("type")
            if kind is None or (isinstance(sent, str) and sent.lower() in ("user", "group")
                                and sent.lower() != kind.lower()):
                named = isinstance(sent, str) and sent.lower() in ("user", "group")
                what = sent if named else "User or Group"
                raise InvalidValue(f"'members[{index}].value': no {what} has the id '{value}'")
            if value == group_id:
                raise InvalidValue(f"'members[{index}].value': a group cannot be a member of itself")
            if value in seen:
                continue
            seen[value] = kind
            kept.append(member if member.get("type") == kind else {**member, "type": kind})
        if members:
            attributes["members"] = kept
        return list(seen.items())

    def _set_members(self, conn: sqlite3.Connection, group_id: str,
                     members: list[tuple[str, str]]) -> list[str]:
        conn.executemany(
            "INSERT OR IGNORE INTO group_members (group_id, member_id, member_type, value_key) "
            "VALUES (?, ?, ?, ?)",
            [(group_id, member_id, member_type, str(scim_fold(member_id)))
             for member_id, member_type in members],
        )
        return [member_id for member_id, _ in members]

    def _leave_groups(self, conn: sqlite3.Connection, member_id: str, correlation_id: str,
                      now: str) -> list[Outgoing]:
        """Take a removed user or group out of every group it was in (RFC 7644 §3.6)."""
        group_ids = [row[0] for row in conn.execute(
            "SELECT group_id FROM group_members WHERE member_id = ? ORDER BY group_id", (member_id,))]
        messages: list[Outgoing] = []
        for group_id in group_ids:
            resource = codec.loads(conn.execute("SELECT resource FROM groups WHERE id = ?",
                                               (group_id,)).fetchone()[0])
            remaining = [m for m in resource.get("members", []) if m.get("value") != member_id]
            if remaining:
                resource["members"] = remaining
            else:
                resource.pop("members", None)
            conn.execute("UPDATE groups SET resource = ?, last_modified = ?, version = version + 1 "
                         "WHERE id = ?", (codec.dumps(resource), now, group_id))
            conn.execute("DELETE FROM group_members WHERE group_id = ? AND member_id = ?",
                         (group_id, member_id))
            messages.append(_membership_changed(conn, group_id, [], [member_id], correlation_id, now))
        return messages

    # --- what the saga tells identity ------------------------------------------------------------

    def record_provisioning(self, envelope: Envelope, conn: sqlite3.Connection) -> Sequence[Outgoing]:
        """Show a saga's progress in the user's provisioning extension (and ``failed`` if it failed)."""
        state = envelope.payload.get("state")
        self._set_provisioning(conn, envelope.key, envelope.payload["services"],
                               state=FAILED if state == FAILED else None)
        return ()

    def fail(self, envelope: Envelope, conn: sqlite3.Connection) -> Sequence[Outgoing]:
        """A reactivation failed for good: keep the user, inactive, with ``state: failed``."""
        found = self._set_provisioning(conn, envelope.key, envelope.payload["services"], state=FAILED)
        return [Outgoing(TOPIC, envelope.caused(
            "identity.UserFailed", {"saga_id": envelope.payload["saga_id"], "found": found,
                                    "reason": envelope.payload.get("reason")}, at=self.clock()))]

    def deactivate(self, envelope: Envelope, conn: sqlite3.Connection) -> Sequence[Outgoing]:
        """The services let the user go (``active: false``): ``state: deactivated``."""
        found = self._set_provisioning(conn, envelope.key, envelope.payload["services"], state=DEACTIVATED)
        return [Outgoing(TOPIC, envelope.caused(
            "identity.UserDeactivated", {"saga_id": envelope.payload["saga_id"], "found": found},
            at=self.clock()))]

    # --- choreography: identity watches the services' outcomes ------------------------------------

    def _watch(self, conn: sqlite3.Connection, event: Envelope) -> None:
        """In choreography, start watching the saga an identity event starts, if it ends at identity."""
        if self.outcomes is None:
            return
        definition = choose(event.type, event.payload, self.definitions).definition
        if definition.on_success or definition.on_failure:
            self.outcomes.watch(conn, definition, saga_id_for(definition, event.id), event.key,
                                event.occurred_at)

    def outcome_reported(self, envelope: Envelope, conn: sqlite3.Connection) -> Sequence[Outgoing]:
        """A service's reply in choreography: record it; once the outcome is decided, act on it."""
        assert self.outcomes is not None
        if "saga_id" not in envelope.payload or "phase" not in envelope.payload:
            return ()
        decided = self.outcomes.record(conn, envelope, self.clock())
        saga_id = str(envelope.payload["saga_id"])
        definition = self.definitions.get(saga_id.split("-", 1)[0])
        if definition is None:
            return ()
        services = self.outcomes.services(conn, saga_id)
        if decided is None:
            if definition.report_progress and services:
                self._set_provisioning(conn, envelope.key, services, state=None)
            return ()
        verdict = decided[1]
        command = definition.on_success if verdict.ok else definition.on_failure
        handler = self.handlers().get(command or "")
        if handler is None:
            return ()
        final = envelope.caused(command or "", {"saga_id": saga_id, "services": services,
                                                "reason": verdict.reason}, at=self.clock())
        return handler(final, conn)

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
        messages: list[Outgoing] = []
        if deleted:
            messages = self._leave_groups(conn, user_id, envelope.correlation_id, self.clock())
            conn.execute("DELETE FROM users WHERE id = ?", (user_id,))
            conn.execute("DELETE FROM user_emails WHERE user_id = ?", (user_id,))
        else:
            self._set_provisioning(conn, user_id, envelope.payload["services"], state=FAILED)
        return [*messages, Outgoing(TOPIC, envelope.caused(
            "identity.UserCompensated",
            {"saga_id": envelope.payload["saga_id"], "deleted": deleted,
             "reason": envelope.payload.get("reason")},
            at=self.clock()))]

    # --- observation -----------------------------------------------------------------------------

    def describe(self, conn: sqlite3.Connection) -> dict[str, Any]:
        rows = conn.execute("SELECT state, count(*) FROM users GROUP BY state").fetchall()
        groups = conn.execute("SELECT count(*) FROM groups").fetchone()[0]
        described: dict[str, Any] = {"users": dict(rows), "groups": groups}
        if self.outcomes is not None:  # in choreography the sagas are the outcomes identity watches
            described["sagas"] = self.outcomes.counts(conn)
        return described

    def state_of(self, conn: sqlite3.Connection, user_id: str) -> dict[str, Any] | None:
        try:
            return _snapshot(self._load(conn, KINDS["User"], user_id))
        except NotFound:
            return None

    # --- helpers ---------------------------------------------------------------------------------

    def _unique_key(self, conn: sqlite3.Connection, kind: Kind, attributes: Mapping[str, Any],
                    resource_id: str | None) -> str:
        value = attributes[kind.unique_attribute]
        key = str(scim_fold(value))
        row = conn.execute(f"SELECT id FROM {kind.table} WHERE {kind.unique_column} = ?", (key,)).fetchone()
        if row is not None and row[0] != resource_id:
            raise Uniqueness(f"{kind.unique_attribute} '{value}' is already taken")
        return key

    def _load(self, conn: sqlite3.Connection, kind: Kind, resource_id: str) -> StoredResource:
        row = conn.execute(f"SELECT {_columns(kind)} FROM {kind.table} WHERE id = ?",
                           (resource_id,)).fetchone()
        if row is None:
            raise NotFound(f"{kind.name} '{resource_id}' not found")
        return self._resources(conn, kind, [row])[0]

    def _resources(self, conn: sqlite3.Connection, kind: Kind,
                   rows: Sequence[tuple[Any, ...]]) -> list[StoredResource]:
        if kind.name == "Group":
            return [_group_row(row) for row in rows]
        memberships = _memberships(conn, [row[0] for row in rows])
        return [_user_row(row, memberships.get(row[0], [])) for row in rows]

    def _event(self, name: str, resource_id: str, kind: Kind, resource: StoredResource, correlation_id: str,
               now: str, **extra: Any) -> Outgoing:
        field = "user" if kind.name == "User" else "group"
        return Outgoing(TOPIC, new_message(f"identity.{name}", resource_id,
                                           {field: _snapshot(resource), **extra},
                                           at=now, correlation_id=correlation_id))

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
        attributes = codec.loads(row[0])
        new_state = state or row[1]
        attributes[PROVISIONING_URN] = {"state": new_state, "services": services}
        conn.execute(  # the provider's own change: a new revision, not a new version (see scim/etag.py)
            "UPDATE users SET resource = ?, state = ?, last_modified = ?, revision = revision + 1 "
            "WHERE id = ?",
            (codec.dumps(attributes), new_state, self.clock(), user_id),
        )
        return True


def _columns(kind: Kind) -> str:
    table = kind.table
    state, revision = ("state", "revision") if kind.name == "User" else ("NULL", "0")
    return (f"{table}.id, {table}.resource, {state}, {table}.created, {table}.last_modified, "
            f"{table}.version, {revision}")


def _memberships(conn: sqlite3.Connection, user_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """The direct groups of each user, for its read-only ``groups`` attribute (RFC 7643 §4.1.2)."""
    found: dict[str, list[dict[str, Any]]] = {}
    if not user_ids:
        return found
    for start in range(0, len(user_ids), 500):
        chunk = user_ids[start:start + 500]
        marks = ", ".join("?" * len(chunk))
        rows = conn.execute(
            "SELECT gm.member_id, g.id, json_extract(g.resource, '$.displayName') FROM group_members AS gm "
            f"JOIN groups AS g ON g.id = gm.group_id WHERE gm.member_id IN ({marks}) "
            "ORDER BY gm.member_id, g.created, g.id", chunk).fetchall()
        for member_id, group_id, display in rows:
            found.setdefault(member_id, []).append({"value": group_id, "display": display, "type": "direct"})
    return found


def _user_row(row: tuple[Any, ...], groups: list[dict[str, Any]]) -> StoredResource:
    user_id, resource, state, created, last_modified, version, revision = row
    attributes = codec.loads(resource)
    attributes["active"] = state == ACTIVE and attributes.get("active", True) is True
    if groups:
        attributes["groups"] = groups
    return StoredResource(user_id, attributes, created, last_modified, version, revision)


def _group_row(row: tuple[Any, ...]) -> StoredResource:
    group_id, resource, _, created, last_modified, version, _ = row
    return StoredResource(group_id, codec.loads(resource), created, last_modified, version)


def _with_schema(schemas: Iterable[str], urn: str) -> list[str]:
    """``schemas`` listing ``urn`` once (the client may have listed it already)."""
    listed = list(schemas)
    return listed if urn in listed else [*listed, urn]


_CHUNK = 500
"""Ids per ``IN (...)`` query: far below SQLite's limit on parameters, large enough to batch."""


def _ids_in(conn: sqlite3.Connection, table: str, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` are rows of ``table``, asked in batches."""
    found: set[str] = set()
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        found.update(row[0] for row in conn.execute(
            f"SELECT id FROM {table} WHERE id IN ({', '.join('?' * len(chunk))})", chunk))
    return found


def _member_types(conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, str]:
    """The resource type of each id that names a user or a group here."""
    unique = list(dict.fromkeys(ids))
    users = _ids_in(conn, "users", unique)
    groups = _ids_in(conn, "groups", [i for i in unique if i not in users])
    return {**dict.fromkeys(users, "User"), **dict.fromkeys(groups, "Group")}


def _membership_changed(conn: sqlite3.Connection, group_id: str, added: Sequence[str],
                        removed: Sequence[str], correlation_id: str, now: str) -> Outgoing:
    """``GroupMembershipChanged``: ``added``/``removed`` list users; nested groups go in
    ``added_groups``/``removed_groups``, present only when there are some."""
    row = conn.execute("SELECT json_extract(resource, '$.displayName') FROM groups WHERE id = ?",
                       (group_id,)).fetchone()
    groups = _ids_in(conn, "groups", [*added, *removed])
    payload: dict[str, Any] = {
        "group_id": group_id, "display_name": row[0] if row else None,
        "added": [m for m in added if m not in groups], "removed": [m for m in removed if m not in groups],
    }
    if any(m in groups for m in added):
        payload["added_groups"] = [m for m in added if m in groups]
    if any(m in groups for m in removed):
        payload["removed_groups"] = [m for m in removed if m in groups]
    return Outgoing(TOPIC, new_message("identity.GroupMembershipChanged", group_id, payload,
                                       at=now, correlation_id=correlation_id))


def _requested(attributes: Mapping[str, Any]) -> bool:
    """The ``active`` the IdP asked for (unset counts as true); what identity serves is effective."""
    return attributes.get("active", True) is not False


def _snapshot(resource: StoredResource) -> dict[str, Any]:
    return {"id": resource.id, **resource.attributes, "meta": {"version": resource.version}}


def _hash_password(password: str) -> str:
    """scrypt (RFC 7914) with a random salt: the cleartext is never stored (RFC 7643 §4.1.1)."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return "scrypt$16384$8$1$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


class IdentityHost(ServiceHost):
    """The identity actor: SCIM reads and writes, plus the saga's commands from the bus."""

    service: IdentityService

    def __init__(self, service: IdentityService, settings: Settings, publish: Publish | None,
                 **options: Any) -> None:
        super().__init__(service, settings, publish, **options)

    def _write(self, messages: Sequence[Outgoing]) -> None:
        outbox.add(self.conn, messages)

    # --- any resource type (the IdentityPort) ----------------------------------------------------

    def create(self, kind: str, attributes: dict[str, Any], correlation_id: str) -> StoredResource:
        with transaction(self.conn):
            resource, messages = self.service.create(self.conn, kind, attributes, correlation_id)
            self._write(messages)
        self.notify_relay()
        return resource

    def get(self, kind: str, resource_id: str) -> StoredResource:
        return self.service.get(self.conn, kind, resource_id)

    def query(self, kind: str, query: ListQuery) -> Page:
        return self.service.query(self.conn, kind, query)

    def replace(self, kind: str, resource_id: str, attributes: dict[str, Any], correlation_id: str,
                if_match: str | None = None) -> StoredResource:
        with transaction(self.conn):
            resource, messages = self.service.replace(self.conn, kind, resource_id, attributes,
                                                      correlation_id, if_match)
            self._write(messages)
        self.notify_relay()
        return resource

    def patch(self, kind: str, resource_id: str, request: PatchRequest, correlation_id: str,
              if_match: str | None = None) -> StoredResource:
        with transaction(self.conn):
            resource, messages = self.service.patch(self.conn, kind, resource_id, request, correlation_id,
                                                    if_match)
            self._write(messages)
        if messages:
            self.notify_relay()
        return resource

    def delete(self, kind: str, resource_id: str, correlation_id: str, if_match: str | None = None) -> None:
        with transaction(self.conn):
            self._write(self.service.delete(self.conn, kind, resource_id, correlation_id, if_match))
        self.notify_relay()

    def many(self, calls: Sequence[Call]) -> list[Outcome]:
        """Several of the calls above in one Ray call, each on its own (see ``coalescing.py``)."""
        return run_calls(self, calls, PORT_CALLS, (ScimError,), _unexpected)

    def many_packed(self, packed: bytes) -> bytes:
        """:meth:`many` as the front door calls it over Ray, calls and outcomes packed (``pack``)."""
        return pack(self.many(unpack(packed)))

    # --- the skeleton's user-only names ----------------------------------------------------------

    def create_user(self, attributes: dict[str, Any], correlation_id: str) -> StoredResource:
        return self.create("User", attributes, correlation_id)

    def get_user(self, user_id: str) -> StoredResource:
        return self.get("User", user_id)

    def query_users(self, query: ListQuery) -> Page:
        return self.query("User", query)

    def delete_user(self, user_id: str, correlation_id: str, if_match: str | None = None) -> None:
        self.delete("User", user_id, correlation_id, if_match)


PORT_CALLS = frozenset(("create", "get", "query", "replace", "patch", "delete",
                        "create_user", "get_user", "query_users", "delete_user"))
"""What the front door may ask of identity in a batch: the IdentityPort."""


def _unexpected(exc: Exception) -> Exception:
    """A failure that is no SCIM error (a bug, a broken disk): logged here with its traceback; the
    front door answers 500 without one."""
    log.error("a call to identity failed: %s", exc, exc_info=exc)
    return RuntimeError(f"identity failed: {type(exc).__name__}")

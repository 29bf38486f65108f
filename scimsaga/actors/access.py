"""Access: the entitlements each user holds.

Provisioning grants the default entitlements (a saga step) and deprovisioning revokes them. Group
memberships follow identity's ``GroupMembershipChanged`` and ``GroupDeleted`` events directly, as a
read model. A user's entitlements are its defaults plus ``group:<group id>`` for each group it is in,
for as long as it is provisioned here: so a deactivated user holds nothing, and a reactivated one gets
its groups back without identity having to say them again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from ..bus.consumer import Handler
from ..bus.envelope import Envelope, Outgoing
from .service import Reply, Service


class AccessService(Service):
    name = "access"
    choreographed = True
    tables = """
    CREATE TABLE IF NOT EXISTS grants (
        user_id TEXT NOT NULL,
        entitlement TEXT NOT NULL,
        granted_at TEXT NOT NULL,
        PRIMARY KEY (user_id, entitlement)
    );
    CREATE TABLE IF NOT EXISTS memberships (
        user_id TEXT NOT NULL,
        group_id TEXT NOT NULL,
        PRIMARY KEY (user_id, group_id)
    );
    CREATE INDEX IF NOT EXISTS memberships_by_group ON memberships (group_id);
    """

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "access.GrantDefaults": self.command(self.grant_defaults),
            "access.RevokeAll": self.command(self.revoke_all),
            "identity.GroupMembershipChanged": self.membership_changed,
            "identity.GroupDeleted": self.group_deleted,
        }

    def grant_defaults(self, envelope: Envelope, conn: sqlite3.Connection) -> Reply:
        now = self.clock()
        conn.executemany(
            "INSERT OR IGNORE INTO grants (user_id, entitlement, granted_at) VALUES (?, ?, ?)",
            [(envelope.key, entitlement, now) for entitlement in self.settings.default_entitlements],
        )
        return Reply("access.DefaultsGranted", ok=True,
                     reference=",".join(self.settings.default_entitlements))

    def revoke_all(self, envelope: Envelope, conn: sqlite3.Connection) -> Reply:
        revoked = conn.execute("DELETE FROM grants WHERE user_id = ?", (envelope.key,)).rowcount
        return Reply("access.AccessRevoked", ok=True, data={"revoked": revoked})

    def membership_changed(self, envelope: Envelope, conn: sqlite3.Connection) -> Sequence[Outgoing]:
        group_id = envelope.payload["group_id"]
        conn.executemany("INSERT OR IGNORE INTO memberships (user_id, group_id) VALUES (?, ?)",
                         [(member, group_id) for member in envelope.payload.get("added", ())])
        conn.executemany("DELETE FROM memberships WHERE user_id = ? AND group_id = ?",
                         [(member, group_id) for member in envelope.payload.get("removed", ())])
        return ()

    def group_deleted(self, envelope: Envelope, conn: sqlite3.Connection) -> Sequence[Outgoing]:
        conn.execute("DELETE FROM memberships WHERE group_id = ?", (envelope.key,))
        return ()

    def entitlements(self, conn: sqlite3.Connection, user_id: str) -> list[str]:
        """Defaults plus group entitlements, while the user is provisioned here; else none."""
        defaults = [r[0] for r in conn.execute(
            "SELECT entitlement FROM grants WHERE user_id = ?", (user_id,))]
        if not defaults:
            return []
        groups = [f"group:{r[0]}" for r in conn.execute(
            "SELECT group_id FROM memberships WHERE user_id = ?", (user_id,))]
        return sorted(defaults + groups)

    def describe(self, conn: sqlite3.Connection) -> dict[str, Any]:
        users, grants = conn.execute("SELECT count(DISTINCT user_id), count(*) FROM grants").fetchone()
        memberships = conn.execute("SELECT count(*) FROM memberships").fetchone()[0]
        return {"users_with_access": users, "grants": grants, "memberships": memberships}

    def state_of(self, conn: sqlite3.Connection, user_id: str) -> dict[str, Any] | None:
        entitlements = self.entitlements(conn, user_id)
        return {"entitlements": entitlements} if entitlements else None

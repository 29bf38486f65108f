"""Access: the entitlements each user holds; defaults on provisioning, all revoked on the way out."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from ..bus.consumer import Handler
from ..bus.envelope import Envelope
from .service import Reply, Service


class AccessService(Service):
    name = "access"
    tables = """
    CREATE TABLE IF NOT EXISTS grants (
        user_id TEXT NOT NULL,
        entitlement TEXT NOT NULL,
        source TEXT NOT NULL,
        granted_at TEXT NOT NULL,
        PRIMARY KEY (user_id, entitlement)
    );
    """

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "access.GrantDefaults": self.command(self.grant_defaults),
            "access.RevokeAll": self.command(self.revoke_all),
        }

    def grant_defaults(self, envelope: Envelope, conn: sqlite3.Connection) -> Reply:
        now = self.clock()
        conn.executemany(
            "INSERT OR IGNORE INTO grants (user_id, entitlement, source, granted_at) "
            "VALUES (?, ?, 'default', ?)",
            [(envelope.key, entitlement, now) for entitlement in self.settings.default_entitlements],
        )
        return Reply("access.DefaultsGranted", ok=True,
                     reference=",".join(self.settings.default_entitlements))

    def revoke_all(self, envelope: Envelope, conn: sqlite3.Connection) -> Reply:
        revoked = conn.execute("DELETE FROM grants WHERE user_id = ?", (envelope.key,)).rowcount
        return Reply("access.AccessRevoked", ok=True, data={"revoked": revoked})

    def describe(self, conn: sqlite3.Connection) -> dict[str, Any]:
        users, grants = conn.execute("SELECT count(DISTINCT user_id), count(*) FROM grants").fetchone()
        return {"users_with_access": users, "grants": grants}

    def state_of(self, conn: sqlite3.Connection, user_id: str) -> dict[str, Any] | None:
        rows = conn.execute("SELECT entitlement FROM grants WHERE user_id = ? ORDER BY entitlement",
                            (user_id,)).fetchall()
        return {"entitlements": [r[0] for r in rows]} if rows else None

"""Profile: a read model of each user's name, emails, locale and title, kept by the profile service."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from ..bus import codec
from ..bus.consumer import Handler
from ..bus.envelope import Envelope
from .service import Reply, Service, user_snapshot


class ProfileService(Service):
    name = "profile"
    choreographed = True
    tables = """
    CREATE TABLE IF NOT EXISTS profiles (
        user_id TEXT PRIMARY KEY,
        display_name TEXT,
        emails TEXT NOT NULL,
        locale TEXT,
        title TEXT,
        source_version INTEGER NOT NULL,
        updated_at TEXT NOT NULL
    );
    """

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "profile.CreateProfile": self.command(self.create_profile),
            "profile.UpdateProfile": self.command(self.update_profile),
            "profile.RemoveProfile": self.command(self.remove_profile),
        }

    def create_profile(self, envelope: Envelope, conn: sqlite3.Connection) -> Reply:
        self._write(conn, envelope.key, user_snapshot(envelope))
        return Reply("profile.ProfileCreated", ok=True, reference=envelope.key)

    def update_profile(self, envelope: Envelope, conn: sqlite3.Connection) -> Reply:
        """Follow a change of the user; an older version never overwrites a newer one, and a user
        without a profile (never provisioned, or gone) does not get one from an update."""
        if conn.execute("SELECT 1 FROM profiles WHERE user_id = ?", (envelope.key,)).fetchone():
            self._write(conn, envelope.key, user_snapshot(envelope))
        return Reply("profile.ProfileUpdated", ok=True, reference=envelope.key)

    def _write(self, conn: sqlite3.Connection, user_id: str, user: dict[str, Any]) -> None:
        name = user.get("name") or {}
        display = user.get("displayName") or name.get("formatted") or " ".join(
            part for part in (name.get("givenName"), name.get("familyName")) if part) or user.get("userName")
        emails = [e.get("value") for e in user.get("emails", ()) if e.get("value")]
        conn.execute(
            "INSERT INTO profiles (user_id, display_name, emails, locale, title, source_version, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(user_id) DO UPDATE SET "
            "display_name = excluded.display_name, emails = excluded.emails, locale = excluded.locale, "
            "title = excluded.title, source_version = excluded.source_version, "
            "updated_at = excluded.updated_at WHERE excluded.source_version >= profiles.source_version",
            (user_id, display, codec.dumps(emails), user.get("locale"), user.get("title"),
             (user.get("meta") or {}).get("version", 0), self.clock()),
        )

    def remove_profile(self, envelope: Envelope, conn: sqlite3.Connection) -> Reply:
        conn.execute("DELETE FROM profiles WHERE user_id = ?", (envelope.key,))
        return Reply("profile.ProfileRemoved", ok=True)

    def describe(self, conn: sqlite3.Connection) -> dict[str, Any]:
        return {"profiles": conn.execute("SELECT count(*) FROM profiles").fetchone()[0]}

    def state_of(self, conn: sqlite3.Connection, user_id: str) -> dict[str, Any] | None:
        row = conn.execute("SELECT display_name, emails, locale, title, source_version FROM profiles "
                           "WHERE user_id = ?", (user_id,)).fetchone()
        if row is None:
            return None
        return {"display_name": row[0], "emails": codec.loads(row[1]), "locale": row[2], "title": row[3],
                "source_version": row[4]}

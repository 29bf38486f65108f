"""Billing: a customer per user, and a rule about cost centers that can say no.

``CreateCustomer`` is rejected, as a business decision that is never retried, when the user's
enterprise ``costCenter`` does not match the configured rule (default ``CC-`` and four digits; no cost
center is fine). ``CloseCustomer`` undoes it, for a compensation or a deprovisioning.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping
from typing import Any

from ..bus.consumer import Handler
from ..bus.envelope import Envelope
from ..scim.schema import ENTERPRISE_USER_URN
from .service import BusinessRuleViolation, Reply, Service, user_snapshot


class CostCenterRejected(BusinessRuleViolation):
    """The user's cost center breaks the configured rule."""

    reply_type = "billing.CustomerRejected"


class BillingService(Service):
    name = "billing"
    choreographed = True
    tables = """
    CREATE TABLE IF NOT EXISTS customers (
        user_id TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL UNIQUE,
        cost_center TEXT,
        status TEXT NOT NULL,
        opened_at TEXT NOT NULL,
        closed_at TEXT
    );
    """

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "billing.CreateCustomer": self.command(self.create_customer),
            "billing.CloseCustomer": self.command(self.close_customer),
        }

    def create_customer(self, envelope: Envelope, conn: sqlite3.Connection) -> Reply:
        user = user_snapshot(envelope)
        cost_center = (user.get(ENTERPRISE_USER_URN) or {}).get("costCenter")
        rule = self.settings.cost_center_pattern
        if cost_center is not None and not re.fullmatch(rule, cost_center):
            raise CostCenterRejected(f"costCenter '{cost_center}' does not match the rule {rule}")
        row = conn.execute("SELECT customer_id FROM customers WHERE user_id = ?", (envelope.key,)).fetchone()
        customer_id = row[0] if row else "cus_" + self.ids().replace("-", "")[:16]
        conn.execute(
            "INSERT INTO customers (user_id, customer_id, cost_center, status, opened_at) "
            "VALUES (?, ?, ?, 'open', ?) ON CONFLICT(user_id) DO UPDATE SET "
            "customer_id = excluded.customer_id, cost_center = excluded.cost_center, status = 'open', "
            "opened_at = excluded.opened_at, closed_at = NULL",
            (envelope.key, customer_id, cost_center, self.clock()),
        )
        return Reply("billing.CustomerCreated", ok=True, reference=customer_id)

    def close_customer(self, envelope: Envelope, conn: sqlite3.Connection) -> Reply:
        row = conn.execute("SELECT customer_id FROM customers WHERE user_id = ? AND status = 'open'",
                           (envelope.key,)).fetchone()
        conn.execute("UPDATE customers SET status = 'closed', closed_at = ? WHERE user_id = ?",
                     (self.clock(), envelope.key))
        return Reply("billing.CustomerClosed", ok=True, reference=row[0] if row else None)

    def describe(self, conn: sqlite3.Connection) -> dict[str, Any]:
        return {"customers": dict(conn.execute("SELECT status, count(*) FROM customers GROUP BY status"))}

    def state_of(self, conn: sqlite3.Connection, user_id: str) -> dict[str, Any] | None:
        row = conn.execute("SELECT customer_id, cost_center, status FROM customers "
                           "WHERE user_id = ? AND status = 'open'", (user_id,)).fetchone()
        return None if row is None else {"customer_id": row[0], "cost_center": row[1], "status": row[2]}

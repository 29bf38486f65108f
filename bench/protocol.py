"""Protocol layer: validate and serialize a typical Entra ID-style user (µs per user).

    .venv/bin/python -m bench.protocol [--json bench/results/protocol.json]

Measures ``parse_resource`` (request body to stored attributes) and ``render`` (stored attributes to
response body), the work the front door does per POST besides the actor call.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from scimsaga.scim.resource import Meta, parse_resource, render
from scimsaga.scim.schema import ENTERPRISE_USER_URN, USER, USER_SCHEMA_URN

from .machine import describe

ENTRA_STYLE_USER: dict[str, Any] = {
    "schemas": [USER_SCHEMA_URN, ENTERPRISE_USER_URN],
    "externalId": "0a21f0f2-8d2a-4f8e-97fa-0d9b2f1a5c11",
    "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@contoso.example",
    "active": True,
    "displayName": "Test User",
    "title": "Engineer",
    "preferredLanguage": "en-US",
    "emails": [{"primary": True, "type": "work", "value": "Test_User_1@contoso.example"}],
    "phoneNumbers": [{"type": "work", "value": "+1 555 0100"}],
    "addresses": [{"type": "work", "streetAddress": "1 Main St", "locality": "Redmond",
                   "region": "WA", "postalCode": "98052", "country": "US", "primary": True}],
    "meta": {"resourceType": "User"},
    "name": {"formatted": "Test User", "familyName": "User", "givenName": "Test"},
    ENTERPRISE_USER_URN: {"employeeNumber": "1001", "department": "Sales", "costCenter": "CC-1234",
                          "manager": {"value": "7a1b2c3d"}},
}


def _time(fn: Any, rounds: int, per_round: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(per_round):
            fn()
        samples.append((time.perf_counter() - start) / per_round * 1e6)
    return samples


def run(rounds: int = 15, per_round: int = 2000) -> dict[str, Any]:
    stored = parse_resource(USER, ENTRA_STYLE_USER)
    meta = Meta("User", "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z",
                "http://127.0.0.1:8080/scim/v2/Users/1", 1)
    cases = {
        "parse_resource": lambda: parse_resource(USER, ENTRA_STYLE_USER),
        "render": lambda: render(USER, "1", stored, meta),
        "parse_and_render": lambda: render(USER, "1", parse_resource(USER, ENTRA_STYLE_USER), meta),
    }
    figures = {}
    for name, fn in cases.items():
        samples = _time(fn, rounds, per_round)
        figures[name] = {"median_us": round(statistics.median(samples), 2),
                         "min_us": round(min(samples), 2), "rounds": rounds, "per_round": per_round}
    return {"benchmark": "protocol", "machine": describe(), "figures": figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the result here as JSON")
    args = parser.parse_args()
    result = run()
    for name, figure in result["figures"].items():
        print(f"{name:<18} median {figure['median_us']:8.2f} µs   best {figure['min_us']:8.2f} µs")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

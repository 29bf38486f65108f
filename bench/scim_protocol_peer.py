"""Validate and serialize one Entra ID-style user: scimsaga's protocol layer beside scim2-models.

    .venv/bin/python -m bench.scim_protocol_peer [--json bench/results/scim_protocol_peer.json]

The same request body goes through both: scimsaga's ``parse_resource`` then ``render``, and
scim2-models' ``User[EnterpriseUser].model_validate`` (creation request context) then ``model_dump``
(creation response context). The manager carries a ``$ref``, which scim2-models requires. The goal:
scimsaga at least ten times faster. scim2-models is a dev dependency (it comes with scim2-tester).
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from scimsaga.scim.resource import Meta, parse_resource, render
from scimsaga.scim.schema import ENTERPRISE_USER_URN, USER

from .machine import describe
from .protocol import ENTRA_STYLE_USER


def body() -> dict[str, Any]:
    sent = copy.deepcopy(ENTRA_STYLE_USER)
    sent[ENTERPRISE_USER_URN]["manager"] = {"value": "7a1b2c3d",
                                            "$ref": "https://127.0.0.1:8080/scim/v2/Users/7a1b2c3d"}
    return sent


def ours() -> Callable[[], Any]:
    sent = body()
    meta = Meta("User", "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z",
                "http://127.0.0.1:8080/scim/v2/Users/1", 1)
    return lambda: render(USER, "1", parse_resource(USER, sent), meta)


def peer() -> Callable[[], Any]:
    from scim2_models import Context, EnterpriseUser, User

    model = User[EnterpriseUser]
    sent = body()
    sent.pop("meta")

    def run() -> Any:
        user = model.model_validate(sent, scim_ctx=Context.RESOURCE_CREATION_REQUEST)
        user.id = "1"
        return user.model_dump(scim_ctx=Context.RESOURCE_CREATION_RESPONSE)

    return run


def _samples(fn: Callable[[], Any], rounds: int, per_round: int) -> list[float]:
    fn()
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(per_round):
            fn()
        out.append((time.perf_counter() - start) / per_round * 1e6)
    return out


def run(rounds: int = 15) -> dict[str, Any]:
    figures = {}
    for name, fn, per_round in (("scimsaga", ours(), 2000), ("scim2-models", peer(), 200)):
        samples = _samples(fn, rounds, per_round)
        figures[name] = {"median_us": round(statistics.median(samples), 2),
                         "min_us": round(min(samples), 2), "rounds": rounds, "per_round": per_round}
    speedup = figures["scim2-models"]["median_us"] / figures["scimsaga"]["median_us"]
    figures["speedup_median"] = round(speedup, 1)
    return {"benchmark": "scim_protocol_peer", "machine": describe(),
            "peer_version": metadata.version("scim2-models"), "goal": "scimsaga at least 10x faster",
            "figures": figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the result here as JSON")
    args = parser.parse_args()
    result = run()
    figures = result["figures"]
    for name in ("scimsaga", "scim2-models"):
        figure = figures[name]
        print(f"{name:<13} median {figure['median_us']:9.2f} µs   best {figure['min_us']:9.2f} µs")
    print(f"scimsaga is {figures['speedup_median']}x faster (median)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

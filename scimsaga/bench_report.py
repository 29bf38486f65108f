"""The shape of what ``scimsaga bench`` reports, built from what it measured; and its table.

A report is JSON: ``machine`` (``bench_machine.describe()``), ``settings``, and one entry in ``runs``
per deployment measured (a mode at a fan-out width). Each run holds three ``stages``, each with
``count``, ``p50_ms``, ``p95_ms``, ``p99_ms``, ``max_ms`` and ``cdf_ms`` (the quantiles at 0..100 %):

- ``ack``: the HTTP acknowledgement of ``POST /Users``, client side (request sent to answer read);
- ``fanout``: identity's outbox commit of ``UserCreated`` to the last subscriber's acknowledgement,
  timed by the broker;
- ``saga``: ``meta.created`` to ``meta.lastModified`` of each active user (POST accepted to
  ``active: true``), on identity's clock;

``throughput`` (acknowledgements and completed provisionings per second) and ``checks`` (every user
active within the run, no errors, every creation's fan-out timed). ``ok`` is all checks held.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .bench_collect import Provisioned
from .bench_load import Load
from .bench_stats import epoch, per_second, summarize

STAGES = ("ack", "fanout", "saga")
STAGE_TITLES = {"ack": "HTTP acknowledgement", "fanout": "fan-out (commit to last ack)",
                "saga": "saga completion (POST to active)"}
FIGURES = ("count", "p50_ms", "p95_ms", "p99_ms", "max_ms", "cdf_ms")


@dataclass(frozen=True)
class RunSettings:
    """One run's load, as asked for."""

    mode: str
    fanout_width: int
    users: int
    concurrency: int
    rate: float | None
    duration: float
    payload_bytes: int
    drain_timeout: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def fanout_stage(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The broker's figures after the run, and how many of the events in its window are this run's.

    The broker keeps the most recent events: when the run timed fewer events than its window holds,
    the window also holds earlier ones (a deployment that served other requests before), and
    ``includes_earlier`` says how many.
    """
    timed = int(after.get("events") or 0) - int(before.get("events") or 0)
    window = int(after.get("window") or 0)
    stage = {name: after.get(name) for name in FIGURES if name != "count"}
    stage["cdf_ms"] = list(after.get("cdf_ms") or [])
    stage["count"] = min(window, max(0, timed))
    stage.update(events_timed=max(0, timed), window=window, includes_earlier=max(0, window - max(0, timed)),
                 waiting=after.get("waiting", 0), forgotten=after.get("forgotten", 0))
    return stage


def build_run(settings: RunSettings, load: Load, users: Sequence[Provisioned], fanout_before: dict[str, Any],
              fanout_after: dict[str, Any], drained_at: float | None, load_average: Sequence[float | None],
              deployment: str) -> dict[str, Any]:
    """One run's entry in the report (see the module's docstring)."""
    created = [o for o in load.outcomes if o.ok]
    errors = Counter(str(o.status) if o.status else "connection" for o in load.outcomes if not o.ok)
    active = [u for u in users if u.active]
    saga_ms = [(epoch(u.last_modified) - epoch(u.created)) * 1000 for u in active]
    stages: dict[str, Any] = {
        "ack": summarize([o.ack_ms for o in created]),
        "fanout": fanout_stage(fanout_before, fanout_after),
        "saga": summarize(saga_ms),
    }
    if load.open_loop:
        stages["ack_from_intended"] = summarize([o.from_intended_ms for o in created])
    first_sent = min((o.sent for o in load.outcomes), default=load.started)
    last_ack = max((o.received for o in created), default=first_sent)
    last_active = max((epoch(u.last_modified) for u in active), default=first_sent)
    every_user_active = bool(created) and len(active) == len(created) == len(load.outcomes)
    checks = {
        "every_user_active": every_user_active,
        "no_errors": not errors,
        "fanout_timed": stages["fanout"]["events_timed"] >= len(created) > 0,
    }
    return {
        "deployment": deployment,
        "mode": settings.mode,
        "fanout_width": settings.fanout_width,
        "identity_subscribers": fanout_after.get("subscribers", []),
        "settings": settings.as_dict(),
        "sent": len(load.outcomes),
        "created": len(created),
        "active": len(active),
        "errors": dict(errors),
        "first_errors": [o.error for o in load.outcomes if o.error][:5],
        "stages": stages,
        "throughput": {
            "load_s": round(load.finished - load.started, 3),
            "ack_per_s": per_second(len(created), last_ack - first_sent),
            "provisioning_s": round(last_active - first_sent, 3),
            "provisioning_per_s": per_second(len(active), last_active - first_sent),
            "sustained": every_user_active,
            "drained_after_load_s": None if drained_at is None else round(drained_at - load.finished, 3),
        },
        "load_average": list(load_average),
        "checks": checks,
        "ok": all(checks.values()),
    }


def report(machine: dict[str, Any], runs: Sequence[dict[str, Any]], command: Sequence[str]) -> dict[str, Any]:
    return {"benchmark": "scimsaga bench", "version": 1, "machine": machine, "command": list(command),
            "runs": list(runs), "ok": bool(runs) and all(run["ok"] for run in runs)}


def table_rows(run: dict[str, Any]) -> list[tuple[str, ...]]:
    """One row per stage: title, count, p50, p95, p99, max (milliseconds, as text)."""
    rows = []
    for stage in (*STAGES, "ack_from_intended"):
        figures = run["stages"].get(stage)
        if figures is None:
            continue
        title = STAGE_TITLES.get(stage, "HTTP ack from when it was due")
        rows.append((title, str(figures.get("count") or 0),
                     *(_ms(figures.get(name)) for name in ("p50_ms", "p95_ms", "p99_ms", "max_ms"))))
    return rows


def headline(run: dict[str, Any]) -> str:
    t = run["throughput"]
    verdict = "every user active" if run["checks"]["every_user_active"] else \
        f"only {run['active']} of {run['sent']} users active"
    errors = ", ".join(f"{n} x {status}" for status, n in sorted(run["errors"].items())) or "no errors"
    return (f"{run['mode']}, fan-out width {run['fanout_width']} "
            f"({len(run['identity_subscribers'])} subscribers of identity): {run['created']} created, "
            f"{verdict}, {errors}; {t['ack_per_s']:.0f} acks/s, {t['provisioning_per_s']:.0f} "
            f"provisioned/s over {t['provisioning_s']:.1f} s")


def _ms(value: Any) -> str:
    return "-" if value is None else f"{float(value):.2f}"

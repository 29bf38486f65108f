"""The shape of ``scimsaga bench``'s report, built from a load, the users read back and the broker's
figures made up here (no deployment)."""

from __future__ import annotations

import json

from scimsaga.bench_collect import Provisioned, fanout_of, run_filter
from scimsaga.bench_load import Load, Outcome
from scimsaga.bench_report import STAGES, RunSettings, build_run, fanout_stage, headline, report, table_rows

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
SETTINGS = RunSettings("orchestration", 2, 3, 8, None, 60.0, 0, 30.0)
FANOUT_AFTER = {"events": 13, "window": 13, "p50_ms": 4.0, "p95_ms": 9.0, "p99_ms": 9.5, "max_ms": 10.0,
                "cdf_ms": [1.0] * 101, "waiting": 0, "forgotten": 0,
                "subscribers": ["access", "saga", "sink-1", "sink-2"]}
FANOUT_BEFORE = {"events": 10, "window": 10}


def stamp(seconds: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(T0 + seconds, timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def outcome(index: int, sent: float, ms: float, status: int = 201) -> Outcome:
    ok = status == 201
    return Outcome(index, T0 + sent, T0 + sent, T0 + sent + ms / 1000, status, ok,
                   f"u{index}" if ok else None, stamp(sent) if ok else None, None if ok else "refused")


def load(*outcomes: Outcome) -> Load:
    return Load(list(outcomes), T0, T0 + 1.0, open_loop=False)


def provisioned(index: int, created: float, activated: float, active: bool = True) -> Provisioned:
    return Provisioned(f"u{index}", active, stamp(created), stamp(activated))


def good_run() -> dict:
    return build_run(SETTINGS, load(outcome(0, 0.0, 5.0), outcome(1, 0.1, 7.0), outcome(2, 0.2, 9.0)),
                     [provisioned(0, 0.001, 0.101), provisioned(1, 0.101, 0.301),
                      provisioned(2, 0.201, 0.601)],
                     FANOUT_BEFORE, FANOUT_AFTER, T0 + 1.5, [0.5, 0.7], "a test deployment")


def test_a_run_has_every_stage_with_every_figure():
    run = good_run()
    for stage in STAGES:
        figures = run["stages"][stage]
        assert set(figures) >= {"count", "p50_ms", "p95_ms", "p99_ms", "max_ms", "cdf_ms"}, stage
        assert figures["count"] == 3, stage
    assert run["stages"]["ack"]["p50_ms"] == 7.0
    assert run["stages"]["saga"]["max_ms"] == 400.0  # created to lastModified, identity's clock
    assert run["stages"]["fanout"]["p99_ms"] == 9.5
    assert "ack_from_intended" not in run["stages"]  # a closed loop has nothing to add there


def test_a_run_where_every_user_became_active_holds_its_checks():
    run = good_run()
    assert run["checks"] == {"every_user_active": True, "no_errors": True, "fanout_timed": True}
    assert run["ok"] is True
    assert (run["sent"], run["created"], run["active"], run["errors"]) == (3, 3, 3, {})
    throughput = run["throughput"]
    assert throughput["sustained"] is True
    assert throughput["provisioning_s"] == 0.601  # first POST sent to the last activation
    assert throughput["provisioning_per_s"] == round(3 / 0.601, 1)
    assert throughput["ack_per_s"] == round(3 / 0.209, 1)
    assert throughput["drained_after_load_s"] == 0.5
    assert run["identity_subscribers"] == ["access", "saga", "sink-1", "sink-2"]


def test_a_user_still_pending_or_a_refused_post_fails_the_run():
    refused = outcome(2, 0.2, 1.0, status=503)
    run = build_run(SETTINGS, load(outcome(0, 0.0, 5.0), outcome(1, 0.1, 7.0), refused),
                    [provisioned(0, 0.0, 0.1), provisioned(1, 0.1, 0.1, active=False)],
                    FANOUT_BEFORE, FANOUT_AFTER, None, [None, None], "a test deployment")
    assert run["checks"]["every_user_active"] is False
    assert run["checks"]["no_errors"] is False
    assert run["errors"] == {"503": 1}
    assert run["first_errors"] == ["refused"]
    assert run["ok"] is False
    assert run["stages"]["saga"]["count"] == 1
    assert run["throughput"]["sustained"] is False
    assert "only 1 of 3 users active" in headline(run)


def test_an_open_loop_also_reports_latency_from_when_each_request_was_due():
    late = Outcome(0, T0, T0 + 0.5, T0 + 0.51, 201, True, "u0", stamp(0.5))
    run = build_run(SETTINGS, Load([late], T0, T0 + 1, open_loop=True), [provisioned(0, 0.5, 0.6)],
                    FANOUT_BEFORE, {**FANOUT_AFTER, "events": 11}, T0 + 1, [None, None], "x")
    assert run["stages"]["ack"]["p50_ms"] == 10.0
    assert run["stages"]["ack_from_intended"]["p50_ms"] == 510.0


def test_fanout_figures_say_when_the_brokers_window_holds_earlier_events():
    stage = fanout_stage({"events": 100}, {"events": 130, "window": 110, "p50_ms": 2.0, "cdf_ms": []})
    assert (stage["events_timed"], stage["count"], stage["includes_earlier"]) == (30, 30, 80)
    fresh = fanout_stage({}, {"events": 5000, "window": 4096, "p50_ms": 2.0, "cdf_ms": []})
    assert (fresh["count"], fresh["includes_earlier"]) == (4096, 0)


def test_the_fanout_of_identitys_creations_is_read_from_the_brokers_status():
    figures = {"events": 4, "window": 4, "p50_ms": 1.0}
    status = {"subscriptions": [
        {"topic": "billing", "subscriber": "saga", "fanout": {"types": {}}},
        {"topic": "identity", "subscriber": "saga",
         "fanout": {"waiting": 1, "forgotten": 0, "types": {"identity.UserCreated": figures}}},
        {"topic": "identity", "subscriber": "access",
         "fanout": {"waiting": 1, "forgotten": 0, "types": {"identity.UserCreated": figures}}},
    ]}
    assert fanout_of(status) == {**figures, "waiting": 1, "forgotten": 0, "subscribers": ["access", "saga"]}
    assert fanout_of({"subscriptions": []}) == {"subscribers": []}


def test_the_report_is_json_with_the_machine_and_every_run():
    machine = {"cores": 2, "cpu": "test", "when": "2026-01-01T00:00:00+00:00"}
    result = report(machine, [good_run()], ["scimsaga", "bench"])
    assert json.loads(json.dumps(result)) == result
    assert result["ok"] is True
    assert result["machine"] == machine
    assert report(machine, [], ["scimsaga", "bench"])["ok"] is False


def test_the_table_has_a_row_per_stage():
    rows = table_rows(good_run())
    assert [row[0] for row in rows] == ["HTTP acknowledgement", "fan-out (commit to last ack)",
                                        "saga completion (POST to active)"]
    assert rows[0][1:] == ("3", "7.00", "9.00", "9.00", "9.00")


def test_a_runs_users_are_found_by_the_prefix_of_their_user_name():
    """RFC 7644 §3.4.2.2 ``sw``: the run's tag is in every userName it created."""
    assert run_filter("ab12") == 'userName sw "bench-ab12-"'

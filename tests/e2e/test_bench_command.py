"""``scimsaga bench`` for real: HTTP load on a deployment it starts (with sink services for the fan-out
width) and on one already running, and the JSON it writes. Speed is never asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import Running, _env

STAGES = ("ack", "fanout", "saga")


def bench(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scimsaga", "bench", *args], capture_output=True, text=True,
                          timeout=timeout, env=_env())


def check_run(run: dict, users: int) -> None:
    assert (run["sent"], run["created"], run["active"], run["errors"]) == (users, users, users, {})
    for stage in STAGES:
        figures = run["stages"][stage]
        assert figures["count"] == users, (stage, figures)
        assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["p99_ms"] <= figures["max_ms"], stage
        assert len(figures["cdf_ms"]) == 101, stage
    assert run["checks"] == {"every_user_active": True, "no_errors": True, "fanout_timed": True}
    assert run["throughput"]["sustained"] is True
    assert run["throughput"]["provisioning_per_s"] > 0
    assert run["ok"] is True


@pytest.mark.timeout(360)
def test_bench_starts_a_deployment_with_sinks_and_writes_every_stage(ray_address: str, tmp_path: Path):
    out = tmp_path / "bench.json"
    result = bench("--fresh", "--address", ray_address, "--users", "30", "--concurrency", "4",
                   "--fanout-width", "2", "--json", str(out), "--data-dir", str(tmp_path / "unused"))
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(out.read_text())
    assert report["ok"] is True
    assert {"cpu", "cores", "memory_bytes", "python", "packages", "when"} <= set(report["machine"])
    [run] = report["runs"]
    assert (run["mode"], run["fanout_width"]) == ("orchestration", 2)
    assert run["identity_subscribers"] == ["access", "saga", "sink-1", "sink-2"]
    check_run(run, 30)
    assert run["stages"]["fanout"]["includes_earlier"] == 0
    assert "saga completion" in result.stdout


@pytest.mark.timeout(240)
def test_bench_measures_the_deployment_running_in_the_data_dir(server: Running, tmp_path: Path):
    out = tmp_path / "bench.json"
    result = bench("--data-dir", str(server.data_dir), "--token", server.token, "--users", "12",
                   "--rate", "40", "--json", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    [run] = json.loads(out.read_text())["runs"]
    assert (run["mode"], run["fanout_width"]) == ("orchestration", 0)
    assert run["deployment"].startswith("the running deployment at")
    check_run(run, 12)
    assert run["stages"]["ack_from_intended"]["count"] == 12
    assert server.process.poll() is None  # the bench leaves a deployment it did not start running


def test_bench_refuses_a_width_the_running_deployment_does_not_have(server: Running):
    result = bench("--data-dir", str(server.data_dir), "--token", server.token, "--fanout-width", "3")
    assert result.returncode == 2
    assert "has 0 sinks; pass --fresh" in result.stdout + result.stderr

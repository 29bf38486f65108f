"""`scimsaga demo SCENARIO` for real: each scenario against a running deployment, with its verdict and
exit status; a deployment of its own; a verdict that fails when the deployment does not behave as the
lesson says; and `modes`, which needs choreography (and says so when this build has none).
"""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from scimsaga.demo_deployment import up_supports
from tests.e2e.conftest import Running, _env, start_up

NOISE = re.compile(r"\b(INFO|WARNING|DEBUG)\b|raylet|Traceback|waitress|Started a local Ray", re.IGNORECASE)


def demo(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scimsaga", "demo", *args], capture_output=True, text=True,
                          timeout=timeout, env=_env())


def verdict(result: subprocess.CompletedProcess[str], scenario: str) -> str:
    lines = [line for line in result.stdout.splitlines() if line.startswith(("✔ ", "✘ "))]
    found = [line for line in lines if line[2:].startswith(f"{scenario}:")]
    assert found, result.stdout + result.stderr
    return found[-1]


def against(server: Running, scenario: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return demo(scenario, "--data-dir", str(server.data_dir), "--token", server.token, *extra)


def assert_quiet(result: subprocess.CompletedProcess[str]) -> None:
    noisy = [line for line in (result.stdout + result.stderr).splitlines() if NOISE.search(line)]
    assert noisy == [], noisy


@pytest.mark.timeout(120)
def test_fanout_shows_the_201_before_any_service_knew(server: Running):
    result = against(server, "fanout")
    assert result.returncode == 0, result.stdout + result.stderr
    line = verdict(result, "fanout")
    assert line.startswith("✔ fanout: the 201 came back in")
    assert "with every service pending" in line
    for service in ("profile", "access", "billing"):
        assert f"{service}: pending → done" in result.stdout
    assert "Using the running deployment" in result.stdout
    assert_quiet(result)


@pytest.mark.timeout(180)
def test_billing_down_shows_the_lag_growing_and_draining(server: Running):
    result = against(server, "billing-down", "--users", "6")
    assert result.returncode == 0, result.stdout + result.stderr
    line = verdict(result, "billing-down")
    assert line.startswith("✔ billing-down: 6 users created while billing was down (all 201")
    assert "its lag rose to" in line
    assert "all 6 active" in line
    assert_quiet(result)


@pytest.mark.timeout(120)
def test_compensation_undoes_in_reverse_order_and_the_user_is_gone(server: Running):
    result = against(server, "compensation")
    assert result.returncode == 0, result.stdout + result.stderr
    line = verdict(result, "compensation")
    assert line.startswith("✔ compensation: billing rejected costCenter XX-1; access then profile undone")
    assert "gone (404)" in line


@pytest.mark.timeout(180)
def test_consistency_measures_the_window_between_identity_and_the_read_model(server: Running):
    result = against(server, "consistency", "--users", "5")
    assert result.returncode == 0, result.stdout + result.stderr
    line = verdict(result, "consistency")
    assert line.startswith("✔ consistency: identity answered 8/8 reads at once")
    assert "consistent, eventually" in line
    assert "the profile read model none" in result.stdout


@pytest.mark.timeout(240)
def test_a_lesson_the_deployment_does_not_teach_is_a_failed_verdict(ray_address: str, tmp_path: Path):
    """A billing that accepts every cost center cannot show a compensation: the demo says so, exit 1."""
    permissive = start_up("--address", ray_address, "--namespace", f"lenient-{uuid.uuid4().hex[:6]}",
                          "--data-dir", str(tmp_path / "lenient"), "--token", "lenient",
                          "--cost-center-rule", ".*")
    try:
        result = against(permissive, "compensation")
    finally:
        assert permissive.stop() == 0, permissive.lines
    assert result.returncode == 1, result.stdout + result.stderr
    line = verdict(result, "compensation")
    assert line.startswith("✘ compensation: billing rejects the cost center")
    assert "did not happen" in line


@pytest.mark.timeout(300)
def test_without_a_running_deployment_the_demo_starts_one_of_its_own_and_stops_it(ray_address: str,
                                                                                  tmp_path: Path):
    result = demo("fanout", "--data-dir", str(tmp_path / "nothing-here"), "--address", ray_address,
                  "--verbose")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Starting a deployment of its own" in result.stdout
    assert "│ scimsaga ready:" in result.stdout  # --verbose shows the deployment's own output
    started = re.search(r"scimsaga up\S* in (\S+)", result.stdout)
    assert started, result.stdout
    assert not Path(started.group(1)).exists(), "the temporary data directory is removed"
    assert "stopping a deployment of its own" in result.stdout
    assert verdict(result, "fanout").startswith("✔ fanout:")


def test_an_unknown_scenario_is_a_usage_error():
    result = demo("teleport")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


@pytest.mark.timeout(400)
def test_modes_compares_orchestration_with_choreography_or_says_it_cannot(ray_address: str):
    result = demo("modes", "--address", ray_address, "--users", "5", timeout=380)
    if up_supports("--mode", "choreography"):
        assert result.returncode == 0, result.stdout + result.stderr
        line = verdict(result, "modes")
        assert line.startswith("✔ modes: same end state both ways (5 active, 1 undone)")
        assert "orchestration p50" in line
        assert "choreography p50" in line
    else:
        assert result.returncode == 3, result.stdout + result.stderr
        assert "choreography is not available in this build" in result.stdout
        assert "Nothing was run" in result.stdout
        assert "Starting" not in result.stdout

"""The command line's contract: one-line errors with exit status 2, a clean stop, data that stays."""

from __future__ import annotations

import json
import os
import socket
import uuid

import pytest
import requests

from tests.e2e.conftest import scimsaga, start_up


def assert_one_line_error(result, *phrases: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for phrase in phrases:
        assert phrase in lines[0], lines[0]


def test_a_bad_flag_is_one_line_and_exit_2():
    assert_one_line_error(scimsaga("up", "--port", "eighty"), "--port", "--help")


def test_an_unknown_command_is_one_line_and_exit_2():
    assert_one_line_error(scimsaga("launch"), "invalid choice")


def test_a_port_in_use_says_what_to_do(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = scimsaga("up", "--port", str(port), "--data-dir", str(tmp_path))
    assert_one_line_error(result, f"127.0.0.1:{port}", "--port 0")


def test_an_unreachable_ray_address_says_what_to_do(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    result = scimsaga("up", "--port", "0", "--data-dir", str(tmp_path),
                      "--address", f"127.0.0.1:{closed_port}")
    assert_one_line_error(result, "cannot reach a Ray cluster", "ray start --head")


def test_an_unwritable_data_directory_says_what_to_do(tmp_path):
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("x")
    result = scimsaga("up", "--port", "0", "--data-dir", str(not_a_directory / "data"))
    assert_one_line_error(result, "cannot write to the data directory", "--data-dir")


def test_status_without_a_running_deployment_says_how_to_start_one(tmp_path):
    assert_one_line_error(scimsaga("status", "--data-dir", str(tmp_path)), "scimsaga up")


@pytest.mark.timeout(300)
def test_up_starts_its_own_ray_stops_cleanly_and_finds_its_data_again(tmp_path):
    """What `make up` does: a local Ray cluster of its own, SIGTERM to stop, the data kept."""
    data_dir = tmp_path / "data"
    namespace = f"own-{uuid.uuid4().hex[:6]}"
    first = start_up("--data-dir", str(data_dir), "--namespace", namespace)
    try:
        assert first.token == (data_dir / "token").read_text().strip(), "a generated token is kept"
        assert_one_line_error(scimsaga("up", "--port", "0", "--data-dir", str(data_dir)), "another")
        created = requests.post(f"{first.url}/Users", headers=first.headers, json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "kept@example.com"})
        assert created.status_code == 201, created.text
        status = scimsaga("status", "--data-dir", str(data_dir))
        assert status.returncode == 0, status.stderr
        assert "subscriptions:" in status.stdout
        assert "billing<-billing.commands" in status.stdout
        services = json.loads(scimsaga("status", "--json", "--data-dir", str(data_dir)).stdout)["services"]
        ours = os.getpriority(os.PRIO_PROCESS, 0)  # workers start at the niceness of who started Ray
        assert {s["name"]: s["niceness"] for s in services} == {  # the request path first
            "identity": ours, "saga": max(ours, 10), "billing": 19, "profile": 19, "access": 19}
        batch = "batch" if hasattr(os, "SCHED_BATCH") else "normal"
        assert {s["name"]: s["policy"] for s in services} == {
            "identity": "normal", "saga": batch, "billing": "normal", "profile": "normal", "access": "normal"}
    finally:
        assert first.stop() == 0, first.lines
    assert any("scimsaga stopped" in line for line in first.lines)
    assert not (data_dir / "cluster.json").exists()

    # On a machine of its own, the fan-out can be told to run only when nothing else wants a core.
    second = start_up("--data-dir", str(data_dir), "--namespace", namespace, "--background-policy", "idle")
    try:
        assert second.token == first.token
        again = requests.get(created.json()["meta"]["location"].replace(first.url, second.url),
                             headers=second.headers)
        assert again.status_code == 200, again.text
        assert again.json()["userName"] == "kept@example.com"
        services = json.loads(scimsaga("status", "--json", "--data-dir", str(data_dir)).stdout)["services"]
        idle = "idle" if hasattr(os, "SCHED_IDLE") else "normal"
        assert {s["name"]: s["policy"] for s in services if s["name"] != "saga"} == {
            "identity": "normal", "billing": idle, "profile": idle, "access": idle}
    finally:
        assert second.stop() == 0, second.lines

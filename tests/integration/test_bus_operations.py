"""The bus seen and steered by an operator, on real Ray actors: backpressure, visibility, dead letters,
replay and rewind through ``scimsaga bus`` and ``scimsaga status`` (issue 5, guarantees 5, 8, 9, 10)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from scimsaga import cli
from scimsaga.actors.sink import TOPIC, expected
from tests.integration.test_bus_faults import TEST_BUS, BusDeployment, keys
from tests.polling import wait_until

SINK_1 = f"sink-1<-{TOPIC}"


@pytest.fixture
def bus16(ray_address: str, tmp_path: Path, namespace: str) -> Iterator[BusDeployment]:
    bus = BusDeployment(tmp_path / "data", namespace, replace(TEST_BUS, batch_size=16))
    try:
        yield bus
    finally:
        bus.stop()


@pytest.fixture
def run_cli(ray_address: str, namespace: str, monkeypatch, capsys):
    """``scimsaga ARGS --address ... --namespace ...`` in this process: (exit status, stdout, stderr)."""
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)  # the CLI may set it; put it back afterwards

    def run(*args: str) -> tuple[int, str, str]:
        status = cli.main([*args, "--address", ray_address, "--namespace", namespace])
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run


def test_a_slow_subscriber_slows_only_itself_and_is_never_sent_more_than_a_batch(bus16):
    users = keys(20)
    bus16.attached.chaos("sink-2", latency_ms=1000)  # 1 s per batch of 16: 25 s for 400 events
    bus16.emit(users, 20)

    bus16.wait_for(expected(users, 20), sinks=("sink-1",))

    slow = bus16.subscription("sink-2")
    assert slow["lag"] > 0, "the fast sink finished while the slow one is still far behind"
    assert slow["in_flight"] <= 16
    assert bus16.call("sink-2", "status")["largest_batch"] <= 16
    bus16.attached.chaos("sink-2", latency_ms=0)
    bus16.wait_for(expected(users, 20))
    assert bus16.call("sink-2", "status")["largest_batch"] <= 16


def test_a_subscriber_that_does_not_answer_in_time_gets_the_batch_again(ray_address, tmp_path, namespace):
    bus = BusDeployment(tmp_path / "data", namespace, replace(TEST_BUS, delivery_timeout=1.0))
    try:
        users = keys(4)
        bus.call("sink-1", "hold", 3000)  # handled and committed, then silent for 3 s: past the timeout
        bus.emit(users, 5)
        wait_until(lambda: "did not answer within 1s" in (bus.subscription("sink-1")["last_error"] or ""),
                   message="the broker gave up waiting for sink-1")
        bus.call("sink-1", "hold", 0, timeout=30)

        bus.wait_for(expected(users, 5))
        assert bus.call("sink-1", "status")["duplicates"] >= 20, "redelivered, and absorbed by the inbox"
    finally:
        bus.stop()


def test_status_shows_every_figure_of_a_subscription(bus16):
    bus16.attached.chaos("sink-2", down=True)
    bus16.emit(keys(3), 2)
    bus16.wait_for(expected(keys(3), 2), sinks=("sink-1",))
    wait_until(lambda: bus16.subscription("sink-2")["state"] == "unavailable", message="sink-2 refused")

    status = bus16.attached.status()  # what `scimsaga status` and /metrics read, through the OperationsPort

    subscriptions = {s["name"]: s for s in status["subscriptions"]}
    figures = {"lag", "oldest_unacked_age_s", "in_flight", "retrying", "redelivered", "delivered",
               "dead_letters", "position", "head", "state", "last_error", "last_ack_at"}
    assert all(figures <= set(s) for s in subscriptions.values())
    stopped = subscriptions[f"sink-2<-{TOPIC}"]
    assert (stopped["lag"], stopped["delivered"], stopped["head"]) == (6, 0, 6)
    assert "sink-2 is down" in stopped["last_error"]
    flowing = subscriptions[SINK_1]
    assert (flowing["lag"], flowing["delivered"], flowing["position"]) == (0, 6, 6)
    assert flowing["last_ack_at"] > 0
    [line] = [line for line in cli.render_status(status).splitlines() if f"sink-2<-{TOPIC}" in line]
    assert line.split()[1:3] == ["lag", "6"]
    assert line.endswith(stopped["state"])  # unavailable, or delivering while the broker tries again
    bus16.attached.chaos("sink-2", down=False)


def test_dead_letters_are_listed_and_replayed_from_the_command_line(bus16, run_cli):
    users = keys(4)
    bus16.call("sink-1", "poison", users[1], 2)
    bus16.emit(users, 3)
    wait_until(lambda: bus16.subscription("sink-1")["dead_letters"] == 1, message="one dead letter")

    status, out, _ = run_cli("bus", "dead-letters", SINK_1)
    assert status == 0
    assert out.splitlines()[0] == f"{SINK_1}: 1 dead letter"
    assert f"PoisonedEvent: sink-1 refuses {users[1]}#2" in out
    status, out, _ = run_cli("bus", "dead-letters", SINK_1, "--json")
    [letter] = json.loads(out)
    assert (letter["key"], letter["type"]) == (users[1], "sink.Tick")

    bus16.call("sink-1", "heal")
    status, out, _ = run_cli("bus", "replay", SINK_1)
    assert (status, out.strip()) == (0, f"{SINK_1}: 1 dead letter back in line for delivery")

    wanted = expected(users, 3)
    wanted[users[1]] = [1, 3, 2]
    bus16.wait_for(wanted, sinks=("sink-1",))
    assert run_cli("bus", "dead-letters", SINK_1)[1].strip() == f"{SINK_1}: no dead letters"


def test_a_rewound_subscription_rebuilds_a_read_model_its_subscriber_forgot(bus16, run_cli):
    users = keys(10)
    bus16.emit(users, 10)
    bus16.wait_for(expected(users, 10))
    bus16.call("sink-1", "forget")

    status, out, _ = run_cli("bus", "rewind", SINK_1, "--to-offset", "0")

    assert status == 0
    assert out.strip() == (f"{SINK_1}: rewound from position 100 to 0; 100 events will be delivered again "
                           "from offset 1")
    bus16.wait_for(expected(users, 10))
    assert bus16.call("sink-2", "sequences") == expected(users, 10), "the other subscription is untouched"


def test_a_rewind_to_a_time_redelivers_from_then_and_the_inbox_absorbs_what_was_handled(bus16, run_cli):
    users = keys(5)
    bus16.emit(users, 4)
    bus16.wait_for(expected(users, 4))
    between = time.time()
    wait_until(lambda: time.time() > between + 0.01, message="the clock moved on")
    bus16.emit(users, 6)
    bus16.wait_for(expected(users, 10))
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(between)) + f".{int(between % 1 * 1e6):06d}Z"

    status, out, _ = run_cli("bus", "rewind", SINK_1, "--to-time", iso)

    assert status == 0
    assert "30 events will be delivered again" in out
    wait_until(lambda: bus16.call("sink-1", "status")["duplicates"] == 30, message="30 redelivered")
    bus16.wait_for(expected(users, 10))


def test_bus_commands_answer_a_mistake_with_one_line_and_exit_2(bus16, run_cli):
    status, _, err = run_cli("bus", "replay", "nobody<-nothing")
    assert status == 2
    assert err.startswith("scimsaga: error: no subscription 'nobody<-nothing'; the subscriptions are:")
    assert len(err.strip().splitlines()) == 1

    status, _, err = run_cli("bus", "rewind", SINK_1, "--to-offset", "999")
    assert status == 2
    assert "rewinding moves back only" in err
    assert len(err.strip().splitlines()) == 1

"""The sink: the subscriber the bus's tests and benchmarks check "exactly once, in order per key" with."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scimsaga.actors.sink import SinkHost, SinkService, expected, verdict
from scimsaga.actors.topology import sink_topology
from scimsaga.bus.envelope import Envelope, new_message
from scimsaga.cluster import LocalCluster
from scimsaga.settings import BusSettings, Settings
from tests.polling import wait_until

AT = "2026-01-01T00:00:00Z"


def tick(key: str, seq: int, event_id: str | None = None) -> Envelope:
    return new_message("sink.Tick", key, {"seq": seq}, at=AT, id=event_id or f"{key}#{seq}")


def open_sink(data_dir: Path) -> SinkHost:
    settings = Settings(data_dir=data_dir)
    return SinkHost(SinkService(settings, name="sink-7"), settings, None)


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[SinkHost]:
    host = open_sink(tmp_path)
    yield host
    host.stop()


def deliver(host: SinkHost, *envelopes: Envelope, first_offset: int = 1):
    return host.deliver([(first_offset + i, e.to_json()) for i, e in enumerate(envelopes)])


# --- the verdict -----------------------------------------------------------------------------------


def test_the_verdict_on_exactly_what_was_wanted_is_empty():
    assert verdict({"a": [1, 2, 3], "b": [1]}, {"a": [1, 2, 3], "b": [1]}) == []


@pytest.mark.parametrize(("got", "problem"), [
    ({"a": [1, 3]}, "a: lost #2"),
    ({"a": [1, 2, 2, 3]}, "a: handled more than once #2"),
    ({"a": [1, 3, 2]}, "a: out of order, first at position 1"),
    ({"a": [1, 2, 3, 4]}, "a: unexpected #4"),
    ({"a": [1, 2, 3], "z": [1]}, "z: 1 events of a key nobody sent"),
    ({}, "a: lost #1, 2, 3"),
])
def test_the_verdict_names_each_kind_of_problem(got, problem):
    assert verdict(got, {"a": [1, 2, 3]}) == [problem]


def test_expected_numbers_each_key_from_one():
    assert expected(["a", "b"], 2) == {"a": [1, 2], "b": [1, 2]}
    assert expected(["a"], 2, first=3) == {"a": [3, 4]}


# --- the sink as a subscriber -----------------------------------------------------------------------


def test_a_sink_records_what_it_handled_per_key_in_order_under_its_own_name(sink, tmp_path):
    deliver(sink, tick("a", 1), tick("b", 1), tick("a", 2))

    assert sink.sequences() == {"a": [1, 2], "b": [1]}
    assert (tmp_path / "sink-7.sqlite").exists()
    status = sink.status()
    assert (status["name"], status["received"], status["keys"], status["duplicates"]) == ("sink-7", 3, 2, 0)
    assert (status["largest_batch"], status["batches"]) == (3, 1)


def test_a_redelivery_is_counted_as_a_duplicate_and_has_no_effect(sink):
    deliver(sink, tick("a", 1), tick("a", 2))

    report = deliver(sink, tick("a", 1), tick("a", 2), tick("a", 3), first_offset=1)

    assert report.acked == [1, 2, 3]
    assert sink.sequences() == {"a": [1, 2, 3]}
    assert sink.status()["duplicates"] == 2


def test_a_poisoned_event_fails_only_its_key_until_healed(sink, tmp_path):
    sink.poison("a", 2)

    report = deliver(sink, tick("a", 1), tick("a", 2), tick("b", 1), tick("a", 3))

    assert (report.acked, report.skipped) == ([1, 3], [4])
    assert report.failed == {2: "PoisonedEvent: sink-7 refuses a#2"}
    again = open_sink(tmp_path)
    assert deliver(again, tick("a", 2), first_offset=2).failed, "the poison survives a restart"
    again.heal()
    assert deliver(again, tick("a", 2), tick("a", 3), first_offset=2).acked == [2, 3]
    assert again.sequences() == {"a": [1, 2, 3], "b": [1]}


def test_a_whole_key_can_be_poisoned(sink):
    sink.poison("a")

    report = deliver(sink, tick("a", 1), tick("b", 1), tick("a", 2))

    assert (list(report.failed), report.acked, report.skipped) == ([1], [2], [3])


def test_forgetting_drops_the_read_model_and_the_inbox_so_a_replay_rebuilds_it(sink):
    deliver(sink, tick("a", 1), tick("a", 2))

    assert sink.forget() == 2
    assert sink.sequences() == {}
    deliver(sink, tick("a", 1), tick("a", 2))

    assert sink.sequences() == {"a": [1, 2]}
    assert sink.status()["duplicates"] == 0


# --- the sink as a source ---------------------------------------------------------------------------


def test_emit_numbers_each_key_on_from_where_it_stopped_keys_interleaved(sink):
    assert sink.emit(["a", "b"], 2, topic="t") == 4
    sink.emit(["a"], 1, topic="t")

    rows = sink.conn.execute("SELECT topic, body FROM outbox ORDER BY seq").fetchall()
    envelopes = [Envelope.from_json(body) for _, body in rows]
    assert {topic for topic, _ in rows} == {"t"}
    numbered = [(e.key, e.payload["seq"]) for e in envelopes]
    assert numbered == [("a", 1), ("b", 1), ("a", 2), ("b", 2), ("a", 3)]
    assert len({e.id for e in envelopes}) == 5


# --- the bus alone, in one process ------------------------------------------------------------------


def test_a_source_and_two_sinks_on_the_in_process_bus_get_every_event_once_in_order(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", bus=BusSettings(batch_size=32, idle_poll=0.01))
    cluster = LocalCluster(settings, sink_topology(2))
    cluster.start()
    try:
        keys = [f"k{i}" for i in range(7)]
        cluster.hosts["source"].emit(keys, 20)
        cluster.hosts["source"].emit(keys, 5)

        for name in ("sink-1", "sink-2"):
            wait_until(lambda name=name: cluster.hosts[name].status()["received"] == 175, timeout=20,
                       message=f"{name} received every event")
            assert verdict(cluster.hosts[name].sequences(), expected(keys, 25)) == []
            assert cluster.hosts[name].status()["largest_batch"] <= 32
    finally:
        cluster.stop()

"""The load of ``scimsaga bench``: request bodies, closed and open loops (with a send the test writes,
no HTTP), and the checks of the command's options."""

from __future__ import annotations

import json
import threading
import time

import pytest

from scimsaga.bench import BenchUsageError, check, command_line
from scimsaga.bench_load import Outcome, Progress, closed_loop, open_loop, user_body, user_name
from scimsaga.cli import build_parser


def test_every_user_of_a_run_has_its_own_name_under_the_runs_tag():
    names = {user_body("t1", i)["userName"] for i in range(50)}
    assert len(names) == 50
    assert all(name.startswith("bench-t1-") for name in names)
    assert user_name("t1", 7) == "bench-t1-000007@example.com"


@pytest.mark.parametrize("size", [2_000, 10_000, 65_536])
def test_a_padded_user_is_about_as_long_as_asked(size):
    body = user_body("t", 1, size)
    length = len(json.dumps(body))
    assert size - 250 <= length <= size
    assert all(address["type"] == "work" for address in body["addresses"])


def test_a_payload_smaller_than_the_plain_user_leaves_it_plain():
    assert user_body("t", 1, 10) == user_body("t", 1)
    assert "addresses" not in user_body("t", 1)


class Recorder:
    """A send that answers at once and remembers which worker sent what, and when it was due."""

    def __init__(self, fail_every: int = 0) -> None:
        self.lock = threading.Lock()
        self.by_client: dict[str, list[int]] = {}
        self.fail_every = fail_every

    def __call__(self, client, index: int, intended: float | None) -> Outcome:
        now = time.time()
        with self.lock:
            self.by_client.setdefault(client, []).append(index)
        ok = not (self.fail_every and index % self.fail_every == 0)
        return Outcome(index, now if intended is None else intended, now, now, 201 if ok else 503, ok)


def test_a_closed_loop_sends_every_request_once_over_all_its_workers():
    send = Recorder(fail_every=10)
    progress = Progress()
    load = closed_loop(["a", "b", "c"], 100, send, time.time() + 60, progress)
    assert [o.index for o in load.outcomes] == list(range(100))
    assert sorted(i for sent in send.by_client.values() for i in sent) == list(range(100))
    assert (progress.done, progress.failed) == (100, 10)
    assert load.open_loop is False
    assert all(o.intended == o.sent for o in load.outcomes)


def test_a_closed_loop_stops_at_its_deadline():
    load = closed_loop(["a"], 100, Recorder(), time.time() - 1, Progress())
    assert load.outcomes == []


def test_an_open_loop_dates_each_request_from_when_it_was_due():
    load = open_loop(["a", "b"], 20, Recorder(), rate=1000.0, deadline=time.time() + 60, progress=Progress())
    assert [o.index for o in load.outcomes] == list(range(20))
    due = [o.intended for o in load.outcomes]
    assert due[1] - due[0] == pytest.approx(0.001, abs=1e-6)
    assert due[-1] - due[0] == pytest.approx(0.019, abs=1e-6)
    assert load.open_loop is True


def test_an_open_loop_sends_nothing_due_after_its_deadline():
    deadline = time.time() + 0.25
    load = open_loop(["a"], 1000, Recorder(), rate=10.0, deadline=deadline, progress=Progress())
    assert len(load.outcomes) <= 3
    assert all(o.intended < deadline for o in load.outcomes)


def parse(*argv: str):
    return build_parser().parse_args(["bench", *argv])


def test_the_options_say_which_modes_and_widths_to_measure():
    assert check(parse()) == ([], [])
    assert check(parse("--mode", "orchestration,choreography", "--fanout-width", "1,4,32")) == (
        ["orchestration", "choreography"], [1, 4, 32])


@pytest.mark.parametrize(("argv", "message"), [
    (["--fanout-width", "33"], "0 to 32"),
    (["--fanout-width", "two"], "comma-separated"),
    (["--mode", "sideways"], "orchestration or choreography"),
    (["--users", "0"], "--users"),
    (["--concurrency", "0"], "--concurrency"),
    (["--rate", "0"], "--rate"),
    (["--payload-bytes", "-1"], "--payload-bytes"),
    (["--url", "http://127.0.0.1:1/scim/v2", "--fanout-width", "1,2"], "one width"),
])
def test_options_out_of_range_are_refused_with_what_to_do(argv, message):
    with pytest.raises(BenchUsageError, match=message):
        check(parse(*argv))


def test_up_takes_a_number_of_sinks():
    assert build_parser().parse_args(["up", "--sinks", "4"]).sinks == 4
    assert build_parser().parse_args(["up"]).sinks == 0


def test_the_report_shows_the_command_without_its_token():
    argv = ["/x/scimsaga/__main__.py", "bench", "--token", "s3cret", "--users", "5", "--token=other"]
    shown = ["scimsaga", "bench", "--token", "(token)", "--users", "5", "--token=(token)"]
    assert command_line(argv) == shown
    assert command_line(["python"]) == ["scimsaga", "bench"]

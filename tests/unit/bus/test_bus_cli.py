"""``scimsaga bus``: its arguments, its one-line errors with exit status 2, and what it prints.

Talking to a running deployment is proven in tests/integration/test_bus_operations.py; here no Ray
is started.
"""

from __future__ import annotations

import pytest

from scimsaga import cli


def one_line_error(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_:
        cli.main(list(argv))
    assert exit_.value.code == cli.EXIT_USAGE
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize(("argv", "phrase"), [
    (["bus", "rewind", "s"], "one of the arguments --to-offset --to-time is required"),
    (["bus", "rewind", "s", "--to-offset", "-1"], "an offset is a whole number of 0 or more, not '-1'"),
    (["bus", "rewind", "s", "--to-offset", "x"], "an offset is a whole number of 0 or more, not 'x'"),
    (["bus", "rewind", "s", "--to-time", "yesterday"], "a time looks like 2026-01-31T09:30:00Z"),
    (["bus", "rewind", "s", "--to-offset", "1", "--to-time", "2026-01-01"], "not allowed with argument"),
    (["bus", "replay"], "the following arguments are required: subscription"),
    (["bus", "purge", "s"], "invalid choice: 'purge'"),
])
def test_a_bad_bus_command_line_is_one_line_and_exit_2(capsys, argv, phrase):
    assert phrase in one_line_error(capsys, *argv)


def test_without_a_running_deployment_it_says_how_to_start_one(capsys, tmp_path, monkeypatch):
    # The command may set RAY_AUTH_MODE; setenv first makes monkeypatch restore it as it was, absent
    # included (a token mode left behind broke the Ray session started by later tests).
    monkeypatch.setenv("RAY_AUTH_MODE", "unset")
    monkeypatch.delenv("RAY_AUTH_MODE")

    status = cli.main(["bus", "dead-letters", "billing<-billing.commands", "--data-dir", str(tmp_path)])

    assert status == cli.EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert err.startswith("scimsaga: error: no running scimsaga found")
    assert "scimsaga up" in err


@pytest.mark.parametrize(("text", "epoch"), [
    ("2026-01-31T09:30:00Z", 1769851800.0),
    ("2026-01-31T09:30:00.250Z", 1769851800.25),
    ("2026-01-31T10:30:00+01:00", 1769851800.0),
    ("2026-01-31T09:30:00", 1769851800.0),
    ("2026-01-31", 1769817600.0),
])
def test_a_time_is_iso_8601_in_utc_unless_it_names_an_offset(text, epoch):
    assert cli._timestamp(text) == epoch


def test_dead_letters_are_printed_one_a_line_with_their_error():
    letters = [{"offset": 12, "event_id": "e", "type": "sink.Tick", "key": "user-1", "attempts": 8,
                "error": "PoisonedEvent: no", "dead_at": 1769851800.0}]

    shown = cli.render_dead_letters("sink-1<-sink.events", letters).splitlines()

    assert shown[0] == "sink-1<-sink.events: 1 dead letter"
    assert shown[1].split() == ["offset", "12", "sink.Tick", "key", "user-1", "attempts", "8",
                                "2026-01-31T09:30:00+00:00", "PoisonedEvent:", "no"]
    assert cli.render_dead_letters("s", []) == "s: no dead letters"


def test_a_rewind_says_where_the_subscription_is_now_and_what_comes_again():
    outcome = {"subscription": "s", "position": 4, "previous_position": 9, "redeliver": 1, "from_offset": 7}

    assert cli.render_rewind(outcome) == "s: rewound from position 9 to 4; 1 event will be delivered again " \
                                         "from offset 7"
    assert cli.render_rewind({**outcome, "redeliver": 0, "from_offset": None}).endswith(
        "0 events will be delivered again")

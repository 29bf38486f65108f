"""Generated bearer tokens can be passed back on a command line as they are printed."""

from __future__ import annotations

import argparse
import secrets

from scimsaga.settings import new_token


def test_a_generated_token_never_reads_as_a_flag(monkeypatch):
    drawn = iter(["-starts-with-a-dash", "--two", "fine-token"])
    monkeypatch.setattr(secrets, "token_urlsafe", lambda size: next(drawn))
    token = new_token()

    parser = argparse.ArgumentParser()
    parser.add_argument("--token")

    assert token == "fine-token"
    assert parser.parse_args(["--token", token]).token == token


def test_generated_tokens_are_long_and_different():
    tokens = {new_token() for _ in range(200)}

    assert len(tokens) == 200
    assert min(len(t) for t in tokens) >= 32

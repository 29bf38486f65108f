"""Profile: the read model of a user's name, emails, locale and title."""

from __future__ import annotations

import pytest

from scimsaga.actors.host import ServiceHost
from scimsaga.actors.profile import ProfileService


@pytest.fixture
def profile(settings, clock):
    host = ServiceHost(ProfileService(settings, clock=clock), settings, publish=None)
    yield host
    host.stop()


BARBARA = {
    "id": "u1",
    "userName": "bjensen@example.com",
    "name": {"formatted": "Ms. Barbara J Jensen, III", "givenName": "Barbara", "familyName": "Jensen"},
    "displayName": "Babs Jensen",
    "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True},
               {"value": "babs@jensen.org", "type": "home"}, {"type": "other"}],
    "locale": "en-US",
    "title": "Tour Guide",
    "meta": {"version": 3},
}


def test_create_profile_keeps_what_the_profile_shows(profile, deliver, queued, command):
    report = deliver(profile, command("profile.CreateProfile", "u1", user=BARBARA))

    assert report.acked == [1]
    assert profile.state_of("u1") == {
        "display_name": "Babs Jensen",
        "emails": ["bjensen@example.com", "babs@jensen.org"],
        "locale": "en-US",
        "title": "Tour Guide",
        "source_version": 3,
    }
    [(topic, reply)] = queued(profile)
    assert (topic, reply.type) == ("profile", "profile.ProfileCreated")
    assert reply.payload["ok"] is True
    assert reply.payload["reference"] == "u1"


@pytest.mark.parametrize(("user", "display_name"), [
    ({"displayName": "Babs", "name": {"formatted": "Barbara Jensen"}}, "Babs"),
    ({"name": {"formatted": "Ms. Barbara J Jensen", "givenName": "Barbara"}}, "Ms. Barbara J Jensen"),
    ({"name": {"givenName": "Barbara", "familyName": "Jensen"}}, "Barbara Jensen"),
    ({"name": {"familyName": "Jensen"}}, "Jensen"),
    ({}, "bjensen"),
])
def test_the_display_name_falls_back_from_display_name_to_name_to_user_name(
        profile, deliver, command, user, display_name):
    deliver(profile, command("profile.CreateProfile", "u1", user={"id": "u1", "userName": "bjensen", **user}))

    assert profile.state_of("u1")["display_name"] == display_name


def test_a_user_without_emails_locale_or_title_gets_an_empty_profile(profile, deliver, command):
    deliver(profile, command("profile.CreateProfile", "u1", user={"id": "u1", "userName": "bjensen"}))

    assert profile.state_of("u1") == {"display_name": "bjensen", "emails": [], "locale": None, "title": None,
                                      "source_version": 0}


def test_remove_profile_removes_it(profile, deliver, queued, command):
    deliver(profile, command("profile.CreateProfile", "u1", user=BARBARA))

    deliver(profile, command("profile.RemoveProfile", "u1", phase="compensation"))

    assert profile.state_of("u1") is None
    assert queued(profile)[-1][1].type == "profile.ProfileRemoved"
    assert profile.status()["profiles"] == 0


def test_the_same_idempotency_key_twice_writes_once_and_gives_the_same_reply(
        profile, deliver, queued, command):
    deliver(profile, command("profile.CreateProfile", "u1", user=BARBARA))
    changed = {**BARBARA, "title": "Head Guide"}

    deliver(profile, command("profile.CreateProfile", "u1", user=changed))

    [(_, first), (_, second)] = queued(profile)
    assert first.payload == second.payload
    assert profile.state_of("u1")["title"] == "Tour Guide"  # the re-sent step was not done again
    assert profile.status()["profiles"] == 1


def test_profiles_are_per_user(profile, deliver, command):
    deliver(profile, command("profile.CreateProfile", "u1", user=BARBARA, saga_id="s1"),
            command("profile.CreateProfile", "u2", user={"id": "u2", "userName": "jsmith"}, saga_id="s2"))
    deliver(profile, command("profile.RemoveProfile", "u1", saga_id="s3"))

    assert profile.state_of("u1") is None
    assert profile.state_of("u2")["display_name"] == "jsmith"

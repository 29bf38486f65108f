"""Access: default entitlements on provisioning, all revoked on the way out."""

from __future__ import annotations

import pytest

from scimsaga.actors.access import AccessService
from scimsaga.actors.host import ServiceHost
from scimsaga.settings import Settings


@pytest.fixture
def access(settings, clock):
    host = ServiceHost(AccessService(settings, clock=clock), settings, publish=None)
    yield host
    host.stop()


def test_grant_defaults_grants_the_configured_entitlements(access, deliver, queued, command):
    report = deliver(access, command("access.GrantDefaults", "u1", step=1))

    assert report.acked == [1]
    assert access.state_of("u1") == {"entitlements": ["chat:member", "wiki:read"]}
    [(topic, reply)] = queued(access)
    assert (topic, reply.type) == ("access", "access.DefaultsGranted")
    assert reply.payload["ok"] is True
    assert reply.payload["reference"] == "wiki:read,chat:member"
    assert reply.payload["step"] == 1


def test_the_default_entitlements_come_from_the_settings(tmp_path, deliver, command, clock):
    settings = Settings(data_dir=tmp_path / "other", default_entitlements=("vpn", "email", "vpn"))
    host = ServiceHost(AccessService(settings, clock=clock), settings, publish=None)

    deliver(host, command("access.GrantDefaults", "u1"))

    assert host.state_of("u1") == {"entitlements": ["email", "vpn"]}


def test_revoke_all_revokes_every_grant_and_says_how_many(access, deliver, queued, command):
    deliver(access, command("access.GrantDefaults", "u1", saga_id="s1"),
            command("access.GrantDefaults", "u2", saga_id="s2"))

    deliver(access, command("access.RevokeAll", "u1", saga_id="s1", step=1, phase="compensation"))

    revoked = queued(access)[-1][1]
    assert revoked.type == "access.AccessRevoked"
    assert revoked.payload["ok"] is True
    assert revoked.payload["revoked"] == 2
    assert access.state_of("u1") is None
    assert access.state_of("u2") is not None
    assert access.status()["users_with_access"] == 1


def test_revoking_a_user_without_grants_revokes_nothing(access, deliver, queued, command):
    deliver(access, command("access.RevokeAll", "nobody"))

    assert queued(access)[0][1].payload["revoked"] == 0


def test_the_same_idempotency_key_twice_grants_once_and_gives_the_same_reply(
        access, deliver, queued, command):
    deliver(access, command("access.GrantDefaults", "u1"))
    deliver(access, command("access.RevokeAll", "u1", saga_id="other"))

    deliver(access, command("access.GrantDefaults", "u1"))  # re-sent: same saga, step and phase

    assert queued(access)[0][1].payload == queued(access)[2][1].payload
    assert access.state_of("u1") is None  # the re-sent grant was not done again
    status = access.status()
    assert (status["users_with_access"], status["grants"]) == (0, 0)

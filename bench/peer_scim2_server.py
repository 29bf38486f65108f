"""The peer: the Python package ``scim2-server`` (its in-memory storage and WSGI application, with
bearer tokens, as its own ``scim2-server`` command builds them), served by waitress like our front
door. It validates with scim2-models and keeps the users in memory: no persistence, no fan-out.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

from scim2_models import ScimProvider
from scim2_server.memory import InMemoryStorage
from scim2_server.service import ScimService
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME, BearerTokenApplication
from scim2_server.utils import (
    load_default_resource_types,
    load_default_schemas,
    load_default_service_provider_config,
)

BASE = "/v2"


def create_app(token: str) -> Any:
    config = load_default_service_provider_config()
    config.authentication_schemes = [*(config.authentication_schemes or []), BEARER_TOKEN_SCHEME]
    provider = ScimProvider.from_discovery(load_default_schemas().values(),
                                           load_default_resource_types().values(), config=config)
    return BearerTokenApplication(InMemoryStorage(), provider, service=ScimService(provider),
                                  bearer_tokens=[token])


def version() -> str:
    return metadata.version("scim2-server")

"""scimsaga: SCIM 2.0 in microservices, on Ray, with sagas."""

__version__ = "0.1.0"

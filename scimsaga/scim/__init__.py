"""The SCIM protocol layer (RFC 7643, RFC 7644): pure, importing only the stdlib and pydantic."""

"""The front door: a Falcon app speaking SCIM 2.0, served by waitress.

(A subpackage on purpose: a top-level ``http`` package would shadow the standard library's.)
"""

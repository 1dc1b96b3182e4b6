"""Kling, the production engine: its HTTP client in two flavours (official API, API proxy).

client.py   KlingClient: the Engine protocol over HTTP, retries, never a blind second create
auth.py     the official API's JWT (renewed) and the proxy's static token
payloads.py request bodies built from AdvancedRequest / BasicRequest
parsing.py  reading answers, callbacks and tasks generously; bodies redacted for the record
errors.py   what each error code means to a person, and whether retrying can help

The contract itself, in the project's words, is docs/kling.md.
"""

from projects.engines.kling.auth import JwtTokens, StaticToken
from projects.engines.kling.client import (
    ApiCallRecord,
    KlingClient,
    Recorder,
    RetryPolicy,
    Timeouts,
)
from projects.engines.kling.errors import CODE_ADVICE
from projects.engines.kling.parsing import parse_callback, parse_task, redacted_body

__all__ = [
    "CODE_ADVICE",
    "ApiCallRecord",
    "JwtTokens",
    "KlingClient",
    "Recorder",
    "RetryPolicy",
    "StaticToken",
    "Timeouts",
    "parse_callback",
    "parse_task",
    "redacted_body",
]

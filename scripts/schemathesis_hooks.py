"""Schemathesis hooks for scripts/schemathesis_api.py: how to send the API's non-JSON bodies."""

import schemathesis


@schemathesis.serializer("application/edifact")
def edifact(ctx, value) -> bytes:
    """A CUSDEC is text; whatever was generated is sent as its text."""
    return (value if isinstance(value, str) else str(value)).encode("utf-8")

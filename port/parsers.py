"""The API's JSON parser: bounded in size and nesting, so a body can cost only so much.

Python's json module recurses once per level: a body of 100,000 opening brackets raised
RecursionError (a 500) on every endpoint. The nesting is counted first, in one pass of a
regular expression that skips over strings, and a body over the limits is refused before
any decoding: 413 for size, 400 for depth (docs/api-limits.md).
"""

import re

from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser
from rest_framework.settings import api_settings
from rest_framework.utils import json

from port import limits

# A JSON string (escapes included) or a bracket: brackets inside strings do not count.
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')
_OPENING = frozenset(b"[{")


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The request body is larger than {limit // (1024 * 1024)} MB (docs/api-limits.md)."
    )


def read_bounded(stream, limit: int) -> bytes:
    """The whole body, or PayloadTooLarge as soon as it passes `limit` bytes."""
    data = stream.read(limit + 1) if stream is not None else b""
    if len(data) > limit:
        raise too_large(limit)
    return data


# Kept by the fast count: quotes and brackets; escaped quotes and backslashes go first.
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')
_BARE_STRINGS = re.compile(rb'"[^"]*"')
_EMPTY_PAIRS = re.compile(rb"\[\]|\{\}")


def nesting_depth(data: bytes, *, stop_after: int) -> int:
    """How deep arrays and objects nest (counting stops once past `stop_after`).

    In C, over the whole body: escaped backslashes and quotes dropped, everything but
    quotes and brackets deleted, strings (now only brackets between quotes) dropped; then
    the innermost pairs go once per level, as many passes as levels. Brackets or quotes
    that do not pair up (the parser refuses those anyway) are counted token by token.
    """
    plain = data.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_STRUCTURE)
    brackets = _BARE_STRINGS.sub(b"", plain)
    depth = 0
    while brackets and depth <= stop_after:
        brackets, removed = _EMPTY_PAIRS.subn(b"", brackets)
        if not removed:
            return _nesting_depth_by_token(data, stop_after=stop_after)
        depth += 1
    return depth


def _nesting_depth_by_token(data: bytes, *, stop_after: int) -> int:
    depth = deepest = 0
    for token in _TOKENS.finditer(data):
        first = token.group()[0]
        if first in _OPENING:
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > stop_after:
                    break
        elif first != ord('"'):
            depth -= 1
    return deepest


class BoundedJSONParser(JSONParser):
    """DRF's JSONParser with limits.MAX_JSON_BYTES and limits.MAX_JSON_DEPTH."""

    def max_bytes(self) -> int:
        return limits.MAX_JSON_BYTES

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding") or "utf-8"
        data = read_bounded(stream, self.max_bytes())
        if nesting_depth(data, stop_after=limits.MAX_JSON_DEPTH) > limits.MAX_JSON_DEPTH:
            raise ParseError(
                f"JSON nests deeper than {limits.MAX_JSON_DEPTH} levels (docs/api-limits.md)."
            )
        try:
            text = data.decode(encoding)
            parse_constant = json.strict_constant if api_settings.STRICT_JSON else None
            return json.loads(text, parse_constant=parse_constant)
        except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
            raise ParseError(f"JSON parse error - {error}") from None


class BatchJSONParser(BoundedJSONParser):
    """For batch endpoints (thousands of documents): limits.MAX_BATCH_JSON_BYTES."""

    def max_bytes(self) -> int:
        return limits.MAX_BATCH_JSON_BYTES

"""The batch endpoints' JSON parser: orjson, with the API's limits.

A batch of 2,000 lists is about a megabyte of JSON. In py-spy of the list batch endpoint,
Python's json.loads took a quarter of the request and the API parser's nesting scan (a
regular expression over every string) another sixth. orjson decodes the same bytes several
times faster and never recurses in Python (it stops at 1,024 levels itself); the nesting
limit of docs/api-limits.md is then checked on the decoded containers only, which for a
batch are a few per document.
"""

import orjson
from rest_framework.exceptions import ParseError

from port import limits
from port.parsers import BatchJSONParser, read_bounded


class OrjsonBatchParser(BatchJSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = read_bounded(stream, self.max_bytes())
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError as error:  # invalid UTF-8, NaN and Infinity too
            raise ParseError(f"JSON parse error - {error}") from None
        if deeper_than(parsed, limits.MAX_JSON_DEPTH):
            raise ParseError(
                f"JSON nests deeper than {limits.MAX_JSON_DEPTH} levels (docs/api-limits.md)."
            )
        return parsed


def deeper_than(value, limit: int) -> bool:
    """Whether arrays and objects nest deeper than `limit` (scalars are not visited)."""
    if not isinstance(value, dict | list):
        return False
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False

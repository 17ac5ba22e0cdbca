"""DRF input serializers, checked fast over thousands of payloads.

A batch of 5,000 declarations through `Serializer(many=True)` costs DRF about a
millisecond per declaration, more than validating and writing them. `fast_validator`
compiles a serializer's fields once into a plan of plain type and length checks that
accepts only payloads whose DRF outcome is certain (strings, integers, booleans and lists
exactly as DRF reads them); anything else, every error included, goes through the
serializer itself, so the answers, messages and defaults are always DRF's.
"""

import functools

from rest_framework import fields as drf_fields
from rest_framework import serializers


class _Fallback(Exception):
    """The fast path is not sure: let DRF decide."""


def validate(serializer_class, data) -> tuple[dict | None, dict | None]:
    """(validated data, None) or (None, DRF's errors) for one payload."""
    try:
        return fast_validator(serializer_class)(data), None
    except _Fallback:
        serializer = serializer_class(data=data)
        if serializer.is_valid():
            return serializer.validated_data, None
        return None, serializer.errors


@functools.cache
def fast_validator(serializer_class):
    """A function payload -> validated dict that raises _Fallback when unsure."""
    return _compile_serializer(serializer_class())


def _compile_serializer(serializer):
    plan = []
    for name, field in serializer.fields.items():
        if field.read_only:
            continue
        plan.append((field.source or name, name, field.required, _default(field), _compile(field)))

    def check(data):
        if type(data) is not dict:
            raise _Fallback
        out = {}
        for source, name, required, default, check_value in plan:
            if name in data:
                out[source] = check_value(data[name])
            elif default is not drf_fields.empty:
                out[source] = default() if callable(default) else default
            elif required:
                raise _Fallback
        return out

    return check


def _default(field):
    return field.default


def _compile(field):
    if isinstance(field, serializers.ListSerializer):
        return _list(field, _compile_serializer(field.child))
    if isinstance(field, serializers.Serializer):
        return _compile_serializer(field)
    if isinstance(field, drf_fields.ListField):
        return _list(field, _compile(field.child))
    kind = type(field)
    if kind is drf_fields.CharField:
        return _char(field)
    if kind is drf_fields.IntegerField:
        return _integer(field)
    if kind is drf_fields.BooleanField:
        return _boolean(field)
    raise TypeError(f"No fast check for {kind.__name__}")  # at compile time: add one


def _list(field, check_item):
    max_length = getattr(field, "max_length", None)
    min_length = getattr(field, "min_length", None)
    allow_empty = getattr(field, "allow_empty", True)

    def check(value):
        if type(value) is not list:
            raise _Fallback
        if (
            (not value and not allow_empty)
            or (max_length is not None and len(value) > max_length)
            or (min_length is not None and len(value) < min_length)
        ):
            raise _Fallback
        return [check_item(v) for v in value]

    return check


def _char(field):
    if field.validators and any(
        type(v).__name__
        not in (
            "MaxLengthValidator",
            "MinLengthValidator",
            "ProhibitNullCharactersValidator",
            "ProhibitSurrogateCharactersValidator",
        )
        for v in field.validators
    ):
        raise TypeError(f"No fast check for the validators of {field.field_name}")
    max_length, min_length = field.max_length, field.min_length
    allow_blank, allow_null, trim = field.allow_blank, field.allow_null, field.trim_whitespace

    def check(value):
        if type(value) is not str:
            if value is None and allow_null:
                return None
            raise _Fallback
        if trim:
            value = value.strip()
        if (
            (not value and not allow_blank)
            or (max_length is not None and len(value) > max_length)
            or (min_length is not None and len(value) < min_length)
            or "\x00" in value
        ):
            raise _Fallback
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate
                raise _Fallback from None
        return value

    return check


def _integer(field):
    if field.max_value is not None or field.min_value is not None:
        low, high = field.min_value, field.max_value
    else:
        low = high = None
    allow_null = field.allow_null

    def check(value):
        if type(value) is not int:
            if value is None and allow_null:
                return None
            raise _Fallback
        if (low is not None and value < low) or (high is not None and value > high):
            raise _Fallback
        return value

    return check


def _boolean(field):
    allow_null = field.allow_null

    def check(value):
        if type(value) is bool:
            return value
        if value is None and allow_null:
            return None
        raise _Fallback

    return check

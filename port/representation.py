"""DRF output serializers, run fast for one object at a time on hot paths.

`Serializer.to_representation` walks its fields through generators, `get_attribute` with
its callable checks and `SkipField` handling, and a `to_representation` per value: for a
declaration with its lines, about 190 µs of a filing's answer. `compile_representation`
plans the same walk once per serializer: a plain attribute read where the field reads one
plain attribute, the value itself where DRF's conversion would return it unchanged (a
`str` for a CharField, a `bool` for a BooleanField, an `int` for an IntegerField), and
DRF's own `get_attribute` and `to_representation` everywhere else. The result equals
`serializer.to_representation(instance)` (tests/declarations/test_representation.py).
"""

from collections.abc import Callable
from typing import Any

from django.db import models
from rest_framework import fields as drf_fields
from rest_framework import serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject

# A field of these types returns a value of the paired type unchanged.
_IDENTITY = {
    drf_fields.CharField: str,
    drf_fields.BooleanField: bool,
    drf_fields.IntegerField: int,
}


def compile_representation(serializer: serializers.Serializer) -> Callable[[Any], dict]:
    """A function instance -> `serializer.to_representation(instance)`, planned once."""
    plan = [_plan(field) for field in serializer.fields.values() if not field.write_only]

    def represent(instance) -> dict:
        out = {}
        for name, read, convert in plan:
            try:
                value = read(instance)
            except SkipField:
                continue
            out[name] = None if value is None else convert(value)
        return out

    return represent


def _plan(field) -> tuple[str, Callable, Callable]:
    return field.field_name, _reader(field), _converter(field)


def _reader(field) -> Callable:
    plain = (
        type(field).get_attribute is drf_fields.Field.get_attribute
        and len(field.source_attrs) == 1
        and not isinstance(field, serializers.BaseSerializer)
    )
    if not plain:
        return _drf_reader(field)
    name = field.source_attrs[0]

    def read(instance):
        try:
            value = getattr(instance, name)
        except (AttributeError, KeyError):  # DRF's defaults and messages
            return field.get_attribute(instance)
        if callable(value):  # a method: DRF calls it, its way
            return field.get_attribute(instance)
        return value

    return read


def _drf_reader(field) -> Callable:
    def read(instance):
        value = field.get_attribute(instance)
        if isinstance(value, PKOnlyObject) and value.pk is None:
            return None
        return value

    return read


def _converter(field) -> Callable:
    if isinstance(field, serializers.ListSerializer) and isinstance(
        field.child, serializers.Serializer
    ):
        child = compile_representation(field.child)

        def many(value):
            rows = value.all() if isinstance(value, models.manager.BaseManager) else value
            return [child(row) for row in rows]

        return many
    if isinstance(field, serializers.Serializer):
        return compile_representation(field)
    kind = _IDENTITY.get(type(field))
    convert = field.to_representation
    if kind is None:
        return convert

    def same(value):
        return value if type(value) is kind else convert(value)

    return same

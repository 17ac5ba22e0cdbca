"""EDIFACT readers meet malformed and mutated messages: each answer names a segment, and no
other exception escapes (a bounded hypothesis run, a few seconds)."""

import contextlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from declarations import edifact
from shipping import edifact as shipping_edifact

ROOT = Path(__file__).resolve().parents[2]
CUSDEC = (ROOT / "declarations/samples/cusdec_import.edi").read_text()
SEGMENTS = CUSDEC.strip().split("\n")
BAPLIE = (ROOT / "tests/shipping/edifact/baplie_d95b_longbeach.edi").read_text()
FUZZ = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize(
    ("text", "segment"),
    [
        ("UNA:+.? 'UNB'", "UNB"),
        ("UNA:+.? 'UNB+UNOC'", "UNB"),
        ("UNB+UNOW:4'UNH+1+CUSDEC:D:96B:UN'UNT+2+1'UNZ+1+1'", "UNB"),
        ("UNH'BGM+929+X'UNT+3+1'", "UNH"),
        ("UNH+1'BGM+929+X'UNT+3+1'", "UNH"),
        ("UNH+1+CUSDEC:D:96B:UN'BGM'UNT+3+1'", "BGM"),
        ("UNH+1+CUSDEC:D:96B:UN'BGM+929+X'CST'UNT+4+1'", "TDT"),
    ],
)
def test_short_service_segments_are_refused_naming_the_segment(db, text, segment):
    with pytest.raises(edifact.EdifactError) as refused:
        edifact.cusdec_parse(text)
    assert refused.value.segment.startswith(segment)


def _mutations():
    """The sample CUSDEC with segments dropped, cut short or doubled, and separators shuffled."""
    index = st.integers(0, len(SEGMENTS) - 1)
    cut = st.tuples(index, st.integers(0, 40)).map(
        lambda p: [*SEGMENTS[: p[0]], SEGMENTS[p[0]][: p[1]] + "'", *SEGMENTS[p[0] + 1 :]]
    )
    drop = index.map(lambda i: SEGMENTS[:i] + SEGMENTS[i + 1 :])
    junk = st.tuples(index, st.text(alphabet="+:?'AB0123456789UNHTBZ.", max_size=30)).map(
        lambda p: [*SEGMENTS[: p[0]], p[1], *SEGMENTS[p[0] :]]
    )
    return st.one_of(cut, drop, junk).map("\n".join)


@FUZZ
@given(text=_mutations())
def test_cusdec_reader_answers_every_mutation_with_an_edifact_error(db, text):
    _parse_or_refuse(text)


@FUZZ
@given(text=st.text(alphabet="+:?'AB0123456789UNHTBZ .\n", max_size=200))
def test_cusdec_reader_answers_noise_with_an_edifact_error(db, text):
    _parse_or_refuse(text)


@FUZZ
@given(
    cut=st.integers(0, len(BAPLIE)),
    junk=st.text(alphabet="+:?'ABCDEQLMNOTU0123456789.", max_size=40),
)
def test_bay_plan_reader_answers_mutations_as_unreadable_or_warnings(cut, junk):
    with contextlib.suppress(shipping_edifact.Unreadable):
        shipping_edifact.parse(BAPLIE[:cut] + junk + BAPLIE[cut:])


def _parse_or_refuse(text: str) -> None:
    """A parse, or an EdifactError that names its segment; any other exception fails."""
    refused = None
    try:
        edifact.cusdec_parse(text)
    except edifact.EdifactError as error:
        refused = error
    assert refused is None or refused.segment

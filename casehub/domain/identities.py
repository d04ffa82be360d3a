"""Keyed hashing and masking of resident ID numbers and phone numbers, and identifier checks (python-stdnum).

Shared topics carry only `*_hash` (HMAC-SHA256 with the configured secret) and `*_masked` forms; the
same person hashes the same way in every agency's events, which is what party matching links on.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import hmac
import re
import unicodedata

from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric, uscc


class InvalidIdentifier(ValueError):
    """An identifier fails its format or check-digit rule; `field` and `reason` say which and why."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


def _clean(value: str) -> str:
    if value.isascii() and value.isalnum():
        return value.upper()  # the usual case, without the Unicode normalisation below
    # Full-width digits and letters (ＡＢ１２) are common in hand-typed records.
    return re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", value)).upper()


def normalise_id_number(value: str, field: str = "id_number") -> str:
    """The resident ID number in its 18-character form, checked (GB 11643: dates, MOD 11-2 check character).

    15-character numbers from before 1999 are accepted as they are (they have no check character).
    Raises:
        InvalidIdentifier: not a valid resident ID number.
    """
    number = _clean(value)
    if len(number) == 15 and number.isdigit():
        try:
            datetime.date(1900 + int(number[6:8]), int(number[8:10]), int(number[10:12]))
        except ValueError as exc:
            raise InvalidIdentifier(field, "15-digit resident ID has an impossible birth date") from exc
        return number
    try:
        return _validate_ric(number)
    except stdnum_errors.InvalidChecksum as exc:
        raise InvalidIdentifier(field, "resident ID check character is wrong (ISO 7064 MOD 11-2)") from exc
    except stdnum_errors.InvalidComponent as exc:
        raise InvalidIdentifier(field, "resident ID has an impossible birth date or address code") from exc
    except stdnum_errors.ValidationError as exc:
        raise InvalidIdentifier(field, f"not a resident ID number ({exc.message})") from exc


def _validate_ric(number: str) -> str:
    """What stdnum.cn.ric.validate checks, with its slow part (the address-code table lookup) cached.

    The lookup depends only on the 6-digit address code and the birth year, which repeat across people.
    """
    if len(number) != 18 or not number[:-1].isdigit():
        raise stdnum_errors.InvalidFormat()
    try:
        birth = datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError as exc:
        raise stdnum_errors.InvalidComponent() from exc
    _address_valid(number[:6], birth.year)
    if number[-1] != ric.calc_check_digit(number):
        raise stdnum_errors.InvalidChecksum()
    return number


@functools.lru_cache(maxsize=65536)
def _address_valid(code: str, year: int) -> None:
    ric.get_birth_place(f"{code}{year:04d}0101000")  # InvalidComponent if the code did not exist that year


def credit_code_status(value: str) -> tuple[str, bool]:
    return _credit_code_status(value)


@functools.lru_cache(maxsize=65536)
def _credit_code_status(value: str) -> tuple[str, bool]:
    """(normalised code, passes check), cached: employers repeat. Early pilot codes fail the MOD 31 check: flag them,
    never drop them.

    Raises:
        InvalidIdentifier: not even the shape of a credit code (18 characters from the allowed alphabet).
    """
    code = _clean(value)
    if len(code) != 18 or not re.fullmatch(r"[0-9A-HJ-NP-RTUW-Y]{18}", code):
        raise InvalidIdentifier(
            "credit_code",
            f"not a unified social credit code: {len(code)} characters, expected 18 from 0-9 and A-Z without I, O, "
            "S, V, Z",
        )
    return code, uscc.is_valid(code)


def normalise_phone(value: str) -> str:
    digits = value if value.isascii() and value.isdigit() else re.sub(r"\D", "", unicodedata.normalize("NFKC", value))
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


class Protector:
    """Hashes and masks identities with one secret (CASEHUB_HMAC_SECRET)."""

    def __init__(self, secret: str):
        if not secret:
            raise ValueError("an HMAC secret is required to protect identities")
        # keyed once: each hash copies this state instead of hashing the key pads again (a third cheaper).
        # hmac.HMAC wraps OpenSSL's HMAC object; copying that one directly skips a Python-level object per
        # hash (1.2 -> 0.85 us). Both have copy/update/hexdigest; without OpenSSL the wrapper is used.
        keyed = hmac.new(secret.encode("utf-8"), digestmod=hashlib.sha256)
        self._keyed = getattr(keyed, "_hmac", None) or keyed

    def hash(self, kind: str, value: str) -> str:
        # The kind is part of the message so an ID number and a phone number never collide.
        h = self._keyed.copy()
        h.update(f"{kind}:{value}".encode())
        return h.hexdigest()

    def id_number(self, raw: str, field: str = "id_number") -> tuple[str, str, str]:
        """(normalised, hash, masked) of a resident ID number. Raises InvalidIdentifier."""
        number = normalise_id_number(raw, field)
        return number, self.hash("ric", number), mask_id(number)

    def phone(self, raw: str) -> tuple[str, str, str]:
        phone = normalise_phone(raw)
        return phone, self.hash("phone", phone), mask_phone(phone)


def mask_id(number: str) -> str:
    """First 4 and last 4 characters kept: 2101**********123X."""
    if len(number) <= 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def mask_phone(phone: str) -> str:
    """138****5678."""
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]

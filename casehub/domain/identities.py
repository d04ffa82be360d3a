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
from stdnum import numdb
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


_EXCEL_NUMBER = re.compile(r"\d(\.\d+)?E\+?\d+")  # 2.10102E+17: an ID Excel turned into a number


def normalise_id_number(value: str, field: str = "id_number") -> str:
    """The resident ID number in its 18-character form, checked (GB 11643: dates, MOD 11-2 check character).

    15-character numbers from before 1999 are accepted as they are (they have no check character).
    Raises:
        InvalidIdentifier: not a valid resident ID number.
    """
    return check_id_number(value, field)[0]


def check_id_number(value: str, field: str = "id_number") -> tuple[str, bool]:
    """(normalised number, whether its address code is known for the birth year).

    python-stdnum checks the format, the birth date and the ISO 7064 MOD 11-2 check character; a failure
    there rejects the number. Its address-code table (GB/T 2260) also says when each county code came
    into force, but an ID's address code is the one in force where the number was first issued (from
    1984 for most people), not where and when the person was born: 210102198212312932 (Shenyang Heping,
    born 1982) is valid although Heping's code starts in 1983. So an address code unknown for the birth
    year (or missing from the table) is only flagged (`Party.id_address_known = false`); a number whose
    first two digits name no province is rejected.

    Raises:
        InvalidIdentifier: not a valid resident ID number (the reason says which check failed).
    """
    number = _clean(value)
    if len(number) == 15 and number.isdigit():
        try:
            birth = datetime.date(1900 + int(number[6:8]), int(number[8:10]), int(number[10:12]))
        except ValueError as exc:
            raise InvalidIdentifier(field, "15-digit resident ID has an impossible birth date") from exc
        return number, _address_status(field, number[:6], birth.year)
    if len(number) != 18:
        if _EXCEL_NUMBER.fullmatch(number):
            raise InvalidIdentifier(
                field,
                "resident ID was typed as a number (Excel shows it like 2.10102E+17): Excel keeps only 15 digits, so "
                "the last digits are lost; format the column as text and type the number again",
            )
        raise InvalidIdentifier(field, f"not a resident ID number ({len(number)} characters, expected 18 or 15)")
    if not number[:-1].isdigit() or not (number[-1].isdigit() or number[-1] == "X"):
        raise InvalidIdentifier(field, "not a resident ID number (17 digits and a check character 0-9 or X expected)")
    try:
        # what stdnum.cn.ric.get_birth_date does, without its compact() of the number again (2.3 us a row)
        birth = datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError as exc:
        raise InvalidIdentifier(field, "resident ID has an impossible birth date") from exc
    if number[-1] != ric.calc_check_digit(number):
        raise InvalidIdentifier(field, "resident ID check character is wrong (ISO 7064 MOD 11-2)")
    return number, _address_status(field, number[:6], birth.year)


def _address_status(field: str, code: str, year: int) -> bool:
    known = _address_known(code, year)
    if known is None:
        raise InvalidIdentifier(field, "resident ID address code names no province (GB/T 2260)")
    return known


@functools.lru_cache(maxsize=65536)
def _address_known(code: str, year: int) -> bool | None:
    """True: the code is in force in `year`; False: unknown for that year; None: no such province.

    Cached: the lookup in stdnum's table is the slow part, and codes and years repeat across people.
    """
    try:
        ric.get_birth_place(f"{code}{year:04d}0101000")
        return True
    except stdnum_errors.ValidationError:
        pass
    found = numdb.get("cn/loc").info(code)
    return False if any("province" in props for _, props in found) else None


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

    def id_number(self, raw: str, field: str = "id_number") -> tuple[str, str, str, bool]:
        """(normalised, hash, masked, address code known for the birth year) of a resident ID number.

        Raises:
            InvalidIdentifier: the number fails its format, date or check-character rule.
        """
        number, address_known = check_id_number(raw, field)
        return number, self.hash("ric", number), mask_id(number), address_known

    def phone(self, raw: str) -> tuple[str, str, str]:
        phone = normalise_phone(raw)
        return phone, self.hash("phone", phone), mask_phone(phone)


_EARLIEST = datetime.datetime.min.replace(tzinfo=datetime.UTC)


def merge_identity(held: dict | None, new: dict) -> dict:
    """One person's (or organisation's) identity from two IdentityRecords: each field from the more recently
    recorded one, unless it has none there (an agency that keeps no address does not erase another's). Pure; the
    order the records arrive in does not matter, but for two recorded at the very same moment (the later one wins)."""
    if held is None:
        return dict(new)
    newer, older = (
        (new, held) if (new.get("recorded_at") or _EARLIEST) >= (held.get("recorded_at") or _EARLIEST) else (held, new)
    )
    return {**older, **{k: v for k, v in newer.items() if v is not None}}


def identity_key(identity: dict) -> bytes:
    """The key of an IdentityRecord on the restricted identity topic: the person (or organisation) and the source
    system that saw them. The topic is compacted: keyed by the hash alone, a later record from an agency that keeps
    no address would make compaction drop the address another agency recorded."""
    return f"{identity['id_hash']}|{identity['source']['system']}".encode()


_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])[1-9]\d{16}[\dXx](?![0-9A-Za-z])")
_PHONE_IN_TEXT = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def mask_identifiers(text: str | None) -> str | None:
    """Free text (an agreement's terms, a remark) with every resident ID number and mobile number in it masked as a
    party's are: such text travels on shared topics."""
    if not text:
        return text
    text = _ID_IN_TEXT.sub(lambda m: mask_id(m.group()), text)
    return _PHONE_IN_TEXT.sub(lambda m: mask_phone(m.group()), text)


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

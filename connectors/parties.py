"""Parties of a mapping ([[parties]], and those of related tables): their specs made uniform when the file
loads, and compiled into mappers that turn a row into a party (masked, hashed) and its full identity."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from casehub.connectors.base import MappingError
from casehub.connectors.values import DEFAULT_TRUE, RowContext, as_spec, column_of
from casehub.domain.identities import InvalidIdentifier, Protector, credit_code_status

PARTY_ATTRIBUTES = ("role", "party_type", "required")  # keys of a party that are not value specs
FLAGS = (
    "migrant_worker",
    "dispatched_worker",
    "new_employment_form",
)  # yes/no columns: read as bool unless typed otherwise
# Values that only the restricted identity topic carries (the court request path): a person's address goes with
# their resident ID; an organisation's address and legal representative with its credit code
RESTRICTED = ("address", "legal_representative")
PARTY_VALUES = (
    "name",
    "id_number",
    "phone",
    "credit_code",
    "division_code",
    "new_employment_kind",
    *FLAGS,
    *RESTRICTED,
)


def normalise_party(party: dict) -> dict:
    """A party spec in one form, the same for [[parties]] and the parties of a related table: value specs
    as inline tables, flags read as bool (so "0" is False wherever the party is declared)."""
    norm = {k: (v if k in PARTY_ATTRIBUTES else as_spec(v)) for k, v in party.items()}
    for flag in FLAGS:
        if flag in norm:
            norm[flag].setdefault("type", "bool")
            norm[flag]["_true"] = frozenset(str(t) for t in norm[flag].get("true", DEFAULT_TRUE))
    return norm


def compile_party(spec: dict) -> Callable[[RowContext, Protector, dict, dt.datetime], tuple[dict | None, dict | None]]:
    """Turn a party spec into `map(ctx, protector, source, now) -> (party, identity)`; what the spec
    holds (which attributes, their readers and columns) is looked up once here, not for every row."""
    role, party_type, required = spec.get("role", "UNKNOWN"), spec.get("party_type", "UNKNOWN"), spec.get("required")
    label = f"{spec.get('role', 'party')} name"
    read_name = spec["name"]["_read"] if "name" in spec else None
    name_column = column_of(spec["name"]) if "name" in spec else None
    flags = tuple((flag, spec[flag]["_read"]) for flag in FLAGS if flag in spec)
    read_kind = spec["new_employment_kind"]["_read"] if "new_employment_kind" in spec else None
    read_id, id_column = (
        (spec["id_number"]["_read"], column_of(spec["id_number"])) if "id_number" in spec else (None, None)
    )
    read_phone = spec["phone"]["_read"] if "phone" in spec else None
    read_credit, credit_column = (
        (spec["credit_code"]["_read"], column_of(spec["credit_code"])) if "credit_code" in spec else (None, None)
    )
    read_division = spec["division_code"]["_read"] if "division_code" in spec else None
    restricted = tuple((key, spec[key]["_read"]) for key in RESTRICTED if key in spec)

    def map_party(ctx: RowContext, protector: Protector, source: dict, now: dt.datetime):
        name = read_name(ctx, label) if read_name else None
        if not name:
            if required:
                raise MappingError(name_column, f"{label} is required but empty", "MISSING_FIELD")
            return None, None
        party = {"role": role, "party_type": party_type, "name": name}
        for flag, read in flags:
            party[flag] = bool(read(ctx, ""))
        if read_kind:
            party["new_employment_kind"] = read_kind(ctx, "") or "NONE"
        identity = None
        if read_id:
            raw = read_id(ctx, "")
            if raw:
                try:
                    number, id_hash, masked, address_known = protector.id_number(raw, id_column)
                except InvalidIdentifier as exc:
                    raise MappingError(id_column, exc.reason, "INVALID_ID_NUMBER") from exc
                party["id_hash"], party["id_masked"] = id_hash, masked
                # an address code younger than the person is usual (codes are those in force at issue): a flag
                party["id_address_known"] = address_known
                identity = {
                    "id_hash": id_hash,
                    "party_type": party_type,
                    "name": name,
                    "id_number": number,
                    "source": source,
                    "recorded_at": now,
                }
        if read_phone:
            raw = read_phone(ctx, "")
            if raw:
                phone, phone_hash, phone_masked = protector.phone(raw)
                party["phone_hash"], party["phone_masked"] = phone_hash, phone_masked
                if identity:
                    identity["phone_hash"], identity["phone"] = phone_hash, phone
        if read_credit:
            raw = read_credit(ctx, "")
            if raw:
                try:
                    code, valid = credit_code_status(raw)
                except InvalidIdentifier as exc:
                    raise MappingError(credit_column, exc.reason, "INVALID_CREDIT_CODE") from exc
                party["credit_code"], party["credit_code_valid"], party["division_code"] = code, valid, code[2:8]
        if read_division:
            party["division_code"] = read_division(ctx, "") or party.get("division_code")
        if restricted:
            extra = {key: value for key, read in restricted if (value := read(ctx, ""))}
            if identity:  # a person's, keyed by the hash of the resident ID
                identity.update(extra)
            elif extra and party.get("credit_code"):  # an organisation's, keyed by the hash of its credit code
                identity = {
                    "id_hash": protector.hash("uscc", party["credit_code"]),
                    "party_type": party_type,
                    "name": name,
                    "credit_code": party["credit_code"],
                    "source": source,
                    "recorded_at": now,
                    **extra,
                }
        return party, identity

    return map_party

"""Reference adapter for a mediation platform whose tables use pinyin abbreviations (e.g. tj_ajxx, 调解案件信息).

Columns (as the vendor named them): ajid id, ajbh case number, zt status code, sqr_* applicant (worker),
bsqr_* respondent (employer), tjzz_* mediation organisation, qqlx/qqje claim type and amount (yuan),
xy* agreement, nmg migrant-worker flag, gxsj last-update time (local time string, Asia/Shanghai).
"""

from __future__ import annotations

import datetime as dt
import decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from connectors.base import Mapped, MappingError, event_id
from connectors.privacy import InvalidIdentifier, Protector, credit_code_status
from streams.cases import normalise_number

SHANGHAI = ZoneInfo("Asia/Shanghai")

STATUS = {
    "10": "APPLIED", "20": "ACCEPTED", "21": "REFUSED", "30": "SESSION_HELD", "40": "AGREEMENT_SIGNED",
    "50": "FAILED", "60": "WITHDRAWN", "70": "AGREEMENT_PERFORMED", "80": "AGREEMENT_DEFAULTED", "90": "REFERRED_TO_ARBITRATION",
}
ORG_KIND = {"01": "ENTERPRISE_COMMITTEE", "02": "TOWNSHIP_STREET", "03": "INDUSTRY", "04": "REGIONAL", "05": "PRE_ARBITRATION", "06": "PEOPLES_MEDIATION"}
CLAIM_TYPE = {"GZ": "WAGES", "JB": "OVERTIME", "JJBC": "ECONOMIC_COMPENSATION", "PC": "DAMAGES", "GS": "WORK_INJURY_MEDICAL", "SB": "SOCIAL_INSURANCE", "QT": "OTHER"}

metadata = sa.MetaData()
tj_ajxx = sa.Table(
    "tj_ajxx", metadata,
    sa.Column("ajid", sa.Integer, primary_key=True),
    sa.Column("ajbh", sa.String(64), nullable=False),
    sa.Column("zt", sa.String(4), nullable=False),
    sa.Column("sqr_xm", sa.String(64)),
    sa.Column("sqr_sfzh", sa.String(32)),
    sa.Column("sqr_sjh", sa.String(32)),
    sa.Column("bsqr_mc", sa.String(128)),
    sa.Column("bsqr_xydm", sa.String(32)),
    sa.Column("tjzz_mc", sa.String(128)),
    sa.Column("tjzz_lx", sa.String(4)),
    sa.Column("xzqh", sa.String(6)),
    sa.Column("qqlx", sa.String(8)),
    sa.Column("qqje", sa.String(32)),
    sa.Column("xyje", sa.String(32)),
    sa.Column("xysxrq", sa.String(10)),
    sa.Column("sfsqsfqr", sa.String(1)),
    sa.Column("nmg", sa.String(1)),
    sa.Column("sqsj", sa.String(19)),
    sa.Column("gxsj", sa.String(19), nullable=False),
    sa.Column("bz", sa.Text),  # free-text remarks (备注)
)


def parse_local(value: str | None, field: str) -> dt.datetime:
    if not value:
        raise MappingError(field, "time is missing", "MISSING_FIELD")
    try:
        return dt.datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI).astimezone(dt.timezone.utc)
    except ValueError as exc:
        raise MappingError(field, f"unparseable time {value!r} (expected YYYY-MM-DD HH:MM:SS, local time)", "BAD_DATE") from exc


def yuan_to_fen(value: str | None, field: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int((decimal.Decimal(value.strip().replace(",", "")) * 100).quantize(decimal.Decimal(1)))
    except decimal.InvalidOperation as exc:
        raise MappingError(field, f"not an amount in yuan: {value!r}", "OTHER") from exc


class MediationPlatformAdapter:
    """Maps tj_ajxx rows to MediationEvent records; the cursor is gxsj (then ajid), the version of a row is its gxsj."""

    agency = "MEDIATION"

    def __init__(self, protector: Protector, system: str = "ln-mediation-platform", name: str = "mediation"):
        self.protector, self.system, self.name = protector, system, name

    table = tj_ajxx
    pk = "ajid"
    cursor = "gxsj"

    def window_start(self, watermark: str, lag_seconds: float) -> str:
        """gxsj is a sortable local-time string: step back `lag_seconds` in the same format."""
        start = dt.datetime.strptime(watermark, "%Y-%m-%d %H:%M:%S") - dt.timedelta(seconds=lag_seconds)
        return start.strftime("%Y-%m-%d %H:%M:%S")

    def describe(self, row: dict) -> str:
        """A readable form of the row for dead letters, with identities masked."""
        safe = {k: v for k, v in row.items() if k not in ("sqr_sfzh", "sqr_sjh")}
        return repr(safe)

    def map_row(self, row: dict, ingested_at: dt.datetime) -> Mapped:
        code = (row.get("zt") or "").strip()
        if code not in STATUS:
            raise MappingError("zt", f"unknown status code {code!r} (known: {', '.join(sorted(STATUS))})", "UNKNOWN_CODE")
        if not row.get("ajbh"):
            raise MappingError("ajbh", "case number is missing", "MISSING_FIELD")
        occurred = parse_local(row.get("gxsj"), "gxsj")
        version = row["gxsj"]
        source = {"system": self.system, "agency_kind": "MEDIATION", "record_id": str(row["ajid"]), "record_version": version}
        identities = []
        worker = {"role": "WORKER", "party_type": "PERSON", "name": (row.get("sqr_xm") or "").strip(), "migrant_worker": row.get("nmg") == "1"}
        if not worker["name"]:
            raise MappingError("sqr_xm", "applicant name is missing", "MISSING_FIELD")
        if row.get("sqr_sfzh"):
            try:
                number, id_hash, masked = self.protector.id_number(row["sqr_sfzh"], "sqr_sfzh")
            except InvalidIdentifier as exc:
                raise MappingError(exc.field, exc.reason, "INVALID_ID_NUMBER") from exc
            worker.update(id_hash=id_hash, id_masked=masked)
            ident = {"id_hash": id_hash, "party_type": "PERSON", "name": worker["name"], "id_number": number, "source": source, "recorded_at": ingested_at}
            if row.get("sqr_sjh"):
                phone, phone_hash, phone_masked = self.protector.phone(row["sqr_sjh"])
                worker.update(phone_hash=phone_hash, phone_masked=phone_masked)
                ident.update(phone_hash=phone_hash, phone=phone)
            identities.append(ident)
        employer = {"role": "EMPLOYER", "party_type": "ORGANISATION", "name": (row.get("bsqr_mc") or "").strip() or "(unknown employer)"}
        if row.get("bsqr_xydm"):
            try:
                code_norm, valid = credit_code_status(row["bsqr_xydm"])
            except InvalidIdentifier as exc:
                raise MappingError("bsqr_xydm", exc.reason, "INVALID_CREDIT_CODE") from exc
            employer.update(credit_code=code_norm, credit_code_valid=valid, division_code=code_norm[2:8])
        claims = []
        if row.get("qqlx"):
            fen = yuan_to_fen(row.get("qqje"), "qqje")
            claims.append({"type": CLAIM_TYPE.get(row["qqlx"], "OTHER"), "amount": {"amount_fen": fen, "currency": "CNY"} if fen is not None else None, "description": None})
        agreement = None
        if STATUS[code] == "AGREEMENT_SIGNED":
            fen = yuan_to_fen(row.get("xyje"), "xyje")
            try:
                effective = dt.date.fromisoformat(row["xysxrq"]) if row.get("xysxrq") else None
            except ValueError as exc:
                raise MappingError("xysxrq", f"unparseable date {row['xysxrq']!r} (expected YYYY-MM-DD)", "BAD_DATE") from exc
            consent = row.get("sfsqsfqr") == "Y"
            agreement = {
                "number": row["ajbh"], "agreement_kind": "MEDIATION_AGREEMENT", "signed_at": occurred, "effective_date": effective,
                "terms": None, "amount": {"amount_fen": fen, "currency": "CNY"} if fen is not None else None, "performance_due": None,
                "claim_types": [c["type"] for c in claims], "confirmation_consent_worker": consent, "confirmation_consent_employer": consent, "court_invited": None,
            }
        org_kind = ORG_KIND.get(row.get("tjzz_lx") or "", "OTHER")
        event = {
            "event_id": event_id(self.system, str(row["ajid"]), version),
            "event_type": STATUS[code],
            "source": source,
            "occurred_at": occurred,
            "ingested_at": ingested_at,
            "refs": [{"kind": "MEDIATION", "system": self.system, "number": row["ajbh"], "normalised": normalise_number(row["ajbh"])}],
            "parties": [worker, employer],
            "claims": claims,
            "documents": [],
            "group_dispute": False,
            "worker_count": None,
            "organisation": {"name": row.get("tjzz_mc") or "(unknown organisation)", "kind": org_kind, "division_code": row.get("xzqh"), "lawfully_established": True},
            "mediator": None,
            "agreement": agreement,
            "session_at": occurred if STATUS[code] == "SESSION_HELD" else None,
            "reason": None,
            "received_at": parse_local(row["sqsj"], "sqsj") if row.get("sqsj") else None,
        }
        return Mapped(event=event, identities=identities)

"""mediation.db: the pinyin-named mediation platform (tj_ajxx, latest state per case) plus its status history
tj_ajzt_ls."""

from __future__ import annotations

import datetime as dt
import hashlib

import sqlalchemy as sa

from casehub.connectors.adapters import mediation as platform
from casehub.connectors.adapters.mediation import CLAIM_TYPE, ORG_KIND, STATUS  # noqa: F401  (code tables, re-exported)

SYSTEM = "mediation"
metadata = sa.MetaData()
# The very table the adapter reads, copied into this module's MetaData so creating history does not touch the adapter's.
tj_ajxx = platform.tj_ajxx.to_metadata(metadata)
# 状态变更历史: one row per status change; bgsj = 变更时间, local time 'YYYY-MM-DD HH:MM:SS'.
tj_ajzt_ls = sa.Table(
    "tj_ajzt_ls",
    metadata,
    sa.Column("ajid", sa.Integer, primary_key=True),
    sa.Column("xh", sa.Integer, primary_key=True),
    sa.Column("zt", sa.String(4), nullable=False),
    sa.Column("bgsj", sa.String(19), nullable=False),
)
MAIN = tj_ajxx
CLAIM_CODE = {name: code for code, name in CLAIM_TYPE.items()}
AGREED = {"40", "70", "80"}


CLAIM_CN = {"WAGES": "拖欠工资", "OVERTIME": "加班费", "ECONOMIC_COMPENSATION": "经济补偿", "DAMAGES": "赔偿金"}
CLAIM_CN |= {"WORK_INJURY_MEDICAL": "工伤医疗费", "SOCIAL_INSURANCE": "社会保险费", "OTHER": "其他款项"}


def agreement_text(number: str, employer: str, claim: str, fen: int | None, due) -> str:
    """The terms the clerk typed (协议内容)."""
    what = CLAIM_CN.get(claim, "款项")
    return f"{employer}于{due:%Y年%m月%d日}前一次性向申请人支付{what}人民币{yuan(fen)}元（{number}）。"


def document_of(ajid: int, terms: str) -> tuple[str, str]:
    """Where the platform keeps the signed agreement (a scanned PDF) and its SHA-256: a function of the terms."""
    return f"file:///data/tiaojie/xys/{ajid}.pdf", hashlib.sha256(f"调解协议书 {terms}".encode()).hexdigest()


def local(ts) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S")


def yuan(fen: int | None) -> str | None:
    return None if fen is None else f"{fen // 100}.{fen % 100:02d}"


def rows(cases) -> tuple[dict[str, list[dict]], list[tuple[str, str]]]:
    """Rows per table, and (case_key, record_id) for every tj_ajxx row."""
    main, history, owners, seen = [], [], [], {}
    for case in cases:
        for p in case.of("mediation"):
            if p.uid in seen:  # one record in several cases
                owners.append((case.key, seen[p.uid]))
                continue
            ajid = len(main) + 1
            seen[p.uid] = str(ajid)
            worker, last = p.workers[0], p.last.status
            terms = None
            if last in AGREED:
                due = p.agreed_on + dt.timedelta(days=15)
                terms = agreement_text(p.number, case.employer.name, case.claim_type, p.amount_fen, due)
            uri, digest = document_of(ajid, terms) if terms else (None, None)
            main.append(
                {
                    "ajid": ajid,
                    "ajbh": p.number,
                    "zt": last,
                    "sqr_xm": worker.name,
                    "sqr_sfzh": worker.id_number,
                    "sqr_sjh": worker.phone,
                    "sqr_zz": worker.address,
                    "bsqr_mc": case.employer.name,
                    "bsqr_xydm": case.employer.credit_code,
                    "bsqr_zs": case.employer.address,
                    "bsqr_fddbr": case.employer.legal_representative,
                    "tjzz_mc": p.org_name,
                    "tjzz_lx": p.kind,
                    "xzqh": case.division,
                    "qqlx": CLAIM_CODE[case.claim_type],
                    "qqje": yuan(case.claim_fen),
                    "xyje": yuan(p.amount_fen) if last in AGREED else None,
                    "xysxrq": p.agreed_on.isoformat() if last in AGREED else None,
                    "sfsqsfqr": ("Y" if p.confirm_consent else "N") if last in AGREED else None,
                    "xynr": terms,
                    "xywj_dz": uri,
                    "xywj_hash": digest,
                    "wpfy": None,
                    "nmg": "1" if case.migrant else "0",
                    "sqsj": local(p.steps[0].at),
                    "gxsj": local(p.last.at),
                    "bz": p.remark,
                }
            )
            history += [{"ajid": ajid, "xh": i, "zt": s.status, "bgsj": local(s.at)} for i, s in enumerate(p.steps, 1)]
            owners.append((case.key, str(ajid)))
    return {"tj_ajxx": main, "tj_ajzt_ls": history}, owners

"""court.db: an upper-case court case system whose name columns hold GBK-encoded bytes (connectors must decode GBK)."""

from __future__ import annotations

import sqlalchemy as sa

SYSTEM = "court"
STATUS = {  # AJZT
    "LA": "FILED",
    "SL": "IN_TRIAL",
    "CP": "JUDGMENT",
    "TJ": "SETTLED_BY_COURT_MEDIATION",
    "CS": "WITHDRAWN",
    "YX": "AGREEMENT_RULED_VALID",
    "BH": "APPLICATION_REJECTED",
    "ZF": "PAYMENT_ORDER_ISSUED",
}
CASE_TYPE = {"MC": "民初", "MT": "民特", "MD": "民督"}  # AJLX -> the type code inside AH
CAUSE = {"民初": "劳动争议", "民特": "申请确认调解协议", "民督": "申请支付令"}  # AY (案由)
TYPE_CODE = {v: k for k, v in CASE_TYPE.items()}
CLOSING = {"CP", "TJ", "CS", "YX", "BH", "ZF"}

metadata = sa.MetaData()
# Dates: LARQ/JARQ/SQRQ 'YYYYMMDD'; XGSJ/BGSJ 'YYYYMMDDHHMMSS', local time (Asia/Shanghai). Cursor: XGSJ, then AJID.
AJ_JBXX = sa.Table(  # 案件基本信息
    "AJ_JBXX",
    metadata,
    sa.Column("AJID", sa.Integer, primary_key=True),
    sa.Column("AH", sa.String(64), nullable=False),  # 案号 （2024）辽0102民初123号
    sa.Column("AJLX", sa.String(2), nullable=False),
    sa.Column("FYDM", sa.String(6), nullable=False),  # court's division code
    sa.Column("FYMC", sa.LargeBinary, nullable=False),  # 法院名称, GBK bytes
    sa.Column("AY", sa.LargeBinary),  # 案由, GBK bytes
    sa.Column("YG_MC", sa.LargeBinary),  # 原告/申请人 (the worker), GBK bytes
    sa.Column("YG_ZJHM", sa.String(32)),  # resident ID number
    sa.Column("YG_LXDH", sa.String(32)),
    sa.Column("BG_MC", sa.LargeBinary),  # 被告/被申请人 (the employer), GBK bytes
    sa.Column("BG_TYSHXYDM", sa.String(32)),  # unified social credit code
    sa.Column("TJZZ_MC", sa.LargeBinary),  # 民特/民督: mediation organisation, GBK bytes
    sa.Column("BDJE", sa.String(32)),  # 标的金额, yuan with 2 decimals
    sa.Column("PJJE", sa.String(32)),  # amount judged / confirmed / ordered, yuan
    sa.Column("ARB_NO", sa.String(64)),  # 民初: the arbitration case number the lawsuit follows
    sa.Column("TJXY_BH", sa.String(64)),  # 民特/民督: mediation agreement number (= mediation case number)
    sa.Column("SQRQ", sa.String(8)),  # 申请/起诉日期
    sa.Column("LARQ", sa.String(8), nullable=False),  # 立案日期
    sa.Column("JARQ", sa.String(8)),  # 结案日期
    sa.Column("AJZT", sa.String(2), nullable=False),
    sa.Column("XGSJ", sa.String(14), nullable=False),
    sa.Index("IDX_AJ_JBXX_XGSJ", "XGSJ", "AJID"),
)
AJ_LCJL = sa.Table(  # 流程记录: one row per status change
    "AJ_LCJL",
    metadata,
    sa.Column("JLID", sa.Integer, primary_key=True),
    sa.Column("AJID", sa.Integer, nullable=False, index=True),
    sa.Column("AJZT", sa.String(2), nullable=False),
    sa.Column("BGSJ", sa.String(14), nullable=False),
)
MAIN = AJ_JBXX


def gbk(text: str | None) -> bytes | None:
    return None if text is None else text.encode("gbk")


def yuan(fen: int | None) -> str | None:
    return None if fen is None else f"{fen // 100}.{fen % 100:02d}"


def rows(cases) -> tuple[dict[str, list[dict]], list[tuple[str, str]]]:
    main, history, owners, seen = [], [], [], {}
    for case in cases:
        mediation_orgs = {m.number: m.org_name for m in case.of("mediation")}
        for p in case.of("court"):
            if p.uid in seen:
                owners.append((case.key, seen[p.uid]))
                continue
            ajid = len(main) + 1
            seen[p.uid] = str(ajid)
            worker, last = p.workers[0], p.last.status
            refs = {r.agency: r for r in p.refs}
            agreement = refs.get("mediation")
            main.append(
                {
                    "AJID": ajid,
                    "AH": p.number,
                    "AJLX": TYPE_CODE[p.kind],
                    "FYDM": case.division,
                    "FYMC": gbk(p.org_name),
                    "AY": gbk(CAUSE[p.kind]),
                    "YG_MC": gbk(worker.name),
                    "YG_ZJHM": worker.id_number,
                    "YG_LXDH": worker.phone,
                    "BG_MC": gbk(case.employer.name),
                    "BG_TYSHXYDM": case.employer.credit_code,
                    "TJZZ_MC": gbk(mediation_orgs[agreement.canonical]) if agreement else None,
                    "BDJE": yuan(case.claim_fen),
                    "PJJE": yuan(p.amount_fen),
                    "ARB_NO": refs["arbitration"].number if "arbitration" in refs else None,
                    "TJXY_BH": agreement.number if agreement else None,
                    "SQRQ": p.applied_on.strftime("%Y%m%d"),
                    "LARQ": p.steps[0].at.strftime("%Y%m%d"),
                    "JARQ": p.last.at.strftime("%Y%m%d") if last in CLOSING else None,
                    "AJZT": last,
                    "XGSJ": p.last.at.strftime("%Y%m%d%H%M%S"),
                }
            )
            history += [
                {"JLID": len(history) + i, "AJID": ajid, "AJZT": s.status, "BGSJ": s.at.strftime("%Y%m%d%H%M%S")}
                for i, s in enumerate(p.steps, 1)
            ]
            owners.append((case.key, str(ajid)))
    return {"AJ_JBXX": main, "AJ_LCJL": history}, owners

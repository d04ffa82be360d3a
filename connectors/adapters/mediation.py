"""The mediation platform vendor's table (tj_ajxx, 调解案件信息, pinyin abbreviations), as the sample generator
and tests create it.

The connector does not use this module: it reflects the table and maps it with connectors/mappings/mediation.toml.

Columns (as the vendor named them): ajid id, ajbh case number, zt status code, sqr_* applicant (worker; sqr_zz
address), bsqr_* respondent (employer; bsqr_zs address, bsqr_fddbr legal representative), tjzz_* mediation
organisation, qqlx/qqje claim type and amount (yuan), xy* agreement (xynr terms, xywj_* the signed document and its
SHA-256), sfsqsfqr joint request for judicial confirmation, wpfy delegating court, nmg migrant-worker flag, gxsj
last-update time (local time string, Asia/Shanghai).
"""

from __future__ import annotations

import sqlalchemy as sa

STATUS = {
    "10": "APPLIED",
    "20": "ACCEPTED",
    "21": "REFUSED",
    "30": "SESSION_HELD",
    "40": "AGREEMENT_SIGNED",
    "50": "FAILED",
    "60": "WITHDRAWN",
    "70": "AGREEMENT_PERFORMED",
    "80": "AGREEMENT_DEFAULTED",
    "90": "REFERRED_TO_ARBITRATION",
}
ORG_KIND = {
    "01": "ENTERPRISE_COMMITTEE",
    "02": "TOWNSHIP_STREET",
    "03": "INDUSTRY",
    "04": "REGIONAL",
    "05": "PRE_ARBITRATION",
    "06": "PEOPLES_MEDIATION",
}
CLAIM_TYPE = {
    "GZ": "WAGES",
    "JB": "OVERTIME",
    "JJBC": "ECONOMIC_COMPENSATION",
    "PC": "DAMAGES",
    "GS": "WORK_INJURY_MEDICAL",
    "SB": "SOCIAL_INSURANCE",
    "QT": "OTHER",
}

metadata = sa.MetaData()
tj_ajxx = sa.Table(
    "tj_ajxx",
    metadata,
    sa.Column("ajid", sa.Integer, primary_key=True),
    sa.Column("ajbh", sa.String(64), nullable=False),
    sa.Column("zt", sa.String(4), nullable=False),
    sa.Column("sqr_xm", sa.String(64)),
    sa.Column("sqr_sfzh", sa.String(32)),
    sa.Column("sqr_sjh", sa.String(32)),
    sa.Column("sqr_zz", sa.String(256)),  # 住址: the applicant's address (for service)
    sa.Column("bsqr_mc", sa.String(128)),
    sa.Column("bsqr_xydm", sa.String(32)),
    sa.Column("bsqr_zs", sa.String(256)),  # 住所: the respondent's registered address
    sa.Column("bsqr_fddbr", sa.String(64)),  # 法定代表人: its legal representative
    sa.Column("tjzz_mc", sa.String(128)),
    sa.Column("tjzz_lx", sa.String(4)),
    sa.Column("xzqh", sa.String(6)),
    sa.Column("qqlx", sa.String(8)),
    sa.Column("qqje", sa.String(32)),
    sa.Column("xyje", sa.String(32)),
    sa.Column("xysxrq", sa.String(10)),
    sa.Column("sfsqsfqr", sa.String(1)),
    sa.Column("xynr", sa.Text),  # 协议内容: the agreement's terms
    sa.Column("xywj_dz", sa.String(256)),  # 协议书: where the signed agreement document is kept
    sa.Column("xywj_hash", sa.String(64)),  # its SHA-256 (hex)
    sa.Column("wpfy", sa.String(16)),  # 委派法院: the court that delegated the mediation, if one did
    sa.Column("nmg", sa.String(1)),
    sa.Column("sqsj", sa.String(19)),
    sa.Column("gxsj", sa.String(19), nullable=False),
    sa.Column("bz", sa.Text),  # free-text remarks (备注)
    sa.Index("idx_tj_ajxx_gxsj", "gxsj", "ajid"),  # the connector reads in (gxsj, ajid) order
)
